"""An upgrade on Google's Firestore emulator: a snapshot of jobs and pages stored by earlier
versions (tests/data/firestore_v1_snapshot.json) is migrated by `svp migrate`'s code; nothing
is duplicated, nothing left out, and the reconciler then finds the jobs that need it."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from svp.adapters.firestore_state import FirestoreStateStore
from svp.media.identity import video_key_from_url
from svp.ports import Span
from svp.runtime import jobs, videos
from svp.runtime.context import Runtime
from svp.runtime.migrate import migrate
from svp.runtime.reconciler import reconcile
from svp.runtime.room import Room
from tests.counting_store import CountingStore
from tests.emulators import *  # noqa: F403 - the emulator fixtures

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "firestore_v1_snapshot.json").read_text())


@pytest.fixture
def store(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> FirestoreStateStore:
    """A project of its own on the shared emulator, loaded with the snapshot."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    store = FirestoreStateStore(f"upgrade-{uuid.uuid4().hex[:8]}")
    for collection in ("jobs", "videos"):
        for key, doc in SNAPSHOT[collection].items():
            store.put(collection, key, doc)
    return store


def _claims(store: FirestoreStateStore) -> dict[str, dict]:
    return {doc["video"]: doc for doc in store.list(videos.VIDEOS)}


def test_old_jobs_are_readable_before_the_migration():
    """`resend` (the poller's row correction) and a claim accept a job without an outbox."""
    old = SNAPSHOT["jobs"]["v1done_a"]
    assert "notion" not in old and "open" not in old
    resent = jobs.resend(old, now=time.time())[0]
    assert resent["notion"]["want"] > resent["notion"]["sent"]
    running = SNAPSHOT["jobs"]["v1running"]
    claimed = jobs.claim(
        running, "downloader", now=2e9, token="t", lease=60, deadline=600, worker="w"
    )
    assert claimed[1].outcome == "run"


def test_a_migration_upgrades_every_job_and_claims_every_earlier_page(store):
    done = migrate(store, video_key_from_url)

    assert done.errors == 0
    assert done.jobs_seen == len(SNAPSHOT["jobs"])
    assert done.jobs_upgraded == len(SNAPSHOT["jobs"])  # none had `schema`
    for key in SNAPSHOT["jobs"]:
        job = store.get(jobs.JOBS, key)
        assert job["schema"] == jobs.SCHEMA, key
        assert {"open", "notion", "published", "check_at", "video"} <= job.keys(), key
        assert job["video"], key
    claims = _claims(store)
    # One claim per video and Content Database: the oldest job's pages; the duplicate page an
    # earlier version made for the same video is not claimed a second time.
    assert sorted(claims) == [
        "TikTok:7100000000000000001",
        "TikTok:7100000000000000002",
        "Youtube:dQw4w9WgXcQ",
    ]
    a = claims["TikTok:7100000000000000001"]
    assert (a["owner"], [p["id"] for p in a["pages"]]) == ("v1done_a", ["page-a1"])
    b = claims["TikTok:7100000000000000002"]
    assert [p["id"] for p in b["pages"]] == ["page-b1", "page-b2"]
    assert claims["Youtube:dQw4w9WgXcQ"] == next(iter(SNAPSHOT["videos"].values()))
    assert (done.claims_made, done.claims_kept) == (2, 2)  # a's second job; c's existing claim
    # Ended jobs Notion showed are closed; those at work or queued stay open.
    assert not store.get(jobs.JOBS, "v1done_a")["open"]
    assert store.get(jobs.JOBS, "v1running")["open"]
    assert store.get(jobs.JOBS, "v1queued")["published"]


def test_a_video_saved_again_after_the_upgrade_points_at_its_page(store):
    migrate(store, video_key_from_url)
    url = "https://www.tiktok.com/@chef/video/7100000000000000002"
    link = {"url": url, "tag": "cooking", "user": "local"}
    again = jobs.new_job("new", link, {"data_source_id": "ds-cooking-1"}, time.time())
    store.put(jobs.JOBS, "new", again)
    admitted = videos.admit(store, again, video_key_from_url(url), now=time.time())
    assert (admitted.verdict, admitted.owner) == ("point", "v1done_b_many")


class Stopped(BaseException):
    """The process running the migration ended mid-way."""


def test_migrating_again_changes_nothing_and_a_stopped_migration_finishes(store):
    crashing = CountingStore(store)
    real_update = store.update
    calls = {"n": 0}

    def update_then_crash(collection, key, mutation):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Stopped("the migration's machine went away")
        return real_update(collection, key, mutation)

    crashing.inner = SimpleNamespace(
        update=update_then_crash, list=store.list, get=store.get, put=store.put
    )
    with pytest.raises(Stopped):
        migrate(crashing, video_key_from_url)
    first = migrate(store, video_key_from_url)
    assert first.errors == 0 and first.jobs_upgraded >= 1
    assert all(store.get(jobs.JOBS, key)["schema"] == jobs.SCHEMA for key in SNAPSHOT["jobs"])
    counted = CountingStore(store)
    second = migrate(counted, video_key_from_url)
    assert (second.jobs_upgraded, second.claims_made, second.claims_filled) == (0, 0, 0)
    assert counted.writes == 0
    assert len(_claims(store)) == 3


def test_the_reconciler_lists_migrated_jobs_that_need_it(store):
    migrate(store, video_key_from_url)
    due = store.list(jobs.JOBS, span=Span("check_at", None, time.time()))
    # The worker of v1running died before the upgrade: its lease ran out long ago; v1queued's
    # status may never have reached Notion (an old job in flight has no outbox to say so).
    assert [job["job_id"] for job in due] == ["v1running", "v1queued"]
    published: list[str] = []
    runtime = Runtime(
        SimpleNamespace(max_attempts=5, topic_prefix="svp-", lease_seconds=60),  # type: ignore[arg-type]
        state=lambda: store,
        blobs=lambda: None,  # type: ignore[arg-type,return-value]
        bus=lambda: SimpleNamespace(publish=lambda t, d, a: published.append(t) or "1"),  # type: ignore[arg-type,return-value]
        dead_letters=lambda: None,  # type: ignore[arg-type,return-value]
    )
    report = reconcile(runtime, None)
    assert report.redriven == ["v1running"]
    assert published == ["svp-links"]


def test_admission_counts_the_migrated_jobs_at_work(store):
    """Jobs at work take room (one range query); a job silent for longer than a stage's
    deadline no longer does, so a lost job cannot hold its place for ever."""
    migrate(store, video_key_from_url)
    then = datetime.fromisoformat("2026-12-01T12:00:30+00:00").timestamp()
    assert Room(store, 3, now=then).left == 1  # v1running and v1queued
    assert Room(store, 3, now=then + 3600).left == 3
