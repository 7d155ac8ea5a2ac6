"""One SQLite file shared by threads (a connection each) and processes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30


class SqliteFile:
    """A database file and its schema (created if absent); each thread gets its own connection
    (sqlite3 connections must not cross threads)."""

    def __init__(self, path: Path, schema: Sequence[str] = ()):
        self.path = path
        self._local = threading.local()
        with self.write() as conn:
            for statement in schema:
                conn.execute(statement)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so read-modify-write cannot
        interleave with another writer."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    _use_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """WAL lets readers run beside a writer. The mode is stored in the file, so only the
    first connection ever switches it; switching needs a lock that SQLite's busy handler does
    not wait for, so a process starting while another writes retries instead of crashing."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
