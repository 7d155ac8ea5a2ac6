"""A durable local queue with Pub/Sub push-subscription semantics, on SQLite.

Publishing copies the message to every subscription of its topic. Each copy is delivered at
least once: it is leased while a handler runs (the ack deadline, extended while the handler
lives), redelivered after a nack with exponential backoff, and dead-lettered with its last
error after `max_attempts` deliveries (or when the handler gives up on it). Dead letters are
rows with `dead_at` set; they stay until replayed.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from svp.adapters.sqlite_db import SqliteFile

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id TEXT NOT NULL,
      topic TEXT NOT NULL,
      subscription TEXT NOT NULL,
      data BLOB NOT NULL,
      attributes TEXT NOT NULL,
      publish_time TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at REAL NOT NULL DEFAULT 0,
      lease_until REAL NOT NULL DEFAULT 0,
      last_error TEXT,
      dead_at TEXT
    )""",
)
_COLUMNS = (
    "id, message_id, topic, subscription, data, attributes, publish_time, attempts, last_error"
)


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    message_id: str
    topic: str
    subscription: str
    data: bytes
    attributes: dict[str, str]
    publish_time: str
    attempts: int
    last_error: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple, delivered: int = 0) -> QueuedMessage:
        """From a row of _COLUMNS; `delivered` counts a delivery the row does not show yet."""
        fields = list(row)
        fields[5] = json.loads(fields[5])  # attributes
        fields[7] += delivered  # attempts
        return cls(*fields)

    def push_envelope(self) -> dict:
        """The JSON body Pub/Sub POSTs to a push endpoint with a dead-letter policy set."""
        return {
            "message": {
                "data": base64.b64encode(self.data).decode(),
                "attributes": self.attributes,
                "messageId": self.message_id,
                "publishTime": self.publish_time,
            },
            "subscription": f"projects/local/subscriptions/{self.subscription}",
            "deliveryAttempt": self.attempts,
        }


def _migrate(db: SqliteFile) -> None:
    """Queues made before dead letters were rows of `messages` kept them in a table of their
    own: move them over."""
    with db.write() as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
        if "dead_at" not in columns:
            conn.execute("ALTER TABLE messages ADD COLUMN dead_at TEXT")
        old = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dead_letters'"
        ).fetchone()
        if old:
            conn.execute(
                "INSERT INTO messages (message_id, topic, subscription, data, attributes,"
                " publish_time, attempts, last_error, dead_at) SELECT message_id, topic,"
                " subscription, data, attributes, publish_time, attempts, last_error, dead_at"
                " FROM dead_letters"
            )
            conn.execute("DROP TABLE dead_letters")
        conn.execute(
            "CREATE INDEX IF NOT EXISTS messages_due"
            " ON messages (dead_at, next_attempt_at, lease_until)"
        )


def backoff_seconds(attempts: int, minimum: float, maximum: float) -> float:
    return min(maximum, minimum * 2 ** max(0, attempts - 1))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class LocalQueue:
    def __init__(
        self,
        path: Path,
        subscriptions: Mapping[str, Sequence[str]],
        *,
        max_attempts: int = 5,
        retry_min_seconds: float = 10.0,
        retry_max_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ):
        self.db = SqliteFile(path, _SCHEMA)
        _migrate(self.db)
        self.subscriptions = {topic: tuple(subs) for topic, subs in subscriptions.items()}
        self.max_attempts = max_attempts
        self.retry_min_seconds = retry_min_seconds
        self.retry_max_seconds = retry_max_seconds
        self.clock = clock

    # -- Bus ---------------------------------------------------------------------------------
    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        if topic not in self.subscriptions:
            raise ValueError(f"unknown topic {topic!r}; known: {', '.join(self.subscriptions)}")
        message_id = uuid.uuid4().hex
        with self.db.write() as conn:
            for subscription in self.subscriptions[topic]:
                self._insert(conn, message_id, topic, subscription, data, attributes)
        return message_id

    @staticmethod
    def _insert(conn, message_id, topic, subscription, data, attributes) -> None:
        conn.execute(
            "INSERT INTO messages (message_id, topic, subscription, data, attributes,"
            " publish_time) VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, topic, subscription, data, json.dumps(dict(attributes)), _now_iso()),
        )

    # -- delivery (svp.ports.PushQueue) ------------------------------------------------------
    def lease(self, limit: int, lease_seconds: float) -> list[QueuedMessage]:
        """Take up to `limit` due messages, counting this as a delivery attempt."""
        now = self.clock()
        with self.db.write() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE dead_at IS NULL"
                " AND next_attempt_at <= ? AND lease_until <= ? ORDER BY id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE messages SET attempts = attempts + 1, lease_until = ? WHERE id = ?",
                [(now + lease_seconds, row[0]) for row in rows],
            )
        return [QueuedMessage.from_row(row, delivered=1) for row in rows]

    def extend(self, messages: Sequence[QueuedMessage], lease_seconds: float) -> None:
        """Keep in-flight messages leased (Pub/Sub's modifyAckDeadline): a delivery whose
        process died is redelivered once its lease runs out, a live one is not."""
        if not messages:
            return
        until = self.clock() + lease_seconds
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND dead_at IS NULL",
                [(until, m.id) for m in messages],
            )

    def ack(self, message: QueuedMessage) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM messages WHERE id = ? AND dead_at IS NULL", (message.id,))

    def nack(self, message: QueuedMessage, error: str) -> bool:
        """Schedule a redelivery, or dead-letter after max attempts. True when dead-lettered."""
        if message.attempts >= self.max_attempts:
            self.dead_letter(message, error)
            return True
        delay = backoff_seconds(message.attempts, self.retry_min_seconds, self.retry_max_seconds)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE messages SET next_attempt_at = ?, lease_until = 0, last_error = ?"
                " WHERE id = ? AND dead_at IS NULL",
                (self.clock() + delay, error, message.id),
            )
        return False

    def dead_letter(self, message: QueuedMessage, error: str) -> None:
        """Keep a delivered message as a dead letter, with its last error."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE messages SET dead_at = ?, last_error = ?, attempts = ?, lease_until = 0"
                " WHERE id = ?",
                (_now_iso(), error, message.attempts, message.id),
            )

    def next_due_in(self) -> float | None:
        """Seconds until the next message is due (0 if one is due now), None when empty."""
        row = (
            self.db.conn()
            .execute(
                "SELECT MIN(MAX(next_attempt_at, lease_until)) FROM messages WHERE dead_at IS NULL"
            )
            .fetchone()
        )
        return None if row[0] is None else max(0.0, row[0] - self.clock())

    def waiting(self) -> int:
        """Messages not yet delivered for good (dead letters aside)."""
        query = "SELECT COUNT(*) FROM messages WHERE dead_at IS NULL"
        return self.db.conn().execute(query).fetchone()[0]

    # -- dead letters ------------------------------------------------------------------------
    def dead_letters(self, subscription: str | None = None) -> list[QueuedMessage]:
        sql = f"SELECT {_COLUMNS} FROM messages WHERE dead_at IS NOT NULL"
        params: tuple = ()
        if subscription:
            sql += " AND subscription = ?"
            params = (subscription,)
        rows = self.db.conn().execute(sql + " ORDER BY id", params).fetchall()
        return [QueuedMessage.from_row(row) for row in rows]

    def requeue_dead_letter(
        self, dead: QueuedMessage, data: bytes, attributes: Mapping[str, str]
    ) -> str:
        """Move a dead letter back to its subscription (only) as a new message."""
        message_id = uuid.uuid4().hex
        with self.db.write() as conn:
            self._insert(conn, message_id, dead.topic, dead.subscription, data, attributes)
            conn.execute("DELETE FROM messages WHERE id = ?", (dead.id,))
        return message_id
