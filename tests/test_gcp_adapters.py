"""The Google Cloud adapters against local stand-ins, through the real client libraries."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1, storage
from google.cloud.firestore_v1.query import Query

from svp.adapters import pubsub_bus
from svp.adapters.firestore_state import FirestoreStateStore
from svp.adapters.gcs_blobs import GcsBlobStore
from svp.adapters.pubsub_bus import PubSubBus, ReceivedMessage
from tests.emulators import *  # noqa: F403 - the emulator fixtures
from tests.fakes.pubsub import FakePubSub

PROJECT = "test-project"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Firestore ---------------------------------------------------------------------------


@pytest.fixture
def store(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> FirestoreStateStore:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    return FirestoreStateStore(PROJECT)


def test_create_only_when_absent(store: FirestoreStateStore) -> None:
    coll = _name("jobs")
    assert store.create(coll, "tiktok:123", {"status": "new", "n": 1}) is True
    assert store.create(coll, "tiktok:123", {"status": "other"}) is False
    assert store.get(coll, "tiktok:123") == {"status": "new", "n": 1}


def test_get_put_delete(store: FirestoreStateStore) -> None:
    coll = _name("jobs")
    assert store.get(coll, "missing") is None
    store.put(coll, "k", {"a": 1, "b": "x"})
    store.put(coll, "k", {"a": 2})  # replaces the whole document
    assert store.get(coll, "k") == {"a": 2}
    store.delete(coll, "k")
    assert store.get(coll, "k") is None
    store.delete(coll, "k")  # deleting an absent document is fine


def test_update_runs_mutation_in_a_transaction(store: FirestoreStateStore) -> None:
    coll = _name("leases")
    seen: list[dict | None] = []

    def bump(doc: dict | None) -> tuple[dict | None, int]:
        seen.append(doc)
        count = (doc or {}).get("count", 0) + 1
        return {**(doc or {}), "count": count}, count

    assert store.update(coll, "job:1", bump) == 1
    assert store.update(coll, "job:1", bump) == 2
    assert seen == [None, {"count": 1}]
    assert store.get(coll, "job:1") == {"count": 2}

    # A mutation returning None as document writes nothing but still hands back its value.
    assert store.update(coll, "job:1", lambda doc: (None, ("held", doc["count"]))) == ("held", 2)
    assert store.get(coll, "job:1") == {"count": 2}
    assert store.update(coll, "absent", lambda doc: (None, doc)) is None
    assert store.get(coll, "absent") is None

    # The new document replaces the old one: fields the mutation dropped are gone.
    store.put(coll, "job:2", {"count": 1, "lease": {"owner": "w1", "until": 5.0}, "keep": {"a": 1}})
    released = store.update(coll, "job:2", lambda doc: ({"count": 1, "keep": {}}, "released"))
    assert released == "released"
    assert store.get(coll, "job:2") == {"count": 1, "keep": {}}


def test_update_mutation_sees_decoded_document(store: FirestoreStateStore) -> None:
    coll = _name("jobs")
    store.put(coll, "k", {"spans": [[0.0, 1.5], [2, 3]], "meta": {"tags": ["a"]}})

    def append(doc: dict | None) -> tuple[dict | None, list]:
        assert doc is not None
        doc["spans"].append([4, 5])
        return doc, doc["spans"]

    assert store.update(coll, "k", append) == [[0.0, 1.5], [2, 3], [4, 5]]
    assert store.get(coll, "k") == {"spans": [[0.0, 1.5], [2, 3], [4, 5]], "meta": {"tags": ["a"]}}


def _seed_jobs(store: FirestoreStateStore, coll: str) -> None:
    rows = [
        ("a", "pending", "2026-01-01T10:00:00Z"),
        ("b", "done", "2026-01-01T11:00:00Z"),
        ("c", "pending", "2026-01-01T12:00:00Z"),
        ("d", "pending", "2026-01-01T09:00:00Z"),
        ("e", "done", "2026-01-01T13:00:00Z"),
    ]
    for key, status, updated_at in rows:
        store.put(coll, key, {"id": key, "status": status, "updated_at": updated_at})


def test_list_filters_orders_and_limits(store: FirestoreStateStore) -> None:
    coll = _name("jobs")
    _seed_jobs(store, coll)
    ids = lambda docs: [d["id"] for d in docs]  # noqa: E731
    assert ids(store.list(coll)) == ["e", "c", "b", "a", "d"]
    assert ids(store.list(coll, limit=2)) == ["e", "c"]
    assert ids(store.list(coll, where={"status": "pending"})) == ["c", "a", "d"]
    assert ids(store.list(coll, where={"status": "pending"}, limit=2)) == ["c", "a"]
    assert ids(store.list(coll, where={"status": "pending", "id": "a"})) == ["a"]
    assert store.list(coll, where={"status": "failed"}) == []
    assert store.list(_name("empty")) == []


def test_list_numeric_timestamps(store: FirestoreStateStore) -> None:
    # Not testable on the emulator: where={field: None} (an IS_NULL filter, ignored there) and
    # ordering ints against floats (it compares only values of the same type).
    coll = _name("jobs")
    store.put(coll, "x", {"owner": "bob", "updated_at": 10.5})
    store.put(coll, "y", {"owner": "bob", "updated_at": 20.0})
    store.put(coll, "z", {"owner": "ann", "updated_at": 30.0})
    assert store.list(coll, where={"owner": "bob"}) == [
        {"owner": "bob", "updated_at": 20.0},
        {"owner": "bob", "updated_at": 10.5},
    ]


def test_list_falls_back_to_client_sort_without_index(
    store: FirestoreStateStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    coll = _name("jobs")
    _seed_jobs(store, coll)
    real_stream = Query.stream

    def stream(self, *args, **kwargs):  # what Firestore answers when the index is missing
        if self._orders:
            raise gexc.FailedPrecondition("The query requires an index.")
        return real_stream(self, *args, **kwargs)

    monkeypatch.setattr(Query, "stream", stream)
    docs = store.list(coll, where={"status": "pending"}, limit=2)
    assert [d["id"] for d in docs] == ["c", "a"]
    assert "index missing" in caplog.text
    assert [d["id"] for d in store.list(coll)] == ["e", "c", "b", "a", "d"]


def test_documents_round_trip_exactly(store: FirestoreStateStore) -> None:
    coll = _name("docs")
    doc = {
        "str": "héllo ✓ – 🍝",
        "empty_str": "",
        "int": 42,
        "big": 2**63 - 1,  # Firestore holds int64
        "neg": -7,
        "float": 1.0,
        "pi": 3.14159,
        "true": True,
        "false": False,
        "none": None,
        "empty_map": {},
        "empty_list": [],
        "nested": {"a": {"b": {"c": [1, "two", 3.5, None, {"d": [True]}]}}},
        "matrix": [[1, 2], [], [[3], ["x"]]],
        "records": [{"t": 0.5, "text": "add salt"}, {"t": 1.5, "text": "stir"}],
        "key:with:colons": {"dotted.name": 1, "sp ace": 2, "svp:list": "not a list"},
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:01+00:00",  # ordered queries skip documents without it
    }
    assert store.create(coll, "instagram:C0de-_x", doc)
    back = store.get(coll, "instagram:C0de-_x")
    assert back == doc
    assert type(back["float"]) is float and type(back["int"]) is int
    assert type(back["created_at"]) is str
    assert store.list(coll) == [doc]
    assert store.list(coll, where={"nested": doc["nested"]}) == [doc]


def test_expire_at_is_stored_as_a_timestamp_for_the_ttl_policy(
    store: FirestoreStateStore,
) -> None:
    from datetime import datetime

    coll = _name("ttl")
    doc = {"status": "done", "expire_at": "2026-12-26T10:00:00+00:00", "updated_at": "x"}
    store.put(coll, "job", doc)
    raw = store._client.collection(coll).document("job").get().to_dict()
    assert isinstance(raw["expire_at"], datetime)  # what Firestore's TTL policy acts on
    assert store.get(coll, "job") == doc  # and the app still sees the ISO text


def test_rejects_keys_and_values_firestore_cannot_hold(store: FirestoreStateStore) -> None:
    coll = _name("docs")
    for key in ("a/b", "", ".", "..", "__x__"):
        with pytest.raises(ValueError, match="key"):
            store.get(coll, key)
    with pytest.raises(ValueError):
        store.put("a/b", "k", {})
    with pytest.raises(ValueError, match="__name__"):
        store.put(coll, "k", {"nested": {"__name__": 1}})
    with pytest.raises(ValueError, match="bytes"):
        store.put(coll, "k", {"blob": b"raw"})
    with pytest.raises(ValueError):
        store.create(coll, "k", {1: "int key"})
    assert store.get(coll, "k") is None


# -- Cloud Storage -----------------------------------------------------------------------


@pytest.fixture
def bucket(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    name = _name("svp-artifacts")
    storage.Client(project=PROJECT, credentials=AnonymousCredentials()).create_bucket(name)
    return name


@pytest.fixture
def blobs(bucket: str) -> GcsBlobStore:
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
    return GcsBlobStore(bucket, client=client)


def test_put_bytes_get_exists(blobs: GcsBlobStore, bucket: str) -> None:
    uri = blobs.put_bytes("jobs/j1/summary.json", b'{"ok": true}', "application/json")
    assert uri == f"gs://{bucket}/jobs/j1/summary.json"
    assert blobs.get_bytes(uri) == b'{"ok": true}'
    assert blobs.exists(uri)
    assert not blobs.exists(f"gs://{bucket}/jobs/j1/other.json")
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
    blob = client.bucket(bucket).get_blob("jobs/j1/summary.json")
    assert blob.content_type == "application/json"
    # A retried stage overwrites the artifact at the same key.
    assert blobs.put_bytes("jobs/j1/summary.json", b"v2") == uri
    assert blobs.get_bytes(uri) == b"v2"
    assert client.bucket(bucket).get_blob("jobs/j1/summary.json").content_type == (
        "application/octet-stream"
    )


def test_put_file_and_download(blobs: GcsBlobStore, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00\x01mp4 bytes" * 100)
    uri = blobs.put_file("jobs/j2/clip.mp4", src)
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
    assert client.bucket(bucket).get_blob("jobs/j2/clip.mp4").content_type == "video/mp4"
    dest = tmp_path / "deep" / "er" / "copy.mp4"
    blobs.download(uri, dest)
    assert dest.read_bytes() == src.read_bytes()

    txt = tmp_path / "notes"
    txt.write_text("plain")
    uri = blobs.put_file("jobs/j2/notes", txt, content_type="text/plain")
    assert client.bucket(bucket).get_blob("jobs/j2/notes").content_type == "text/plain"
    assert blobs.get_bytes(uri) == b"plain"


def test_large_file_uses_resumable_upload(blobs: GcsBlobStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = bytes(range(256)) * (9 * 4096 + 7)  # just over 9 MiB: above the multipart limit
    src.write_bytes(data)
    uri = blobs.put_file("jobs/j3/big.bin", src)
    dest = tmp_path / "big.out"
    blobs.download(uri, dest)
    assert dest.read_bytes() == data


def test_missing_object(blobs: GcsBlobStore, bucket: str, tmp_path: Path) -> None:
    uri = f"gs://{bucket}/nope/missing.bin"
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        blobs.get_bytes(uri)
    dest = tmp_path / "missing.bin"
    with pytest.raises(FileNotFoundError):
        blobs.download(uri, dest)
    assert not dest.exists()


def test_rejects_foreign_uris(blobs: GcsBlobStore, bucket: str, tmp_path: Path) -> None:
    bad = [
        "gs://another-bucket/jobs/x",
        f"gs://{bucket}x/jobs/x",
        f"gs://{bucket}/",
        f"file:///{bucket}/jobs/x",
        f"s3://{bucket}/jobs/x",
        "jobs/x",
    ]
    for uri in bad:
        for call in (blobs.get_bytes, blobs.exists, lambda u: blobs.download(u, tmp_path / "f")):
            with pytest.raises(ValueError) as info:
                call(uri)
            assert uri in str(info.value)
    with pytest.raises(ValueError):
        blobs.put_bytes(f"gs://{bucket}/k", b"x")
    with pytest.raises(ValueError):
        blobs.put_bytes("", b"x")


def test_default_client_from_emulator_env(bucket: str) -> None:
    blobs = GcsBlobStore(bucket)  # STORAGE_EMULATOR_HOST set by the fixture
    uri = blobs.put_bytes("k", b"data")
    assert blobs.get_bytes(uri) == b"data"


# -- Pub/Sub -----------------------------------------------------------------------------


@pytest.fixture
def pubsub_env(pubsub_fake: FakePubSub, monkeypatch: pytest.MonkeyPatch) -> FakePubSub:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_fake.host)
    monkeypatch.setattr(pubsub_bus, "_clients", {})  # fresh shared clients for this test
    yield pubsub_fake
    for client in pubsub_bus._clients.values():
        if isinstance(client, pubsub_v1.PublisherClient):
            client.stop()
        else:
            client.close()


@pytest.fixture
def subscriber(pubsub_env: FakePubSub) -> pubsub_v1.SubscriberClient:
    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()


def test_publish_returns_id_and_message_arrives(
    pubsub_env: FakePubSub, subscriber: pubsub_v1.SubscriberClient
) -> None:
    topic = _name("transcribe")
    sub = pubsub_env.add_subscription(_name("transcribe-push"), f"svp-{topic}")
    bus = PubSubBus(PROJECT)
    attrs = {"job_id": "j1", "stage": "transcribe"}
    message_id = bus.publish(f"svp-{topic}", b'{"job": "j1"}', attrs)
    assert isinstance(message_id, str) and message_id
    assert bus.publish(f"svp-{topic}", b"", {"only": "attributes"}) != message_id

    response = subscriber.pull(request={"subscription": sub, "max_messages": 10}, timeout=10)
    got = [rm.message for rm in response.received_messages]
    assert got[0].message_id == message_id
    assert got[0].data == b'{"job": "j1"}'
    assert dict(got[0].attributes) == attrs
    assert dict(got[1].attributes) == {"only": "attributes"}
    assert pubsub_env.messages(f"svp-{topic}")[0].data == b'{"job": "j1"}'


def test_publish_to_unknown_topic_fails(pubsub_env: FakePubSub) -> None:
    bus = PubSubBus(PROJECT)
    with pytest.raises(gexc.NotFound):
        bus.publish(_name("nowhere"), b"x", {})


def test_one_publisher_per_process(pubsub_env: FakePubSub) -> None:
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(pubsub_bus._shared("pub"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(c is seen[0] for c in seen)


def test_explicit_publisher_is_used(pubsub_env: FakePubSub) -> None:
    topic = pubsub_env.add_topic(_name("ocr"))
    publisher = pubsub_v1.PublisherClient()
    try:
        bus = PubSubBus(PROJECT, publisher=publisher)
        message_id = bus.publish(topic.rsplit("/", 1)[1], b"x", {"k": "v"})
    finally:
        publisher.stop()
    assert pubsub_env.messages(topic)[0].message_id == message_id
    assert pubsub_bus._clients == {}


def test_pull_dead_letters_and_ack(pubsub_env: FakePubSub) -> None:
    dlq = _name("svp-dead-letter")
    sub_name = _name("dead-letter-pull")
    sub_path = pubsub_env.add_subscription(sub_name, dlq)
    dead_attrs = {
        "job_id": "j9",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": "transcribe-push",
    }
    ids = [pubsub_env.publish(dlq, f"m{i}".encode(), dead_attrs) for i in range(3)]
    bus = PubSubBus(PROJECT)

    first = bus.pull_dead_letters(sub_name, max_messages=2)
    assert [m.message_id for m in first] == ids[:2]
    m = first[0]
    assert isinstance(m, ReceivedMessage)
    assert m.data == b"m0" and m.attributes == dead_attrs and m.ack_id
    assert m.publish_time is not None and m.publish_time.tzinfo is not None

    rest = bus.pull_dead_letters(sub_path, max_messages=10)  # a full path works too
    assert [m.message_id for m in rest] == ids[2:]
    assert bus.pull_dead_letters(sub_name, max_messages=10) == []  # all leased

    bus.ack(sub_name, [m.ack_id for m in first + rest])
    assert pubsub_env.backlog(sub_name) == 0
    bus.ack(sub_name, [])  # nothing to do
    assert bus.pull_dead_letters(sub_name, max_messages=10) == []


def test_unacked_dead_letters_come_back(pubsub_env: FakePubSub) -> None:
    sub_name = _name("dlq-pull")
    pubsub_env.add_subscription(sub_name, _name("dlq"), ack_deadline_s=0)
    pubsub_env.publish(pubsub_env.subscriptions[pubsub_env.subscription_path(sub_name)].topic, b"x")
    bus = PubSubBus(PROJECT)
    first = bus.pull_dead_letters(sub_name, 10)
    again = bus.pull_dead_letters(sub_name, 10)  # lease expired: redelivered, same id
    assert [m.message_id for m in again] == [m.message_id for m in first]
    assert again[0].ack_id != first[0].ack_id


def test_pull_from_missing_subscription_fails(pubsub_env: FakePubSub) -> None:
    with pytest.raises(gexc.NotFound):
        PubSubBus(PROJECT).pull_dead_letters(_name("missing"), 1)
