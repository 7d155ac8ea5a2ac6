"""A StateStore wrapper that counts document reads and writes the way Firestore bills them:
a read per document returned (at least one per query) or looked up, a write per document
stored; a transaction reads its document and writes it only when the mutation changed it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svp.ports import Doc, Mutation, StateStore, T


@dataclass
class CountingStore:
    inner: StateStore
    reads: int = 0
    writes: int = 0
    queries: int = 0
    transactions: int = 0

    def reset(self) -> None:
        self.reads = self.writes = self.queries = self.transactions = 0

    def create(self, collection: str, key: str, doc: Doc) -> bool:
        self.writes += 1
        return self.inner.create(collection, key, doc)

    def get(self, collection: str, key: str) -> Doc | None:
        self.reads += 1
        return self.inner.get(collection, key)

    def put(self, collection: str, key: str, doc: Doc) -> None:
        self.writes += 1
        self.inner.put(collection, key, doc)

    def delete(self, collection: str, key: str) -> None:
        self.writes += 1
        self.inner.delete(collection, key)

    def update(self, collection: str, key: str, mutation: Mutation[T]) -> T:
        wrote: list[bool] = []

        def counted(doc: Doc | None):
            new, value = mutation(doc)
            wrote[:] = [new is not None]  # a contended transaction re-runs: the last run counts
            return new, value

        value = self.inner.update(collection, key, counted)
        self.transactions += 1
        self.reads += 1
        self.writes += int(any(wrote))
        return value

    def list(self, collection: str, **query: Any) -> list[Doc]:
        found = self.inner.list(collection, **query)
        self.queries += 1
        self.reads += max(1, len(found))
        return found
