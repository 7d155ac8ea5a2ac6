"""A stage that runs past its function's timeout: Cloud Run answers 504 to Pub/Sub but lets it
run on, so nothing it does late may undo what the attempt after it committed."""

from __future__ import annotations

import time
import uuid

import pytest

from svp.config import load_settings
from svp.messages import JobMessage
from svp.runtime import videos
from svp.runtime.envelope import parse_delivery
from svp.runtime.runner import LeaseLost, StageRunner
from svp.wiring import build_runtime
from tests.pipeline_helpers import enqueue, job
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
