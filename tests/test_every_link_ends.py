"""Every link ends `done` with its one page, or `failed` with a reason, whatever crashes, times
out or arrives twice: one test per case found by trying (the issue "Every link ends, with
exactly one page"), each through the real poller, runner, reconciler and writer against the
fake Notion; the media stages are stand-ins (they make no Notion calls)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from svp.config import load_settings
from svp.messages import JobMessage
from svp.notion.registry import Registry
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.dispatch import run_until_settled
from svp.runtime.envelope import parse_delivery
from svp.runtime.reconciler import reconcile
from svp.runtime.runner import StageContext, StageRunner
from svp.stages.downloader import settle_identity
from svp.stages.poller import poll
from svp.stages.status import link_status
from svp.wiring import build_runtime
from svp.wiring import dispatcher as local_dispatcher
from tests.fakes._server import Fault, Reply
from tests.fakes.notion import FakeNotion, plain
from tests.test_runtime import push_body

LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking", "places", "food/asian"]},
    "status": {"type": "select", "options": ["pending", "queued", "done", "failed"]},
    "processing_type": {"type": "select", "options": ["reprocess"]},
    "error": "rich_text",
    "result": "url",
    "updated_time": "date",
}
CONTENT_SCHEMA = {"name": "title", "video_link": "url", "steps": "rich_text"}
SUBSCRIPTIONS = "projects/p/subscriptions"


@pytest.fixture
def notion(env, monkeypatch, fake_notion: FakeNotion) -> FakeNotion:
    monkeypatch.setenv("NOTION_TOKEN", fake_notion.token)
    monkeypatch.setenv("NOTION_BASE_URL", fake_notion.base_url)
    monkeypatch.setenv("SVP_LEASE_SECONDS", "1")
    return fake_notion


@pytest.fixture
def world(notion: FakeNotion):
    """A Link Database and a Content Database for `cooking` and `places`, registered."""
    _, links = notion.add_database("Links", LINK_SCHEMA)
    _, recipes = notion.add_database("Recipes", CONTENT_SCHEMA)
    _, places = notion.add_database("Places", CONTENT_SCHEMA)
    runtime = build_runtime(load_settings(dotenv=None))
    registry = Registry(runtime)
    registry.save({"kind": "link", "data_source_id": links, "database_id": "", "title": "L"})
    for tag, source in (("cooking", recipes), ("places", places)):
        registry.save(
            {
                "kind": "content",
                "tag": tag,
                "data_source_id": source,
                "database_id": "",
                "title": tag,
            }
        )
    return runtime, links, {"cooking": recipes, "places": places}


def stub_works(resolve: dict[str, tuple[str, str]] | None = None, hold=None) -> dict:
    """Stand-in media stages: the downloader "resolves" URLs through `resolve` (URL ->
    (extractor, id)), as yt-dlp's info does; `hold(stage)` may block a stage."""

    def downloader(ctx: StageContext) -> dict:
        url = ctx.job["link"]["url"]
        extractor, video_id = (resolve or {}).get(url, ("Generic", ""))
        info = {"extractor_key": extractor, "id": video_id, "webpage_url": url}
        uri = ctx.save("info.json", json.dumps(info).encode())
        return {"artifacts": {"info": uri}, "same_video_as": settle_identity(ctx, info)}

    def plain_stage(stage: str):
        def work(ctx: StageContext) -> dict:
            if hold:
                hold(stage)
            return {"artifacts": {stage: ctx.save(f"{stage}.txt", b"x")}}

        return work

    def summarizer(ctx: StageContext) -> dict:
        values = {"name": "Tomato pasta", "steps": "Boil, then eat."}
        summary = {
            "items": [values],
            "evidence": [{}],
            "engine": "stand-in",
            "needs_review": False,
            "notes": [],
            "summary": "A summary.",
            "content": {"caption": "", "transcript": "", "screen_lines": []},
        }
        return {"artifacts": {"summary": ctx.save("summary.json", json.dumps(summary).encode())}}

    return {
        "downloader": downloader,
        "transcriber": plain_stage("transcriber"),
        "ocr": plain_stage("ocr"),
        "summarizer": summarizer,
    }


def run_once(runtime: Runtime, works: dict | None = None):
    """What `svp run --once` does, with stand-in media stages."""
    status = link_status(runtime)
    report = poll(runtime, status)
    dispatcher = local_dispatcher(runtime, works or stub_works())
    run_until_settled(runtime, dispatcher)
    dispatcher.close()
    return report


def add_link(notion: FakeNotion, links: str, url: str, tag: str = "cooking", **more) -> str:
    return notion.add_page(
        links, {"Name": url, "url": url, "tag": tag, "status": "pending", **more}
    )


def row(notion: FakeNotion, page: str) -> tuple[str, str]:
    shown = notion.page(page)
    return plain(shown, "status"), plain(shown, "result") or plain(shown, "error")


# -- duplicates ---------------------------------------------------------------------------------
def test_1_the_same_video_saved_twice_before_the_first_finishes_gives_one_page(notion, world):
    runtime, links, dbs = world
    first = add_link(notion, links, "https://www.youtube.com/shorts/dQw4w9WgXcQ")
    second = add_link(notion, links, "https://youtu.be/dQw4w9WgXcQ?si=shared")
    third = add_link(notion, links, "https://vm.tiktok.com/ZMshort/")  # resolves to the same
    works = stub_works({"https://vm.tiktok.com/ZMshort/": ("Youtube", "dQw4w9WgXcQ")})
    run_once(runtime, works)
    (page,) = notion.pages_in(dbs["cooking"])
    for link in (first, second, third):
        assert row(notion, link) == ("done", page["url"])


@pytest.mark.parametrize(
    ("same", "urls"),
    [
        (
            True,
            [
                "https://www.youtube.com/shorts/dQw4w9WgXcQ",
                "https://youtu.be/dQw4w9WgXcQ",
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
                "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://www.youtube.com/embed/dQw4w9WgXcQ",
                "https://www.youtube.com/live/dQw4w9WgXcQ",
                "https://youtu.be/dQw4w9WgXcQ?si=x",
            ],
        ),
        (
            True,
            [
                "https://www.tiktok.com/@User/video/7234567890123456789",
                "https://www.tiktok.com/@user/video/7234567890123456789?is_from_webapp=1",
                "https://www.tiktok.com/share/video/7234567890123456789",
            ],
        ),
        (
            True,
            [
                "https://www.instagram.com/p/Cabcdef123/",
                "https://www.instagram.com/reel/Cabcdef123/?igsh=xx",
                "https://www.instagram.com/tv/Cabcdef123",
                "https://www.instagram.com/p/Cabcdef123/?img_index=2",
            ],
        ),
        (
            True,
            [
                "http://127.0.0.1:8000/clips/a.mp4",
                "http://127.0.0.1:8000/clips/a.mp4#t=3",
                "HTTP://127.0.0.1:8000/clips/a.mp4?utm_source=x&fbclid=y",
            ],
        ),
        (
            False,
            [
                "https://youtube.com/#/watch?v=AAAAAAAAAAA",
                "https://youtube.com/#/watch?v=BBBBBBBBBBB",
            ],
        ),
        (
            False,
            [
                "https://www.youtube.com/watch#!v=AAAAAAAAAAA",
                "https://www.youtube.com/watch#!v=BBBBBBBBBBB",
            ],
        ),
        (
            False,
            [
                "https://www.youtube.com/watch?v=AAAAAAAAAAA&v=BBBBBBBBBBB",
                "https://www.youtube.com/watch?v=BBBBBBBBBBB&v=AAAAAAAAAAA",
            ],
        ),
        (False, ["http://127.0.0.1:8000/v?sid=1", "http://127.0.0.1:8000/v?sid=2"]),
        (
            False,
            [
                "http://127.0.0.1:8000/v?site=a&signature=1",
                "http://127.0.0.1:8000/v?site=a&signature=2",
            ],
        ),
    ],
)
def test_2_a_video_has_one_key_whatever_its_url_form_and_two_videos_never_share_one(same, urls):
    from svp.media.identity import video_key_from_url

    keys = {video_key_from_url(url) for url in urls}
    assert len(keys) == (1 if same else len(urls)), keys


def test_3_a_link_set_back_to_pending_or_reprocessed_updates_its_page(notion, world):
    runtime, links, dbs = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000001")
    run_once(runtime)
    (page,) = notion.pages_in(dbs["cooking"])
    _set(notion, link, status="pending")  # within the minute: last_edited_time is the same
    report = run_once(runtime)
    assert report.queued == [link.replace("-", "")]
    _set(notion, link, status="pending", processing_type="reprocess")
    assert run_once(runtime).queued == [link.replace("-", "")]
    later = add_link(notion, links, "https://www.tiktok.com/@b/video/7000000000000000001")
    assert run_once(runtime).duplicates == [later.replace("-", "")]
    assert [p["id"] for p in notion.pages_in(dbs["cooking"])] == [page["id"]]
    assert row(notion, link) == row(notion, later) == ("done", page["url"])


def test_16_the_same_video_under_another_tag_gets_a_page_in_that_database(notion, world):
    runtime, links, dbs = world
    url = "https://www.instagram.com/reel/Cabcdef123/"
    cooking = add_link(notion, links, url)
    run_once(runtime)
    places = add_link(notion, links, url, tag="places")
    run_once(runtime)
    (recipe,) = notion.pages_in(dbs["cooking"])
    (place,) = notion.pages_in(dbs["places"])
    assert row(notion, cooking) == ("done", recipe["url"])
    assert row(notion, places) == ("done", place["url"])


# -- links that never end ---------------------------------------------------------------------
def _held_by_a_dead_worker(runtime: Runtime, job_id: str, stage: str, lease: float) -> None:
    """What a worker killed mid-stage leaves: the stage running under its lease."""

    def hold(doc):
        # A claim, as the worker made it before it died (it sets the job's check_at too).
        now = time.time()
        return jobs.claim(
            doc, stage, now=now, token="dead", lease=lease, deadline=600, worker="dead"
        )[0], None

    runtime.state.update(jobs.JOBS, job_id, hold)


def test_4_a_busy_delivery_on_the_last_attempt_never_leaves_the_job_behind(notion, world):
    runtime, links, dbs = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000004")
    status = link_status(runtime)
    poll(runtime, status)
    job_id = link.replace("-", "")
    _held_by_a_dead_worker(runtime, job_id, "downloader", lease=1.0)
    runner = StageRunner("downloader", runtime, stub_works()["downloader"], status)
    body = push_body(JobMessage(job_id, "poller"), attempt=runtime.settings.max_deliveries)
    assert runner.handle(parse_delivery({}, body)).ack  # busy: the last delivery is acked
    time.sleep(1.2)  # the dead worker's lease runs out
    dispatcher = local_dispatcher(runtime, stub_works())
    run_until_settled(runtime, dispatcher)
    dispatcher.close()
    (page,) = notion.pages_in(dbs["cooking"])
    assert row(notion, link) == ("done", page["url"])


def test_4_a_stage_that_keeps_dying_fails_the_job_with_a_reason(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000044")
    status = link_status(runtime)
    poll(runtime, status)
    job_id = link.replace("-", "")
    for _ in range(runtime.settings.max_attempts):
        _held_by_a_dead_worker(runtime, job_id, "downloader", lease=0.0)
        reconcile(runtime, status)
    state, reason = row(notion, link)
    assert state == "failed"
    assert reason.startswith("stopped responding during downloading after 3 attempts")


def test_5_a_slow_llm_gets_the_fallback_before_the_summarizer_is_killed(
    env, monkeypatch, fake_gemini
):
    from svp.summary.content import Content
    from svp.summary.summarize import deadline_for, summarize

    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("SVP_LLM_TIMEOUT", "2")
    settings = load_settings(dotenv=None)
    fake_gemini.slow_down(":generateContent", 1.5)
    fake_gemini.fail_next(503, times=9)
    stage_deadline = time.time() + 2 + 15 + 2  # the LLM timeout, the finish time, 2 s of work
    started = time.time()
    summary = summarize(
        Content(url="https://x.test/v", tag="cooking", caption="Pasta."),
        {"name": {"name": "name", "type": "title"}},
        settings,
        deadline=deadline_for(settings, stage_deadline),
    )
    assert summary["engine"] == "extractive" and summary["needs_review"]
    assert "no time left" in summary["notes"][0]
    assert time.time() - started < stage_deadline - started - 15  # time left to finish


def test_5_a_scaled_summarizer_still_asks_the_llm(env, monkeypatch, fake_gemini):
    """The local cloud shrinks every limit (SVP_LIMITS_SCALE=0.05: the summarizer gets 15 s
    and its margin 1.5 s): the time kept to finish shrinks with them, so the LLM is asked."""
    from svp import limits
    from svp.summary.content import Content
    from svp.summary.summarize import deadline_for, summarize

    monkeypatch.setenv("SVP_LIMITS_SCALE", "0.05")
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("SVP_LLM_TIMEOUT", "2")
    settings = load_settings(dotenv=None)
    fake_gemini.responder = lambda body: {"name": "Pasta"}
    summary = summarize(
        Content(url="https://x.test/v", tag="cooking", caption="Pasta."),
        {"name": {"name": "name", "type": "title"}},
        settings,
        deadline=deadline_for(settings, time.time() + limits.deadline_seconds("summarizer")),
    )
    assert summary["engine"] != "extractive", summary["notes"]
    assert len(fake_gemini.calls) == 1


def test_6_a_person_whose_token_cannot_be_decrypted_is_asked_to_reconnect(notion, world):
    from cryptography.fernet import Fernet

    from svp.accounts import USERS, save_user, users

    runtime, links, _ = world
    alice = notion.add_workspace("Alice")
    _, her_links = notion.add_database("Her links", LINK_SCHEMA, workspace=alice)
    user = save_user(
        runtime, {"access_token": "t", "workspace_id": alice.id, "bot_id": alice.bot_id}
    )
    Registry(runtime, user["user_id"]).save(
        {"kind": "link", "data_source_id": her_links, "database_id": "", "title": "Hers"}
    )
    sealed = Fernet(Fernet.generate_key()).encrypt(b"t").decode()  # a rotated key's token
    runtime.state.update(USERS, user["user_id"], lambda d: ({**d, "token": sealed}, None))
    mine = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000006")
    report = run_once(runtime)  # no exception: the others are polled
    assert report.queued == [mine.replace("-", "")]
    assert any("cannot be decrypted" in error for error in report.errors)
    (hers,) = [u for u in users(runtime) if u["user_id"] == user["user_id"]]
    assert hers["needs_reconnect"] and "sign in with Notion again" in hers["reconnect_reason"]


def test_7_a_message_dead_lettered_before_its_code_ran_fails_its_job(notion, world, monkeypatch):
    """Cloud Run refused every delivery (instance limit): Pub/Sub pushes the dead letter to the
    poller's /dead-letter path."""
    import base64

    from svp import functions

    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000007")
    poll(runtime, link_status(runtime))
    job_id = link.replace("-", "")
    message = JobMessage(job_id, "poller")
    envelope = {
        "message": {
            "data": base64.b64encode(message.encode()).decode(),
            "messageId": "d-1",
            "attributes": {
                **message.attributes(),
                "CloudPubSubDeadLetterSourceDeliveryCount": "15",
                "CloudPubSubDeadLetterSourceSubscription": f"{SUBSCRIPTIONS}/svp-downloader-push",
            },
        },
        "subscription": "projects/p/subscriptions/svp-poller-dead-letters",
    }

    class Request:
        path = "/dead-letter"
        headers: ClassVar = {"Content-Type": "application/json"}

        def get_data(self) -> bytes:
            return json.dumps(envelope).encode()

    functions.reset()
    try:
        body, code, _ = functions.poller_handler(Request())
    finally:
        functions.reset()
    assert code == 200 and json.loads(body)["status"] == "failed"
    state, reason = row(notion, link)
    assert state == "failed"
    assert "downloader did not finish after 15 deliveries" in reason
    assert f"svp replay --job {job_id}" in reason


def test_8_a_connection_reset_by_notion_during_a_poll_ends_nothing(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000008")
    resets = iter(range(2))
    notion.fault_plan = lambda r: (
        Fault("drop") if "/query" in r.path and next(resets, None) is not None else None
    )
    report = run_once(runtime)  # the query is retried: a reset hides nothing applied
    assert report.queued == [link.replace("-", "")] and not report.errors
    notion.fault_plan = lambda r: Fault("drop") if "/query" in r.path else None
    report = poll(runtime, link_status(runtime))
    assert report.errors and "could not be reached" in report.errors[0]


def test_8_the_poll_loop_survives_a_failing_poll(notion, world, monkeypatch):
    from svp import cli

    runtime, _, _ = world
    calls: list[int] = []
    stop = threading.Event()

    def failing_poll(runtime, status):
        calls.append(1)
        if len(calls) == 2:
            stop.set()
        raise RuntimeError("a bug in one poll")

    monkeypatch.setattr("svp.stages.poller.poll", failing_poll)
    monkeypatch.setenv("SVP_POLL_INTERVAL", "1")
    runtime = build_runtime(load_settings(dotenv=None))
    cli.poll_forever(runtime, None, stop)
    assert len(calls) == 2


def test_9_a_status_write_notion_refused_is_written_at_the_next_poll(notion, world):
    runtime, links, dbs = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000009")
    down = Reply(
        503, {"object": "error", "status": 503, "code": "service_unavailable", "message": "down"}
    )

    def refuse_the_end(request):
        ends = '"done"' in request.body.decode() or '"failed"' in request.body.decode()
        if request.method == "PATCH" and f"/pages/{link}" in request.path and ends:
            return Fault("reply", down)
        return None

    notion.fault_plan = refuse_the_end
    run_once(runtime)
    assert row(notion, link)[0] == "queued"  # the poller never looks at a queued row
    notion.fault_plan = None
    run_once(runtime)
    (page,) = notion.pages_in(dbs["cooking"])
    assert row(notion, link) == ("done", page["url"])


def test_9_a_stale_status_landing_after_done_is_corrected(notion, world):
    runtime, links, dbs = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000019")
    run_once(runtime)
    _set(notion, link, status="queued")  # a slow worker's write lands late
    report = run_once(runtime)
    assert report.corrected == [link.replace("-", "")]
    (page,) = notion.pages_in(dbs["cooking"])
    assert row(notion, link) == ("done", page["url"])


def test_10_a_worker_starting_while_another_writes_waits_for_the_lock(tmp_path: Path):
    from svp.adapters.sqlite_db import connect

    path = tmp_path / "state.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # the first worker, creating the database
    writer.execute("CREATE TABLE t (x)")
    threading.Timer(0.5, lambda: writer.execute("COMMIT")).start()
    conn = connect(path)  # waits instead of "database is locked"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- links that fail or restart wrongly ----------------------------------------------------------
def test_11_a_transient_notion_error_while_resolving_the_tag_leaves_the_link_pending(
    notion, monkeypatch
):
    _, links = notion.add_database("Links", LINK_SCHEMA)
    recipes_db, _ = notion.add_database("Recipes", CONTENT_SCHEMA)
    monkeypatch.setenv("SVP_LINK_DATABASES", links)
    monkeypatch.setenv("SVP_CONTENT_DATABASES", f"cooking={recipes_db}")
    runtime = build_runtime(load_settings(dotenv=None))
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000011")
    busy = Reply(
        429,
        {"object": "error", "status": 429, "code": "rate_limited", "message": "x"},
        {"Retry-After": "0"},
    )
    target = recipes_db.replace("-", "")
    notion.fault_plan = lambda r: (
        Fault("reply", busy) if target in r.path.replace("-", "") else None
    )
    report = poll(runtime, link_status(runtime))
    assert report.failed == [] and "left pending" in report.errors[0]
    assert row(notion, link)[0] == "pending"
    notion.fault_plan = None
    assert poll(runtime, link_status(runtime)).queued == [link.replace("-", "")]


def test_12_a_tag_with_a_slash_is_a_valid_firestore_key():
    from svp.adapters.firestore_state import _check_key
    from svp.notion.registry import content_key

    _check_key("key", content_key("food/asian", "u1"))
    assert content_key("food/asian") != content_key("food")


def test_13_a_link_set_back_to_pending_in_the_minute_its_job_ended_is_restarted(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000013")
    run_once(runtime)
    _set(notion, link, status="pending")  # same minute: last_edited_time has not moved
    assert run_once(runtime).queued == [link.replace("-", "")]
    assert row(notion, link)[0] == "done"


def test_13_a_poll_that_read_a_row_before_its_job_ended_leaves_the_end_alone(notion, world):
    """Polls overlap when one is slow: a poll that read the row as pending before another
    poll's job for it ended neither runs the link again nor writes its place over its end."""
    import copy

    from svp.notion.links import read_entry
    from svp.stages.poller import PollReport, enqueue

    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000113")
    read_early = copy.deepcopy(notion.page(link))  # the slow poll's read: pending
    run_once(runtime)  # another poll admits it; its job ends, Notion shows done
    shown = row(notion, link)
    job_id = link.replace("-", "")
    attempts = runtime.state.get(jobs.JOBS, job_id)["stages"]["downloader"]["attempts"]

    report = PollReport()
    enqueue(runtime, link_status(runtime), read_entry(read_early, links), report)
    assert (report.queued, report.held, report.skipped) == ([], [], 1)
    assert row(notion, link) == shown
    assert runtime.state.get(jobs.JOBS, job_id)["stages"]["downloader"]["attempts"] == attempts


def test_14_queued_is_shown_before_the_downloader_can_start(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000014")
    seen_at_publish: list[str] = []
    publish = runtime.bus.publish

    def watching(topic, data, attributes):
        seen_at_publish.append(row(notion, link)[0])
        return publish(topic, data, attributes)

    runtime.bus.publish = watching
    poll(runtime, link_status(runtime))
    assert seen_at_publish == ["queued"]


def test_15_a_worker_that_lost_its_claim_cannot_overwrite_its_successor(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000015")
    poll(runtime, link_status(runtime))
    job_id = link.replace("-", "")
    body = push_body(JobMessage(job_id, "poller"))
    release, entered = threading.Event(), threading.Event()

    def stalled(ctx: StageContext) -> dict:
        entered.set()
        release.wait(10)
        return {"artifacts": {"media": "stale"}}

    def prompt(ctx: StageContext) -> dict:
        return {"artifacts": {"media": "fresh"}}

    late = threading.Thread(
        target=StageRunner("downloader", runtime, stalled).handle, args=(parse_delivery({}, body),)
    )
    late.start()
    entered.wait(5)
    # Its process froze (no heartbeat) until the lease ran out and the stage was re-driven.
    runtime.state.update(
        jobs.JOBS,
        job_id,
        lambda d: (
            {
                **d,
                "stages": {
                    **d["stages"],
                    "downloader": {**d["stages"]["downloader"], "lease_until": 0},
                },
            },
            None,
        ),
    )
    assert (
        StageRunner("downloader", runtime, prompt).handle(parse_delivery({}, body)).detail == "done"
    )
    release.set()
    late.join()
    done = runtime.state.get(jobs.JOBS, job_id)["stages"]["downloader"]
    assert done["state"] == "done" and done["output"]["artifacts"]["media"] == "fresh"


def test_17_a_stage_running_longer_than_its_lease_is_not_run_twice(notion, world):
    runtime, links, _ = world
    link = add_link(notion, links, "https://www.tiktok.com/@a/video/7000000000000000017")
    poll(runtime, link_status(runtime))
    job_id = link.replace("-", "")
    body = push_body(JobMessage(job_id, "poller"))
    runs: list[int] = []

    def slow(ctx: StageContext) -> dict:
        runs.append(1)
        time.sleep(2.5)  # SVP_LEASE_SECONDS=1: the heartbeat renews it meanwhile
        return {}

    first = threading.Thread(
        target=StageRunner("downloader", runtime, slow).handle, args=(parse_delivery({}, body),)
    )
    first.start()
    time.sleep(1.5)
    again = StageRunner("downloader", runtime, slow).handle(parse_delivery({}, body))
    first.join()
    assert again.detail == "stage busy" and runs == [1]


def _set(notion: FakeNotion, page: str, **values: str) -> None:
    """A person edits the row in Notion (through Notion's API, as the app does)."""
    import notion_client

    from tests.fakes.notion import to_notion_value

    client = notion_client.Client(auth=notion.token, base_url=notion.base_url)
    schema = notion.schema(notion.page(page)["parent"]["data_source_id"])
    client.pages.update(
        page_id=page,
        properties={
            name: to_notion_value(schema[name]["type"], value) for name, value in values.items()
        },
    )


def test_18_a_burst_waits_in_notion_for_room_showing_each_link_its_place(
    notion, world, monkeypatch
):
    """Admission, not retries, is the queue: with room for 2 jobs at work, a poll starts 2
    links and leaves the others pending, each row showing its place; a row is rewritten only
    when its place changes; as jobs end, the next polls start the rest, and every link ends."""
    runtime, links, _ = world
    monkeypatch.setattr("svp.stages.poller.capacity", lambda on_gcp: 2)
    pages = [
        add_link(notion, links, f"https://www.tiktok.com/@a/video/70000000000000001{n:02d}")
        for n in range(5)
    ]
    report = poll(runtime, link_status(runtime))
    assert len(report.queued) == 2 and len(report.held) == 3
    held = [page for page in pages if page.replace("-", "") in report.held]
    assert [row(notion, page) for page in held] == [
        ("pending", "waiting: next in line"),
        ("pending", "waiting: 1 ahead"),
        ("pending", "waiting: 2 ahead"),
    ]
    writes = len(notion.requests_to("/pages/", "PATCH"))
    again = poll(runtime, link_status(runtime))  # nothing ended meanwhile
    assert again.queued == [] and sorted(again.held) == sorted(report.held)
    assert len(notion.requests_to("/pages/", "PATCH")) == writes  # places unchanged: unwritten

    for _ in range(3):  # each `svp run --once` finishes what it started
        run_once(runtime)
    assert [row(notion, page)[0] for page in pages] == ["done"] * 5
