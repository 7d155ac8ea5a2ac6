"""A durable local queue with Pub/Sub push-subscription semantics, on SQLite.

Publishing copies the message to every subscription of its topic. Each copy is delivered at
least once: it is leased while a handler runs (the ack deadline), redelivered after a nack with
exponential backoff, and moved to the dead-letter table with its last error after
`max_attempts` deliveries. Dead letters stay until replayed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from svp.adapters.sqlite_db import connect, write_transaction

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
      last_error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS messages_due ON messages (next_attempt_at, lease_until)",
    """CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id TEXT NOT NULL,
      topic TEXT NOT NULL,
      subscription TEXT NOT NULL,
      data BLOB NOT NULL,
      attributes TEXT NOT NULL,
      publish_time TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      last_error TEXT,
      dead_at TEXT NOT NULL
    )""",
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

    def push_envelope(self) -> dict:
        """The JSON body Pub/Sub POSTs to a push endpoint with a dead-letter policy set."""
        import base64

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


def backoff_seconds(attempts: int, minimum: float, maximum: float) -> float:
    return min(maximum, minimum * 2 ** max(0, attempts - 1))


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
        self.path = path
        self.subscriptions = {topic: tuple(subs) for topic, subs in subscriptions.items()}
        self.max_attempts = max_attempts
        self.retry_min_seconds = retry_min_seconds
        self.retry_max_seconds = retry_max_seconds
        self.clock = clock
        self._local = threading.local()
        with write_transaction(self._conn()) as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    # -- Bus ---------------------------------------------------------------------------------
    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        if topic not in self.subscriptions:
            raise ValueError(f"unknown topic {topic!r}; known: {', '.join(self.subscriptions)}")
        message_id = uuid.uuid4().hex
        published = datetime.now(UTC).isoformat(timespec="milliseconds")
        with write_transaction(self._conn()) as conn:
            for subscription in self.subscriptions[topic]:
                conn.execute(
                    "INSERT INTO messages (message_id, topic, subscription, data, attributes,"
                    " publish_time) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        topic,
                        subscription,
                        data,
                        json.dumps(dict(attributes)),
                        published,
                    ),
                )
        return message_id

    # -- delivery ----------------------------------------------------------------------------
    def lease(self, limit: int, lease_seconds: float) -> list[QueuedMessage]:
        """Take up to `limit` due messages, counting this as a delivery attempt."""
        now = self.clock()
        with write_transaction(self._conn()) as conn:
            rows = conn.execute(
                "SELECT id, message_id, topic, subscription, data, attributes, publish_time,"
                " attempts, last_error FROM messages"
                " WHERE next_attempt_at <= ? AND lease_until <= ? ORDER BY id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE messages SET attempts = attempts + 1, lease_until = ? WHERE id = ?",
                    (now + lease_seconds, row[0]),
                )
        return [
            QueuedMessage(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7] + 1, r[8])
            for r in rows
        ]

    def extend(self, messages: Sequence[QueuedMessage], lease_seconds: float) -> None:
        """Keep in-flight messages leased (Pub/Sub's modifyAckDeadline): a delivery whose
        process died is redelivered once its lease runs out, a live one is not."""
        if not messages:
            return
        until = self.clock() + lease_seconds
        with write_transaction(self._conn()) as conn:
            conn.executemany(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND lease_until > 0",
                [(until, m.id) for m in messages],
            )

    def ack(self, message: QueuedMessage) -> None:
        with write_transaction(self._conn()) as conn:
            conn.execute("DELETE FROM messages WHERE id = ?", (message.id,))

    def nack(self, message: QueuedMessage, error: str) -> bool:
        """Schedule a redelivery, or dead-letter after max attempts. True when dead-lettered."""
        if message.attempts >= self.max_attempts:
            self.dead_letter(message, error)
            return True
        now = self.clock()
        with write_transaction(self._conn()) as conn:
            delay = backoff_seconds(
                message.attempts, self.retry_min_seconds, self.retry_max_seconds
            )
            conn.execute(
                "UPDATE messages SET next_attempt_at = ?, lease_until = 0, last_error = ?"
                " WHERE id = ?",
                (now + delay, error, message.id),
            )
            return False

    def dead_letter(self, message: QueuedMessage, error: str) -> None:
        """Move a delivered message to the dead-letter table with its last error."""
        with write_transaction(self._conn()) as conn:
            conn.execute(
                "INSERT INTO dead_letters (message_id, topic, subscription, data, attributes,"
                " publish_time, attempts, last_error, dead_at)"
                " SELECT message_id, topic, subscription, data, attributes, publish_time,"
                " attempts, ?, ? FROM messages WHERE id = ?",
                (error, datetime.now(UTC).isoformat(timespec="seconds"), message.id),
            )
            conn.execute("DELETE FROM messages WHERE id = ?", (message.id,))

    def next_due_in(self) -> float | None:
        """Seconds until the next message is due (0 if one is due now), None when empty."""
        row = (
            self._conn()
            .execute("SELECT MIN(MAX(next_attempt_at, lease_until)) FROM messages")
            .fetchone()
        )
        return None if row[0] is None else max(0.0, row[0] - self.clock())

    def pending(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    # -- dead letters ------------------------------------------------------------------------
    def dead_letters(self, subscription: str | None = None) -> list[QueuedMessage]:
        sql = (
            "SELECT id, message_id, topic, subscription, data, attributes, publish_time,"
            " attempts, last_error FROM dead_letters"
        )
        params: tuple = ()
        if subscription:
            sql += " WHERE subscription = ?"
            params = (subscription,)
        rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        return [
            QueuedMessage(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8])
            for r in rows
        ]

    def requeue_dead_letter(
        self, dead: QueuedMessage, data: bytes, attributes: Mapping[str, str]
    ) -> str:
        """Move a dead letter back to its subscription (only) as a new message."""
        message_id = uuid.uuid4().hex
        published = datetime.now(UTC).isoformat(timespec="milliseconds")
        with write_transaction(self._conn()) as conn:
            conn.execute(
                "INSERT INTO messages (message_id, topic, subscription, data, attributes,"
                " publish_time) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    dead.topic,
                    dead.subscription,
                    data,
                    json.dumps(dict(attributes)),
                    published,
                ),
            )
            conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead.id,))
        return message_id
