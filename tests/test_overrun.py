"""A stage that runs past its function's timeout: Cloud Run answers 504 to Pub/Sub but lets it
run on, so nothing it does late may undo what the attempt after it committed."""

from __future__ import annotations

import time
import uuid

import pytest

from svp.config import load_settings
from svp.messages import JobMessage
from svp.runtime import jobs, videos
from svp.runtime.envelope import parse_delivery
from svp.runtime.runner import LeaseLost, StageRunner
from svp.stages import late_pages
from svp.wiring import build_runtime
from tests.pipeline_helpers import enqueue, job
from tests.test_notion import deliver_to_writer
from tests.test_page_fields import ready
from tests.test_runtime import push_body


@pytest.fixture
def runtime(env, monkeypatch):
    monkeypatch.setenv("SVP_LEASE_SECONDS", "4")
    monkeypatch.setenv("SVP_LIMITS_SCALE", "0.01")  # the writer's 120 s limit becomes 1.2 s
    return build_runtime(load_settings())


def _deliver(runtime, stage: str, work, job_id: str | None = None) -> str:
    """Deliver `stage`'s message for a job (a fresh one by default) to a runner doing `work`."""
    if job_id is None:
        job_id = uuid.uuid4().hex
        enqueue(runtime, job_id, {"url": "https://www.tiktok.com/@a/video/1", "tag": "cooking"})
    body = push_body(JobMessage(job_id, "summarizer"))
    StageRunner(stage, runtime, work).handle(parse_delivery({}, body))
    return job_id


def test_past_its_time_limit_a_stage_makes_no_page(runtime):
    """ensure_held(), called before creating a Notion page, refuses once the function's own
    time limit is near, though this worker still holds the stage."""
    seen: list[str] = []

    def slow_writer(ctx):
        ctx.ensure_held()
        seen.append("first page allowed")
        time.sleep(1.2)  # the writer's limit, scaled: 1.2 s
        try:
            ctx.ensure_held()
        except LeaseLost as exc:
            seen.append(f"refused: {exc.reason}")
            raise
        seen.append("second page allowed")
        return {}

    job_id = _deliver(runtime, "writer", slow_writer)
    assert seen == [
        "first page allowed",
        "refused: writer is past its time limit: leaving it to a new attempt",
    ]
    assert job(runtime, job_id)["stages"]["writer"]["state"] != "done"


def test_each_attempt_keeps_its_own_artifacts(runtime):
    """A fenced-off attempt that runs on writes where nothing reads: the artifact the stage's
    output names is the one its committing attempt wrote, and an earlier attempt's is intact."""
    uris: list[str] = []

    def ocr(ctx):
        uris.append(ctx.save("text.json", f"attempt {len(uris) + 1}".encode()))
        if len(uris) == 1:
            raise RuntimeError("vision timed out")  # transient: the next delivery runs again
        return {"text": uris[-1]}

    job_id = _deliver(runtime, "ocr", ocr)
    _deliver(runtime, "ocr", ocr, job_id)
    assert len(uris) == 2 and uris[0] != uris[1]
    assert job(runtime, job_id)["stages"]["ocr"]["output"] == {"text": uris[1]}
    assert runtime.blobs.get_bytes(uris[0]) == b"attempt 1"
    assert runtime.blobs.get_bytes(uris[1]) == b"attempt 2"


def test_a_page_recorded_by_another_attempt_wins(runtime):
    """Two attempts raced to create a video's page: the one recorded first is the video's, the
    other is refused (the writer then moves its own page to the trash)."""
    state = runtime.state
    key = uuid.uuid4().hex
    state.put(videos.VIDEOS, key, {"owner": "j", "video": "v", "pages": []})
    intent = {"job": "j", "since": "now", "title": "Pasta"}
    assert videos.begin_page(state, key, 0, intent, time.time()) is None
    assert videos.record_page(state, key, 0, {"id": "page-b"}, time.time())
    # The late attempt finds the page recorded since it looked, and updates it ...
    assert videos.begin_page(state, key, 0, intent, time.time()) == {"page": {"id": "page-b"}}
    # ... or, had it created its own page already, cannot record it over the first one.
    assert not videos.record_page(state, key, 0, {"id": "page-a"}, time.time())
    assert videos.record_page(state, key, 0, {"id": "page-b", "title": "Pasta"}, time.time())
    assert state.get(videos.VIDEOS, key)["pages"] == [{"id": "page-b", "title": "Pasta"}]


# -- a page Notion makes after its writer was given up on (svp.stages.late_pages) --------------
def _killed_writer_began(runtime, job_id: str, source: str, title: str) -> tuple[str, dict]:
    """What a writer killed while Notion held its page creation leaves: its intent, no page."""
    job_doc = job(runtime, job_id)
    key, _ = videos.claim_of(runtime.state, job_doc, now=time.time())
    intent = {
        "job": job_id,
        "attempt": "killed-attempt",
        "since": jobs.iso(time.time()),
        "title": title,
        "source": job_doc["link"]["url"],
        "data_source_id": source,
        "user": None,
    }
    assert videos.begin_page(runtime.state, key, 0, intent, time.time()) is None
    return key, intent


def test_a_page_notion_makes_after_its_writer_was_given_up_on_goes_to_the_trash(notion_env):
    """The attempt after a killed writer finds no page yet and makes its own; Notion then applies
    the killed writer's request. Once no given-up attempt can make a page any more, the poll's
    sweep trashes the late one: the video keeps the page its link points at."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Source URL": "url"})
    ready(runtime, "late1", source, [{"name": "Pasta"}], review=False)
    _killed_writer_began(runtime, "late1", source, "Pasta")
    assert deliver_to_writer(runtime, "late1").detail == "done"
    url = job(runtime, "late1")["link"]["url"]
    late = notion_env.add_page(source, {"name": "Pasta", "Source URL": url})  # applied late

    assert late_pages.sweep(runtime) == []  # the killed writer's time is not over yet
    after_window = time.time() + videos.late_window() + 1
    assert late_pages.sweep(runtime, now=after_window) == [late]
    (page,) = notion_env.pages_in(source)
    assert page["id"] == job(runtime, "late1")["stages"]["writer"]["output"]["page_id"]
    assert late_pages.sweep(runtime, now=after_window + 60) == []  # swept once


def test_the_sweep_keeps_every_page_a_claim_of_the_video_records(notion_env):
    """Two people save the same video into one shared Content Database: each gets a page, with
    the same title and link. Sweeping one person's late pages leaves the other's page alone."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Source URL": "url"})
    ready(runtime, "mine", source, [{"name": "Pasta"}], review=False)
    key, _ = _killed_writer_began(runtime, "mine", source, "Pasta")
    video = runtime.state.get(videos.VIDEOS, key)["video"]
    url = job(runtime, "mine")["link"]["url"]
    theirs = notion_env.add_page(source, {"name": "Pasta", "Source URL": url})
    claim = {"owner": "theirs", "video": video, "pages": [{"id": theirs}], "key": "their-claim"}
    runtime.state.put(videos.VIDEOS, "their-claim", claim)

    assert late_pages.sweep(runtime, now=time.time() + videos.late_window() + 1) == []
    assert [p["id"] for p in notion_env.pages_in(source)] == [theirs]


def test_the_sweep_waits_for_a_writer_still_at_work(notion_env):
    """Another person's writer of the same video is creating its page (same title and link, not
    yet recorded): no sweep while it may be, so its page is never taken for a late one."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Source URL": "url"})
    ready(runtime, "mine", source, [{"name": "Pasta"}], review=False)
    key, mine = _killed_writer_began(runtime, "mine", source, "Pasta")
    video = runtime.state.get(videos.VIDEOS, key)["video"]
    at_work_since = time.time() + videos.late_window() - 1
    their_claim = {"owner": "theirs", "video": video, "pages": []}
    runtime.state.put(videos.VIDEOS, "their-claim", their_claim)
    theirs = {**mine, "job": "theirs", "attempt": "at-work", "since": jobs.iso(at_work_since)}
    videos.begin_page(runtime.state, "their-claim", 0, theirs, at_work_since)
    url = job(runtime, "mine")["link"]["url"]
    made = notion_env.add_page(source, {"name": "Pasta", "Source URL": url})

    assert late_pages.sweep(runtime, now=at_work_since + 2) == []
    assert [p["id"] for p in notion_env.pages_in(source)] == [made]
    deferred = runtime.state.get(videos.VIDEOS, key)["sweep_at"]
    assert deferred >= at_work_since + videos.late_window() - 1  # `since` is in whole seconds


def test_a_sweep_that_keeps_failing_gives_up_with_a_reason(notion_env, caplog):
    """The person disconnected Notion: the sweep tries again with longer waits, then forgets the
    intents with an error saying what may be left, rather than trying for ever."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Source URL": "url"})
    ready(runtime, "gone", source, [{"name": "Pasta"}], review=False)
    key, intent = _killed_writer_began(runtime, "gone", source, "Pasta")
    runtime.state.update(
        videos.VIDEOS, key, lambda d: ({**d, "intents": {"0": {**intent, "user": "left"}}}, None)
    )
    waits, now = [], time.time() + videos.late_window() + 1
    while (due := runtime.state.get(videos.VIDEOS, key)["sweep_at"]) is not None:
        waits.append(round(max(due, now) - now))
        now = max(due, now)
        assert late_pages.sweep(runtime, now=now) == []
    assert waits[1:4] == [60, 120, 240]
    assert len(waits) == late_pages.TRIES
    assert "gave up looking for late pages" in caplog.text
