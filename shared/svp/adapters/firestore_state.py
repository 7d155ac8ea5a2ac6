"""`StateStore` on Cloud Firestore (native mode).

Each collection is a top-level Firestore collection and each key a document id. Keys may hold
characters such as ':' or '@', but not '/' (Firestore reads it as a path separator), must not be
'.', '..' or match `__.*__`, and must stay under 1500 bytes: such keys raise ValueError.

Documents are plain JSON-compatible dicts (str keys; dict, list, str, int, float, bool, None
values) and come back exactly as stored. Two Firestore limits are handled here so that holds:
- an array may not directly contain an array: inner lists are stored wrapped as
  `{"svp:list": [...]}` and unwrapped on read (a single-key map with that exact key is
  therefore reserved);
- field names matching `__.*__` are reserved by Firestore: they raise ValueError, as do values
  of any other type (bytes, datetime, ...), so no Firestore-specific type can leak back;
- a top-level `expire_at` (ISO time text) is stored as a timestamp so Firestore's TTL policy
  can delete the document after it; it reads back as ISO text.
A document is limited to 1 MiB and ints to 64 bits.

`list(where=..., limit=...)` orders by `updated_at` descending on the server. In real Firestore
an equality filter on a field plus that ordering needs a composite index per set of filtered
fields, e.g. (status ASC, updated_at DESC) on collection `jobs`; Terraform must declare one for
every `where` combination the app uses. Without `where` the automatic single-field index is
enough. Documents lacking `updated_at` are not returned by an ordered query in real Firestore
(the emulator does return them). Should an index be missing, the query fails with
FailedPrecondition: the store then logs a warning and falls back to an unordered query sorted
client-side (reads every matching document, fine for small collections only).

`list(span=Span(field, low, high))` is a range query on one numeric field ordered by it,
ascending: Firestore's automatic single-field index serves it (no composite index), and it
reads only the documents in range. Documents whose field is null, absent or not a number are
never returned (a range filter matches values of its own type only).

`update` is an optimistic read-modify-write: it reads the document, runs the mutation and
writes the result only if the document is unchanged since the read (a `last_update_time`
precondition; `create` when it was absent), else reads again. No lock is taken: a Firestore
transaction would lock the document on read, and a function killed mid-transaction (Cloud Run
stops instances with SIGKILL) would leave every other writer of that job waiting out the lock
(on Google's emulator, for good). A document contended through every try raises `Contended`
(a TransientError: the message is retried, never failed for it).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from svp.errors import TransientError
from svp.ports import Doc, Mutation, Span

T = TypeVar("T")

log = logging.getLogger(__name__)

_LIST_TAG = "svp:list"
TTL_FIELD = "expire_at"
_RESERVED = re.compile(r"^__.*__$")
# Tries of one update against concurrent writers, with pauses of up to 0.01 * 2**try s
# (capped at 0.5 s) between them: a few seconds in all, enough for a dozen writers.
UPDATE_TRIES = 16
_LARGEST = 1.7976931348623157e308  # a span without a lower bound still matches numbers only


class Contended(TransientError):
    """Other writers changed the document between every read and write of an update."""


def _check_key(what: str, key: str) -> None:
    if (
        not isinstance(key, str)
        or not key
        or "/" in key
        or key in (".", "..")
        or _RESERVED.match(key)
        or len(key.encode()) > 1500
    ):
        raise ValueError(f"invalid Firestore {what}: {key!r}")


def _encode(value: Any, in_list: bool = False) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or _RESERVED.match(k):
                raise ValueError(f"field name not storable in Firestore: {k!r}")
            out[k] = _encode(v)
        return out
    if isinstance(value, (list, tuple)):
        items = [_encode(v, in_list=True) for v in value]
        return {_LIST_TAG: items} if in_list else items
    raise ValueError(f"value of type {type(value).__name__} is not JSON-compatible: {value!r}")


def _document(doc: Doc) -> dict[str, Any]:
    """A document as stored: its top-level `expire_at` (an ISO time) becomes a Firestore
    timestamp, the type a TTL policy needs; it reads back as the same ISO text."""
    stored = _encode(doc)
    if isinstance(stored.get(TTL_FIELD), str):
        stored[TTL_FIELD] = datetime.fromisoformat(stored[TTL_FIELD])
    return stored


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _LIST_TAG in value and isinstance(value[_LIST_TAG], list):
            return [_decode(v) for v in value[_LIST_TAG]]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):  # never written by this adapter; e.g. set by the console
        return value.isoformat()
    raise TypeError(f"Firestore value of type {type(value).__name__} is not JSON-compatible")


def _sort_key(doc: Doc) -> tuple[int, Any]:
    # Numbers before strings, like Firestore's type ordering; missing/other values last.
    value = doc.get("updated_at")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (0, 0)


class FirestoreStateStore:
    def __init__(self, project: str, database: str = "(default)", client: Any = None):
        self._client = client or firestore.Client(project=project, database=database)

    def _ref(self, collection: str, key: str) -> Any:
        _check_key("collection", collection)
        _check_key("key", key)
        return self._client.collection(collection).document(key)

    def create(self, collection: str, key: str, doc: Doc) -> bool:
        try:
            self._ref(collection, key).create(_document(doc))
        except gexc.AlreadyExists:
            return False
        return True

    def get(self, collection: str, key: str) -> Doc | None:
        snap = self._ref(collection, key).get()
        return _decode(snap.to_dict()) if snap.exists else None

    def put(self, collection: str, key: str, doc: Doc) -> None:
        self._ref(collection, key).set(_document(doc))

    def delete(self, collection: str, key: str) -> None:
        self._ref(collection, key).delete()

    def update(self, collection: str, key: str, mutation: Mutation[T]) -> T:
        ref = self._ref(collection, key)
        for attempt in range(UPDATE_TRIES):
            snap = ref.get()
            current = _decode(snap.to_dict()) if snap.exists else None
            new, value = mutation(current)
            if new is None:
                return value
            try:
                if snap.exists:
                    self._replace(ref, snap, new)
                else:
                    ref.create(_document(new))
                return value
            except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
                pass  # written by another since our read: read it again
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
        raise Contended(f"{collection}/{key} changed under every one of {UPDATE_TRIES} updates")

    def _replace(self, ref: Any, snap: Any, new: Doc) -> None:
        """Write `new` over the document as `snap` saw it, or raise FailedPrecondition."""
        stored = _document(new)
        changes: dict[str, Any] = {FieldPath(k).to_api_repr(): v for k, v in stored.items()}
        for gone in set(snap.to_dict()) - set(stored):
            changes[FieldPath(gone).to_api_repr()] = firestore.DELETE_FIELD
        if changes:
            ref.update(changes, option=self._client.write_option(last_update_time=snap.update_time))

    def list(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        span: Span | None = None,
    ) -> list[Doc]:
        _check_key("collection", collection)
        query = self._client.collection(collection)
        for field, value in (where or {}).items():
            # Quote the name so that '.' or ':' in a top-level field is not read as a path.
            path = FieldPath(field).to_api_repr()
            query = query.where(filter=FieldFilter(path, "==", _encode(value)))
        if span is None:
            field, direction, sort_key = "updated_at", firestore.Query.DESCENDING, _sort_key
        else:
            # A range filter on a number matches numbers only (Firestore orders by type first).
            field, direction = FieldPath(span.field).to_api_repr(), firestore.Query.ASCENDING
            low = -_LARGEST if span.low is None else span.low
            query = query.where(filter=FieldFilter(field, ">=", low))
            if span.high is not None:
                query = query.where(filter=FieldFilter(field, "<=", span.high))

            def sort_key(doc: Doc) -> tuple[int, Any]:
                return (0, doc.get(span.field))

        ordered = query.order_by(field, direction=direction)
        if limit is not None:
            ordered = ordered.limit(limit)
        try:
            return [_decode(s.to_dict()) for s in ordered.stream()]
        except gexc.FailedPrecondition as exc:  # missing composite index
            log.warning("Firestore index missing, sorting %s client-side: %s", collection, exc)
        descending = direction == firestore.Query.DESCENDING
        docs = sorted(
            (_decode(s.to_dict()) for s in query.stream()), key=sort_key, reverse=descending
        )
        return docs if limit is None else docs[:limit]
