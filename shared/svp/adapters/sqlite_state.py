"""StateStore on SQLite: JSON documents keyed by (collection, key), one file under SVP_DATA_DIR."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svp.adapters.sqlite_db import SqliteFile
from svp.ports import Doc, Mutation, T

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (collection, key)
)
"""


class SqliteStateStore:
    def __init__(self, path: Path):
        self.db = SqliteFile(path, (_SCHEMA,))

    def create(self, collection: str, key: str, doc: Doc) -> bool:
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?)",
                (collection, key, json.dumps(doc), doc.get("updated_at", "")),
            )
            return cursor.rowcount == 1

    def get(self, collection: str, key: str) -> Doc | None:
        row = (
            self.db.conn()
            .execute(
                "SELECT body FROM documents WHERE collection = ? AND key = ?", (collection, key)
            )
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def put(self, collection: str, key: str, doc: Doc) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)",
                (collection, key, json.dumps(doc), doc.get("updated_at", "")),
            )

    def delete(self, collection: str, key: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM documents WHERE collection = ? AND key = ?", (collection, key)
            )

    def update(self, collection: str, key: str, mutation: Mutation[T]) -> T:
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT body FROM documents WHERE collection = ? AND key = ?", (collection, key)
            ).fetchone()
            new_doc, value = mutation(json.loads(row[0]) if row else None)
            if new_doc is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)",
                    (collection, key, json.dumps(new_doc), new_doc.get("updated_at", "")),
                )
            return value

    def list(
        self, collection: str, *, where: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[Doc]:
        sql = "SELECT body FROM documents WHERE collection = ?"
        params: list[Any] = [collection]
        for field, value in (where or {}).items():
            if not field.isidentifier():
                raise ValueError(f"invalid field name {field!r}")
            sql += f" AND json_extract(body, '$.{field}') IS ?"
            params.append(value if not isinstance(value, bool) else int(value))
        sql += " ORDER BY updated_at DESC, key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [json.loads(row[0]) for row in self.db.conn().execute(sql, params)]
