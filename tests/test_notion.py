"""Notion done right: registration, every property type within limits, one page per link,
rate limits, revoked access and webhooks; all through notion-client against the fake."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from svp.accounts import notion_for
from svp.cli import main as svp
from svp.config import LOCAL_USER, load_settings
from svp.messages import JobMessage
from svp.notion.gateway import NotionGateway
from svp.notion.properties import encode_properties
from svp.notion.ratelimit import RateLimiter
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.envelope import parse_delivery
from svp.runtime.runner import StageRunner
from svp.stages.writer import run as write
from svp.wiring import build_runtime
from tests.fakes.notion import plain
from tests.test_runtime import push_body

ROOT = Path(__file__).resolve().parents[1]
LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending", "done", "failed"]},
    "error": "rich_text",
    "result": "url",
    "updated_time": "date",
}
EVERY_TYPE = {
    "Name": "title",
    "Notes": "rich_text",
    "Servings": "number",
    "Course": {"type": "select", "options": ["main"]},
    "Tags": "multi_select",
    "Stage": {"type": "status", "options": ["Idea", "Cooked"]},
    "Cooked on": "date",
    "Video": "url",
    "Contact": "email",
    "Phone": "phone_number",
    "Vegan": "checkbox",
    "Photos": "files",
}


def writer_ready_job(
    runtime: Runtime,
    job_id: str,
    target: dict,
    link: dict,
    items: list,
    evidence: list | None = None,
) -> None:
    """A job whose stages up to the summarizer are done, with the given summary."""
    job = jobs.new_job(job_id, link, target, time.time())
    summary = {
        "items": items,
        "evidence": evidence or [{} for _ in items],
        "engine": "gemini",
        "needs_review": False,
        "notes": [],
        "summary": "A summary.",
        "content": {"caption": "cap", "transcript": "words", "screen_lines": [], "language": "en"},
    }
    uri = runtime.blobs.put_bytes(
        f"jobs/{job_id}/summarizer/summary.json", json.dumps(summary).encode()
    )
    for stage in ("downloader", "transcriber", "ocr", "summarizer"):
        job["stages"][stage].update(state="done", output={})
    job["stages"]["summarizer"]["output"] = {"artifacts": {"summary": uri}}
    runtime.state.put(jobs.JOBS, job_id, job)


def deliver_to_writer(runtime: Runtime, job_id: str):
    body = push_body(JobMessage(job_id, "summarizer"))
    return StageRunner("writer", runtime, write).handle(parse_delivery({}, body))


# -- registration ----------------------------------------------------------------------------
def test_registering_a_link_database_says_exactly_what_is_missing(notion_env, capsys):
    db, _ = notion_env.add_database("My links", {"Name": "title", "url": "rich_text"})
    assert svp(["register", "link-db", f"https://www.notion.so/ws/My-links-{db}?v=1"]) == 1
    err = capsys.readouterr().err
    assert "'url' is rich_text, expected url" in err
    assert "missing property 'tag' (select)" in err
    assert "missing property 'status' (select or status)" in err
    assert "--fix" in err


def test_fix_adds_the_missing_properties_and_registers(notion_env, capsys):
    db, source = notion_env.add_database("Links", {"Name": "title"})
    assert svp(["register", "link-db", db, "--fix"]) == 0
    schema = notion_env.schema(source)
    assert {n: p["type"] for n, p in schema.items()} == {
        "Name": "title",
        "url": "url",
        "tag": "select",
        "status": "select",
        "processing_type": "select",
        "updated_time": "date",
        "error": "rich_text",
        "result": "url",
    }
    assert "pending" in [o["name"] for o in schema["status"]["select"]["options"]]
    assert svp(["register", "list"]) == 0
    assert f"link-db     Links  {source}" in capsys.readouterr().out
    assert svp(["register", "remove", db]) == 0
    assert svp(["register", "list"]) == 0
    assert "nothing registered" in capsys.readouterr().out


def test_a_status_typed_property_must_have_the_pipeline_options(notion_env, capsys):
    db, _ = notion_env.add_database(
        "Links", {**LINK_SCHEMA, "status": {"type": "status", "options": ["pending", "done"]}}
    )
    assert svp(["register", "link-db", db]) == 0
    assert "lacks the options queued, downloading" in capsys.readouterr().err


def test_content_databases_route_tags_and_unknown_tags_list_the_registered_ones(notion_env, capsys):
    _, links = notion_env.add_database("Links", LINK_SCHEMA)
    cooking_db, _ = notion_env.add_database("Recipes", {"name": "title", "video_link": "url"})
    places_db, _ = notion_env.add_database("Places", {"name": "title"})
    assert svp(["register", "link-db", links]) == 0
    assert (
        svp(["register", "content-db", cooking_db, "--tag", "Cooking", "--prompt", "metric units"])
        == 0
    )
    assert svp(["register", "content-db", places_db, "--tag", "places", "--many"]) == 0
    assert "no url property for the video's link" in capsys.readouterr().err
    page = notion_env.add_page(
        links,
        {
            "Name": "x",
            "url": "https://www.tiktok.com/@a/video/1",
            "tag": "travel",
            "status": "pending",
        },
    )
    assert svp(["run", "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] == [page.replace("-", "")]
    assert plain(notion_env.page(page), "status") == "failed"
    assert plain(notion_env.page(page), "error") == (
        "no Content Database is registered for tag 'travel'; registered tags: cooking, places"
    )
    assert svp(["register", "list", "--json"]) == 0
    listed = {r.get("tag"): r for r in json.loads(capsys.readouterr().out)}
    assert listed["cooking"]["prompt"] == "metric units" and listed["places"]["many"] is True


def test_registration_without_access_says_to_share_the_database(notion_env, capsys):
    assert svp(["register", "content-db", "0" * 32, "--tag", "cooking"]) == 1
    assert "share the database with the integration" in capsys.readouterr().err


# -- writing pages ---------------------------------------------------------------------------
def test_every_property_type_is_written_within_notions_limits(notion_env):
    _, source = notion_env.add_database("Everything", EVERY_TYPE)
    notion = NotionGateway(notion_env.token, notion_env.base_url)
    values = {
        "Name": "A, long; title",
        "Notes": "word " * 1500,
        "Servings": "3",
        "Course": "dessert, sweet",
        "Tags": [f"tag {i}, x" for i in range(130)],
        "Stage": "Invented status",
        "Cooked on": "2026-11-02",
        "Video": "https://x.y/" + "a" * 2100,
        "Contact": "chef@example.com",
        "Phone": "+1 555 0100",
        "Vegan": "yes",
        "Photos": ["https://img.example/1.jpg", "not a url"],
    }
    properties = encode_properties(notion.schema(source), values)
    page = notion.create_page(source, properties)  # the fake answers 400 for any violation
    stored = notion_env.page(page["id"])
    assert plain(stored, "Servings") == 3
    assert plain(stored, "Notes") == values["Notes"].strip()  # split, not cut
    assert plain(stored, "Course") == "dessert sweet"  # new option created, comma removed
    assert len(plain(stored, "Tags")) == 100
    assert "Stage" not in properties  # a status option cannot be created: not sent
    assert plain(stored, "Stage") == "Idea"  # Notion's default status
    assert plain(stored, "Video") is None  # over 2000 characters: dropped
    assert plain(stored, "Vegan") is True and plain(stored, "Cooked on") == "2026-11-02"
    assert [f["external"]["url"] for f in stored["properties"]["Photos"]["files"]] == [
        "https://img.example/1.jpg"
    ]


def test_a_writer_crash_after_notion_created_the_page_makes_no_second_page(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "video_link": "url"})
    target = {"tag": "cooking", "data_source_id": source}
    link = {"url": "https://www.tiktok.com/@chef/video/7", "tag": "cooking"}
    writer_ready_job(runtime, "w1", target, link, [{"name": "Pasta"}])
    assert deliver_to_writer(runtime, "w1").detail == "done"
    # The process died before the commit: the stage is pending again and the message returns.
    runtime.state.update(
        jobs.JOBS,
        "w1",
        lambda d: (
            {
                **d,
                "status": "writing",
                "stages": {**d["stages"], "writer": {"state": "pending", "attempts": 1}},
            },
            None,
        ),
    )
    assert deliver_to_writer(runtime, "w1").detail == "done"
    assert deliver_to_writer(runtime, "w1").detail == "already done"
    (page,) = notion_env.pages_in(source)
    assert plain(page, "name") == "Pasta"
    assert jobs.output_of(runtime.state.get(jobs.JOBS, "w1"), "writer")["page_id"] == page["id"]


def test_several_items_become_several_pages_with_their_evidence(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database(
        "Places", {"name": "title", "video_link": "url", "address": "rich_text"}
    )
    items = [{"name": f"Café {n}", "address": f"Rua {n}"} for n in ("A", "B", "C")]
    evidence = [{"name": "on-screen text at 0:04", "address": "transcript at 0:10"}] * 3
    writer_ready_job(
        runtime,
        "many",
        {"tag": "places", "data_source_id": source, "many": True},
        {"url": "https://www.instagram.com/reel/abc/"},
        items,
        evidence,
    )
    assert deliver_to_writer(runtime, "many").detail == "done"
    pages = sorted(notion_env.pages_in(source), key=lambda p: plain(p, "name"))
    assert [plain(p, "name") for p in pages] == ["Café A", "Café B", "Café C"]
    assert all(plain(p, "video_link") == "https://www.instagram.com/reel/abc/" for p in pages)
    assert "address: transcript at 0:10" in notion_env.page_text(pages[0]["id"])


def test_a_renamed_property_refreshes_the_cached_schema_and_the_write_succeeds(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "steps": "rich_text"})
    notion = notion_for(runtime, LOCAL_USER)
    assert notion is not None
    notion.schema(source)  # cached now
    notion.client.data_sources.update(  # the user renames a property in Notion
        data_source_id=source, properties={"steps": {"name": "method"}}
    )
    writer_ready_job(
        runtime,
        "r1",
        {"tag": "cooking", "data_source_id": source},
        {"url": ""},
        [{"name": "Soup", "steps": "Boil.", "method": "Boil."}],
    )
    assert deliver_to_writer(runtime, "r1").detail == "done"
    (page,) = notion_env.pages_in(source)
    assert plain(page, "method") == "Boil."


# -- rate limits and access ------------------------------------------------------------------
def test_the_rate_limiter_spaces_requests_shared_by_all_callers():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(9):
        limiter.acquire()
    assert now[0] == pytest.approx(2.0)  # 9 requests at 3/s after a burst of 3
    assert slept[0] == pytest.approx(1 / 3)


def test_429_and_529_wait_for_retry_after_then_succeed(notion_env):
    _, source = notion_env.add_database("Recipes", {"name": "title"})
    notion = NotionGateway(notion_env.token, notion_env.base_url, requests_per_second=100)
    notion_env.fail_next(429, "rate_limited", retry_after=0.2)
    notion_env.fail_next(529, "service_overloaded", retry_after=0.2)
    started = time.monotonic()
    page = notion.create_page(source, {"name": {"title": [{"text": {"content": "x"}}]}})
    assert time.monotonic() - started >= 0.4
    assert page["id"] and len(notion_env.pages_in(source)) == 1


def test_a_5xx_on_page_creation_is_not_blindly_retried(notion_env):
    from svp.errors import TransientError

    _, source = notion_env.add_database("Recipes", {"name": "title"})
    notion = NotionGateway(notion_env.token, notion_env.base_url, requests_per_second=100)
    notion_env.fail_next(502, "bad_gateway")
    with pytest.raises(TransientError):
        notion.create_page(source, {"name": {"title": [{"text": {"content": "x"}}]}})
    assert len(notion_env.requests_to("/v1/pages", "POST")) == 1  # retried by redelivery only
    notion_env.fail_next(503, "service_unavailable")
    assert notion.schema(source, refresh=True)  # a read is retried at once


def test_a_revoked_token_fails_the_link_with_a_message_that_says_so(notion_env, capsys):
    _, links = notion_env.add_database("Links", LINK_SCHEMA)
    assert svp(["register", "link-db", links]) == 0
    notion_env.revoke()
    assert svp(["run", "--once"]) == 1
    assert "reconnect the integration" in capsys.readouterr().out


# -- webhooks --------------------------------------------------------------------------------
def _signed(token: str, payload: dict) -> tuple[dict, bytes]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Notion-Signature": signature, "Content-Type": "application/json"}, body


def test_webhook_verifies_signatures_dedupes_and_queues_pending_links(notion_env, media_server):
    import functions_framework

    from svp import functions

    functions.reset()
    db, links = notion_env.add_database("Links", LINK_SCHEMA)
    cooking_db, _ = notion_env.add_database("Recipes", {"name": "title", "video_link": "url"})
    assert svp(["register", "link-db", db]) == 0
    assert svp(["register", "content-db", cooking_db, "--tag", "cooking"]) == 0
    client = functions_framework.create_app(
        target="handle", source=str(ROOT / "functions/webhook/main.py")
    ).test_client()

    assert client.post("/", json={"verification_token": "secret_tok"}).status_code == 200
    page = notion_env.add_page(
        links,
        {"Name": "p", "url": f"{media_server}/pasta.mp4", "tag": "cooking", "status": "pending"},
    )
    event = {
        "id": "evt-1",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "type": "page.created",
        "entity": {"id": page, "type": "page"},
        "data": {"parent": {"id": db, "type": "database"}},
    }
    headers, body = _signed("secret_tok", event)
    refused = client.post("/", data=body, headers=headers)  # received, not yet trusted
    assert refused.status_code == 401
    assert "svp webhook-token --accept" in refused.get_json()["error"]
    assert svp(["webhook-token", "--accept"]) == 2  # the operator must give the token
    assert svp(["webhook-token", "--accept", "secret_tok"]) == 0

    assert client.post("/", json={"verification_token": "attacker"}).status_code == 200
    headers, body = _signed("attacker", event)
    assert client.post("/", data=body, headers=headers).status_code == 401
    assert client.post("/", json=event).status_code == 401  # unsigned
    runtime = functions.runtime()
    assert runtime.state.get(jobs.JOBS, page.replace("-", "")) is None  # nothing changed

    headers, body = _signed("secret_tok", event)
    reply = client.post("/", data=body, headers=headers)
    assert reply.status_code == 200 and reply.get_json()["status"] == "queued"
    assert plain(notion_env.page(page), "status") == "queued"
    again = client.post("/", data=body, headers=headers)
    assert again.get_json()["status"] == "duplicate"
    assert runtime.bus.waiting() == 1  # one message for the downloader
    functions.reset()


def test_webhook_tokens_that_arrive_are_listed_and_only_an_accepted_one_is_trusted(runtime, capsys):
    from svp.notion.webhook import stored_token
    from svp.stages.webhook import handle

    def verification(token: str) -> int:
        return handle(runtime, {}, json.dumps({"verification_token": token}).encode()).status

    assert svp(["webhook-token"]) == 1  # nothing yet
    assert verification("tok_from_notion") == 200
    assert verification("tok_from_someone_else") == 200
    assert stored_token(runtime) == ""  # neither is trusted
    capsys.readouterr()
    assert svp(["webhook-token"]) == 0
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        "tok_from_someone_else",
        "tok_from_notion",
    ]
    assert "not trusted yet" in err and "--accept TOKEN" in err
    assert svp(["webhook-token", "--accept"]) == 2  # which one? the operator must say
    assert "--accept TOKEN" in capsys.readouterr().err
    assert svp(["webhook-token", "--accept", "tok_guessed"]) == 2
    assert svp(["webhook-token", "--accept", "tok_from_notion"]) == 0
    assert stored_token(runtime) == "tok_from_notion"
    assert verification("tok_later") == 200  # a later arrival replaces nothing
    assert stored_token(runtime) == "tok_from_notion"
    assert verification("x" * 10_000) == 400


def test_on_google_cloud_only_notion_webhook_token_is_trusted(runtime, capsys):
    import dataclasses

    from svp.stages.webhook import handle

    def same_ports(settings) -> Runtime:
        return Runtime(
            settings,
            state=lambda: runtime.state,
            blobs=lambda: runtime.blobs,
            bus=lambda: runtime.bus,
            dead_letters=lambda: runtime.dead_letters,
        )

    gcp = dataclasses.replace(runtime.settings, backend="gcp", project="p", bucket="b")
    cloud = same_ports(gcp)
    body = json.dumps({"verification_token": "tok_first_comer"}).encode()
    reply = handle(cloud, {}, body)
    assert reply.status == 200 and "NOTION_WEBHOOK_TOKEN" in reply.body["status"]
    event = {
        "id": "evt-9",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "type": "page.created",
        "entity": {"id": "p1", "type": "page"},
    }
    headers, signed = _signed("tok_first_comer", event)
    refused = handle(cloud, headers, signed)
    assert refused.status == 401 and "NOTION_WEBHOOK_TOKEN is not set" in refused.body["error"]

    from svp.cli import cmd_webhook_token

    accept = argparse.Namespace(accept="tok_first_comer")
    assert cmd_webhook_token(accept, gcp) == 2
    assert "Secret Manager" in capsys.readouterr().err

    configured = same_ports(dataclasses.replace(gcp, notion_webhook_token="tok_secret_manager"))
    assert handle(configured, headers, signed).status == 401
    headers, signed = _signed("tok_secret_manager", event)
    past = handle(configured, headers, signed)  # past the signature check, on to Notion
    assert past.status == 503 and past.body["error"] == "NOTION_TOKEN is not set"


# -- the same video twice, and the status trail ----------------------------------------------
@pytest.mark.slow
def test_a_video_saved_twice_points_at_its_page_unless_reprocessing_is_asked(
    notion_env, media_server, capsys
):
    _, links = notion_env.add_database(
        "Links", {**LINK_SCHEMA, "processing_type": {"type": "select", "options": ["reprocess"]}}
    )
    _, recipes = notion_env.add_database(
        "Recipes", {"name": "title", "video_link": "url", "steps": "rich_text"}
    )
    assert svp(["register", "link-db", links]) == 0
    assert svp(["register", "content-db", recipes, "--tag", "cooking"]) == 0
    url = f"{media_server}/pasta.mp4"
    first = notion_env.add_page(
        links, {"Name": "a", "url": url, "tag": "cooking", "status": "pending"}
    )
    assert svp(["run", "--once"]) == 0
    (page,) = notion_env.pages_in(recipes)

    trail = [
        r.json["properties"]["status"]["select"]["name"]
        for r in notion_env.requests_to(f"/pages/{first}", "PATCH")
    ]
    # Only the latest status is sent: a stage over before its status was worth showing is
    # skipped, and the trail never goes back (transcribing and reading text run side by side).
    # Without an LLM the page is marked for review, and the link says so.
    order = ["queued", "downloading", "transcribing", "summarizing", "writing", "done"]
    same = {"reading text": "transcribing", "done (needs review)": "done"}
    ranks = [order.index(same.get(s, s)) for s in trail]
    assert trail[0] == "queued" and trail[-1] == "done (needs review)", trail
    assert ranks == sorted(ranks), trail

    again = notion_env.add_page(
        links,
        {"Name": "b", "url": url + "?utm_source=share", "tag": "cooking", "status": "pending"},
    )
    capsys.readouterr()
    assert svp(["run", "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["duplicates"] == [again.replace("-", "")]
    assert plain(notion_env.page(again), "status") == "done (needs review)"  # as its page
    assert plain(notion_env.page(again), "result") == page["url"]

    redo = notion_env.add_page(
        links,
        {
            "Name": "c",
            "url": url,
            "tag": "cooking",
            "status": "pending",
            "processing_type": "reprocess",
        },
    )
    assert svp(["run", "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["queued"] == [redo.replace("-", "")]
    assert plain(notion_env.page(redo), "result") == page["url"]  # processed, same page
    assert len(notion_env.pages_in(recipes)) == 1


def test_a_slow_link_database_does_not_hold_up_the_others(notion_env, monkeypatch):
    import threading

    from svp.stages.poller import poll

    _, slow = notion_env.add_database("Slow links", LINK_SCHEMA)
    _, fast = notion_env.add_database("Fast links", LINK_SCHEMA)
    _, recipes = notion_env.add_database("Recipes", {"name": "title", "video_link": "url"})
    monkeypatch.setenv("SVP_LINK_DATABASES", f"{slow},{fast}")  # the slow one comes first
    assert svp(["register", "content-db", recipes, "--tag", "cooking"]) == 0
    late = notion_env.add_page(
        slow, {"Name": "s", "url": "https://youtu.be/slow", "tag": "cooking", "status": "pending"}
    )
    early = notion_env.add_page(
        fast, {"Name": "f", "url": "https://youtu.be/fast", "tag": "cooking", "status": "pending"}
    )
    notion_env.slow_down(f"/data_sources/{slow}/query", 3.0)

    runtime = build_runtime(load_settings(dotenv=None))
    polling = threading.Thread(target=poll, args=(runtime,))
    started = time.monotonic()
    polling.start()
    while plain(notion_env.page(early), "status") != "queued":
        assert time.monotonic() - started < 2.5, "the fast database waited for the slow one"
        time.sleep(0.05)
    assert plain(notion_env.page(late), "status") == "pending"  # its query is still answering
    polling.join()
    assert plain(notion_env.page(late), "status") == "queued"
