"""Notion's webhooks as Notion sends them: a signed handshake, signed events with a
timestamp, authors, and the events that bring a row into a Link Database (issue 18 items 9,
15, 19; issue 20 item 4)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from svp.cli import main as svp
from svp.notion import webhook
from svp.notion.webhook import accept_token, pending_tokens, stored_token
from svp.runtime import jobs
from svp.stages.webhook import handle
from tests.fakes import _notion_webhooks as notion_webhooks

LINKS = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending", "queued", "done", "failed"]},
}


def _stamp(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signed(token: str, payload: dict) -> tuple[dict, bytes]:
    body = json.dumps(payload).encode()
    digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Notion-Signature": f"sha256={digest}"}, body


def event(page: str, parent: str, kind: str = "page.created", **extra) -> dict:
    """An event as Notion's webhook reference shows one."""
    return {
        "id": extra.pop("id", f"evt-{time.monotonic_ns()}"),
        "timestamp": extra.pop("timestamp", _stamp()),
        "workspace_id": "ws",
        "subscription_id": "sub",
        "integration_id": "int",
        "type": kind,
        "authors": extra.pop("authors", [{"id": "some-person", "type": "person"}]),
        "attempt_number": 1,
        "entity": {"id": page, "type": "page"},
        "data": {"parent": {"id": parent, "type": "database"}},
        **extra,
    }


def test_a_signed_handshake_is_recognized_by_its_body_and_kept_pending(runtime):
    token, headers, body = notion_webhooks.handshake()  # signed, as Notion sends it
    reply = handle(runtime, headers, body)
    assert reply.status == 200
    assert [p["token"] for p in pending_tokens(runtime)] == [token]
    assert stored_token(runtime) == ""  # never trusted on its own


def test_accepting_needs_the_token_value(runtime, capsys):
    handle(runtime, {}, json.dumps({"verification_token": "tok_only"}).encode())
    assert svp(["webhook-token", "--accept"]) == 2  # no argument-less trust
    assert stored_token(runtime) == ""
    assert svp(["webhook-token", "--accept", "tok_only"]) == 0
    assert stored_token(runtime) == "tok_only"


def test_a_flood_of_unsigned_handshakes_cannot_evict_the_first_token(runtime):
    def post(token: str) -> int:
        return handle(runtime, {}, json.dumps({"verification_token": token}).encode()).status

    assert post("tok_from_notion") == 200
    statuses = [post(f"tok_flood_{i}") for i in range(50)]
    assert 429 in statuses
    kept = [p["token"] for p in pending_tokens(runtime)]
    assert "tok_from_notion" in kept and len(kept) <= webhook.PENDING_KEPT
    assert accept_token(runtime, "tok_from_notion") == "tok_from_notion"


def _trusted(runtime, token: str = "tok") -> str:
    handle(runtime, {}, json.dumps({"verification_token": token}).encode())
    accept_token(runtime, token)
    return token


def test_events_outside_the_time_window_are_refused_even_after_their_id_expired(runtime):
    token = _trusted(runtime)
    taken: list[dict] = []

    def handled(_runtime, payload: dict) -> webhook.WebhookReply:
        taken.append(payload)
        return webhook.WebhookReply(200)

    # A captured event whose id was forgotten long ago: the timestamp alone refuses it.
    captured = event("p1", "db1", id="evt-old", timestamp=_stamp(time.time() - 3600))
    assert runtime.state.get(webhook.EVENTS, "evt-old") is None
    reply = webhook.handle(runtime, *signed(token, captured), handled)
    assert reply.body["status"] == "expired" and "timestamp" in reply.body["reason"]
    future = event("p1", "db1", id="evt-future", timestamp=_stamp(time.time() + 3600))
    assert webhook.handle(runtime, *signed(token, future), handled).body["status"] == "expired"
    no_stamp = event("p1", "db1", id="evt-nostamp")
    del no_stamp["timestamp"]
    assert webhook.handle(runtime, *signed(token, no_stamp), handled).status == 400
    assert taken == []  # none of them reached the link's handling
    fresh = event("p1", "db1", id="evt-fresh", timestamp=_stamp(time.time() - 60))
    webhook.handle(runtime, *signed(token, fresh), handled)
    assert [p["id"] for p in taken] == ["evt-fresh"]
    assert webhook.EVENT_RETENTION_SECONDS >= webhook.EVENT_WINDOW_SECONDS


def test_an_event_inside_the_window_is_deduplicated(runtime):
    token = _trusted(runtime)
    fresh = event("p1", "db-unregistered", id="evt-1", kind="comment.created")
    assert handle(runtime, *signed(token, fresh)).body["status"] == "ignored"
    assert handle(runtime, *signed(token, fresh)).body["status"] == "duplicate"


def _link_db(notion_env, runtime):
    db, source = notion_env.add_database("Links", LINKS)
    assert svp(["register", "link-db", db]) == 0
    return db, source


def test_our_own_status_writes_are_not_fetched_again(notion_env, runtime):
    token = _trusted(runtime)
    db, source = _link_db(notion_env, runtime)
    page = notion_env.add_page(source, {"Name": "p", "url": "https://x.y/v", "status": "done"})
    bot = notion_env.bot_user_id
    ours = notion_webhooks.event(
        token, "page.properties_updated", page, db, authors=[{"id": bot, "type": "bot"}]
    )
    before = len(notion_env.requests)
    reply = handle(runtime, *ours)
    assert reply.status == 200 and reply.body["status"] == "our own change"
    fetched = [r for r in notion_env.requests[before:] if "/v1/pages/" in r.path]
    assert fetched == []
    theirs = event(page, db, "page.properties_updated")
    assert handle(runtime, *signed(token, theirs)).body["status"] == "not pending"


def test_a_row_restored_or_moved_into_the_link_database_is_queued(notion_env, runtime):
    token = _trusted(runtime)
    db, source = _link_db(notion_env, runtime)
    for kind in ("page.undeleted", "page.moved"):
        page = notion_env.add_page(
            source, {"Name": kind, "url": "", "tag": "cooking", "status": "pending"}
        )
        reply = handle(runtime, *signed(token, event(page, db, kind)))
        assert reply.status == 200, reply.body
        assert reply.body["status"] in ("queued", "known"), reply.body
        assert runtime.state.get(jobs.JOBS, page.replace("-", "")) is not None or (
            notion_env.page(page)["properties"]["status"]["select"]["name"] == "failed"
        )


def test_a_row_of_an_unexpected_type_answers_2xx_with_a_reason(notion_env, runtime):
    token = _trusted(runtime)
    db, source = _link_db(notion_env, runtime)
    notion_env.change_property_type(source, "tag", "multi_select")
    page = notion_env.add_page(
        source,
        {"Name": "p", "url": "https://x.y/v", "tag": ["cooking", "places"], "status": "pending"},
    )
    reply = handle(runtime, *signed(token, event(page, db)))
    assert 200 <= reply.status < 300, reply.body
    assert "'tag' property is multi_select with 2 values" in reply.body["reason"]
