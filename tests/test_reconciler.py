"""The reconciler's cost follows the work to do: it reads only the jobs that need action,
oldest first, so none starves behind newer ones, and a job that needs nothing costs nothing."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from svp.ports import Span
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.reconciler import reconcile
from tests.counting_store import CountingStore

TARGET = {"tag": "cooking", "data_source_id": "ds-1", "schema": {}}


class Shown:
    """A StatusSink that marks what it was asked to show as shown."""

    def __init__(self, runtime: Runtime, refuse: bool = False):
        self.runtime = runtime
        self.refuse = refuse
        self.asked: list[str] = []

    def sync(self, job_id: str) -> bool:
        self.asked.append(job_id)
        if self.refuse:
            return False
        job = self.runtime.state.get(jobs.JOBS, job_id)
        want = job["notion"]["want"]
        self.runtime.state.update(jobs.JOBS, job_id, lambda d: jobs.mark_sent(d, want, now=0))
        return True


def _running(job_id: str, now: float, lease: float, video: str | None = None) -> jobs.Doc:
    """A job whose downloader was claimed at `now` under a `lease`, its status shown."""
    link = {"url": f"https://www.tiktok.com/@a/video/{job_id}", "tag": "cooking"}
    doc = jobs.new_job(job_id, link, TARGET, now, video)
    doc = jobs.set_fields(doc, now, published=True)[0]
    doc = jobs.claim(doc, "downloader", now=now, token="t", lease=lease, deadline=600, worker="w")[
        0
    ]
    return jobs.mark_sent(doc, doc["notion"]["want"], now=now)[0]


@pytest.fixture
def counted(runtime: Runtime) -> CountingStore:
    store = CountingStore(runtime.state)
    runtime.__dict__["state"] = store  # the Runtime's ports are cached properties
    return store


def test_a_dead_worker_behind_600_newer_open_jobs_is_handled_in_one_pass(runtime, counted):
    now = time.time()
    # Its lease ran out 9 minutes ago; 600 jobs created since are at work with live leases.
    counted.put(jobs.JOBS, "stuck", _running("stuck", now - 600, lease=60))
    for n in range(600):
        counted.put(jobs.JOBS, f"busy{n}", _running(f"busy{n}", now - 300 + n / 10, lease=600))
    counted.reset()

    report = reconcile(runtime, Shown(runtime), now=now)

    # One query that found one job, one transaction on it.
    assert (counted.queries, counted.reads, counted.writes) == (1, 2, 1)
    assert report.redriven == ["stuck"]
    assert counted.get(jobs.JOBS, "stuck")["stages"]["downloader"]["state"] == "pending"


def test_a_pass_with_nothing_to_do_reads_nothing_but_its_query(runtime, counted):
    now = time.time()
    for n in range(50):
        counted.put(jobs.JOBS, f"busy{n}", _running(f"busy{n}", now, lease=600))
    counted.reset()
    reconcile(runtime, Shown(runtime), now=now + 1)
    assert (counted.queries, counted.reads, counted.writes) == (1, 1, 0)


def test_a_waiting_job_is_not_redated_by_polls_and_moves_when_its_owner_ends(runtime):
    now = time.time()
    runtime.state.put(jobs.JOBS, "owner", _running("owner", now, lease=600, video="V"))
    from svp.runtime.admission import settle

    waiter = _running("waiter", now, lease=600, video="V")
    waiter["stages"]["downloader"] = {"state": "pending", "attempts": 0}
    waiter = jobs._settle(waiter)
    runtime.state.put(jobs.JOBS, "waiter", waiter)
    from svp.runtime import videos

    videos.admit(runtime.state, runtime.state.get(jobs.JOBS, "owner"), "V", now=now)
    assert settle(runtime, runtime.state.get(jobs.JOBS, "waiter"), "V") == "wait"
    status = Shown(runtime)
    reconcile(runtime, status, now=now + 5)  # shows "queued" for it
    dated = runtime.state.get(jobs.JOBS, "waiter")["updated_at"]
    assert runtime.state.get(jobs.JOBS, "owner")["waiters"] == ["waiter"]

    for minute in range(1, 4):
        reconcile(runtime, status, now=now + 60 * minute)
    assert runtime.state.get(jobs.JOBS, "waiter")["updated_at"] == dated
    assert runtime.state.get(jobs.JOBS, "waiter")["status"] == jobs.WAITING

    # The owner fails without a page: the next pass hands the video to the waiter.
    runtime.state.update(jobs.JOBS, "owner", lambda d: jobs.fail(d, None, "gone", now=now))
    report = reconcile(runtime, status)
    assert report.resumed == ["waiter"]
    assert runtime.state.get(jobs.JOBS, "waiter")["status"] == "queued"
    assert runtime.state.get(jobs.JOBS, "owner")["waiters"] == []


def test_a_status_notion_refuses_does_not_starve_the_others(runtime, counted):
    """A refused status is deferred behind the jobs due after it, not retried first forever."""
    now = time.time()
    for n in range(5):
        doc = _running(f"j{n}", now - 100 + n, lease=600)
        doc = jobs.set_status(doc, "summarizing", now=now - 100 + n)[0]  # not shown yet
        counted.put(jobs.JOBS, f"j{n}", doc)
    refusing = Shown(runtime, refuse=True)
    reconcile(runtime, refusing, now=now)
    assert sorted(refusing.asked) == [f"j{n}" for n in range(5)]
    counted.reset()
    refusing.asked.clear()
    reconcile(runtime, refusing, now=now + 1)
    assert refusing.asked == [] and counted.reads == 1  # deferred: not looked at again yet
    shown = Shown(runtime)
    reconcile(runtime, shown, now=now + 120)
    assert shown.asked == [f"j{n}" for n in range(5)]  # oldest first


def test_the_range_query_lists_numbers_within_bounds_oldest_first(runtime):
    for key, value in (("a", 3.0), ("b", 1), ("c", None), ("d", "2"), ("e", 2.5)):
        runtime.state.put("things", key, {"check_at": value, "updated_at": "x"})
    runtime.state.put("things", "f", {"updated_at": "x"})
    found = runtime.state.list("things", span=Span("check_at", None, 3.0))
    assert [d["check_at"] for d in found] == [1, 2.5, 3.0]
    found = runtime.state.list("things", span=Span("check_at", 2.0, 3.0), limit=1)
    assert [d["check_at"] for d in found] == [2.5]


def test_due_jobs_are_read_page_by_page_within_one_pass(runtime, counted, monkeypatch):
    monkeypatch.setattr("svp.runtime.reconciler.PAGE", 3)
    now = time.time()
    for n in range(8):
        counted.put(jobs.JOBS, f"stuck{n}", _running(f"stuck{n}", now - 900 + n, lease=60))
    counted.reset()
    report = reconcile(runtime, Shown(runtime), now=now)
    assert report.redriven == [f"stuck{n}" for n in range(8)]  # oldest first
    assert counted.queries == 3  # 3 + 3 + 2: a short page is the last


def test_a_pass_stops_at_its_budget_and_the_next_goes_on_where_it_stopped(runtime, monkeypatch):
    """The poll keeps its share of the time; jobs left over are the next pass's oldest."""
    clock = iter(range(10**6))  # each look at the reconciler's clock: one second later
    fake_time = SimpleNamespace(time=time.time, monotonic=lambda: next(clock))
    monkeypatch.setattr("svp.runtime.reconciler.time", fake_time)
    now = time.time()
    for n in range(6):
        runtime.state.put(jobs.JOBS, f"stuck{n}", _running(f"stuck{n}", now - 900 + n, lease=60))
    passes = []
    for _ in range(3):
        report = reconcile(runtime, Shown(runtime), now=now, budget=2.5)
        passes.append((report.redriven, report.unfinished))
    assert passes == [
        (["stuck0", "stuck1"], True),
        (["stuck2", "stuck3"], True),
        (["stuck4", "stuck5"], False),
    ]
