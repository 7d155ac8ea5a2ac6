"""StateStore on SQLite: JSON documents keyed by (collection, key), one file under SVP_DATA_DIR."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svp.adapters.sqlite_db import SqliteFile
from svp.ports import Doc, Mutation, Span, T

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (collection, key)
)
"""
# The reconciler's query (jobs due for a look, oldest first) and the sweep's (claims due,
# svp.stages.late_pages) read only what is due.
_DUE_INDEX = """
CREATE INDEX IF NOT EXISTS documents_check_at
ON documents (collection, json_extract(body, '$.check_at'))
"""
_SWEEP_INDEX = """
CREATE INDEX IF NOT EXISTS documents_sweep_at
ON documents (collection, json_extract(body, '$.sweep_at'))
"""


class SqliteStateStore:
    def __init__(self, path: Path):
        self.db = SqliteFile(path, (_SCHEMA, _DUE_INDEX, _SWEEP_INDEX))

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
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        span: Span | None = None,
    ) -> list[Doc]:
        sql = "SELECT body FROM documents WHERE collection = ?"
        params: list[Any] = [collection]
        for field, value in (where or {}).items():
            sql += f" AND json_extract(body, '$.{_field(field)}') IS ?"
            params.append(value if not isinstance(value, bool) else int(value))
        if span is None:
            sql += " ORDER BY updated_at DESC, key"
        else:
            value = f"json_extract(body, '$.{_field(span.field)}')"
            sql += f" AND json_type(body, '$.{span.field}') IN ('integer', 'real')"
            for bound, op in ((span.low, ">="), (span.high, "<=")):
                if bound is not None:
                    sql += f" AND {value} {op} ?"
                    params.append(bound)
            sql += f" ORDER BY {value}, key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [json.loads(row[0]) for row in self.db.conn().execute(sql, params)]


def _field(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"invalid field name {name!r}")
    return name
