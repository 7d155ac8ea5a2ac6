"""Concurrent claims on Google's Firestore emulator, which checks write preconditions as
Firestore does.

The claims that keep "exactly one page per video" and "one worker per stage" are
read-modify-writes conditioned on the document being unchanged since the read: run them from
several threads at once and exactly one must win, no update may be lost, and contention must
never surface as an error.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from svp.adapters.firestore_state import FirestoreStateStore
from svp.runtime import jobs, videos
from tests.emulators import *  # noqa: F403 - the emulator fixtures

PROJECT = "test-project"


@pytest.fixture
def store(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> FirestoreStateStore:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    return FirestoreStateStore(PROJECT)


def _all_at_once(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..n-1) on n threads released together; re-raise the first error."""
    start = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below, with the thread's index
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def _job(store: FirestoreStateStore, target: dict | None = None) -> dict:
    job_id = f"job-{uuid.uuid4().hex[:10]}"
    link = {"url": f"https://www.tiktok.com/@chef/video/{job_id}", "tag": "cooking"}
    doc = jobs.new_job(job_id, link, target or {}, time.time())
    assert store.create(jobs.JOBS, job_id, doc)
    return doc


@pytest.mark.parametrize(("claimers", "rounds"), [(2, 20), (8, 3)])
def test_one_claimer_of_a_stage_wins(
    store: FirestoreStateStore, claimers: int, rounds: int
) -> None:
    for _ in range(rounds):
        job = _job(store)

        def claim(i: int, job_id: str = job["job_id"]) -> str:
            now = time.time()
            outcome = store.update(
                jobs.JOBS,
                job_id,
                lambda d: jobs.claim(
                    d, "downloader", now=now, token=f"t{i}", lease=60, deadline=600, worker=str(i)
                ),
            )
            return outcome.outcome

        outcomes = Counter(_all_at_once(claimers, claim))
        assert outcomes == {"run": 1, "busy": claimers - 1}
        record = store.get(jobs.JOBS, job["job_id"])["stages"]["downloader"]
        assert record["attempts"] == 1


@pytest.mark.parametrize(("claimers", "rounds"), [(2, 10), (8, 3)])
def test_one_job_of_a_video_owns_it(store: FirestoreStateStore, claimers: int, rounds: int) -> None:
    target = {"data_source_id": uuid.uuid4().hex}
    for _ in range(rounds):
        video = f"TikTok:{uuid.uuid4().hex[:12]}"
        docs = [_job(store, target) for _ in range(claimers)]

        def admit(i: int, docs: list = docs, video: str = video) -> str:
            return videos.admit(store, docs[i], video, now=time.time()).verdict

        verdicts = Counter(_all_at_once(claimers, admit))
        assert verdicts == {"own": 1, "wait": claimers - 1}


def test_no_update_is_lost_under_contention(store: FirestoreStateStore) -> None:
    key = uuid.uuid4().hex

    def bump(i: int) -> None:
        store.update("counters", key, lambda d: ({"n": (d or {}).get("n", 0) + 1}, None))

    _all_at_once(12, bump)
    assert store.get("counters", key) == {"n": 12}
