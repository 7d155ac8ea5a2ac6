"""Notion's documented limits, as the product meets them: each test drives notion-client
against the fake, which enforces the limit as the documentation states it."""

from __future__ import annotations

from svp.notion.gateway import NotionGateway
from svp.notion.properties import encode_properties, rich_text
from tests.fakes.notion import plain


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_text_is_split_by_utf16_length_so_emoji_fit(notion_env):
    _, source = notion_env.add_database("Notes", {"Name": "title", "Notes": "rich_text"})
    notion = NotionGateway(notion_env.token, notion_env.base_url)
    text = "🍝" * 1500 + " " + "🍅x" * 900  # 3000 + 1 + 2700 UTF-16 units, 3301 code points
    assert all(_units(part["text"]["content"]) <= 2000 for part in rich_text(text))
    properties = encode_properties(notion.schema(source), {"Name": "t", "Notes": text})
    page = notion.create_page(source, properties)  # the fake answers 400 past 2000 units
    assert plain(notion_env.page(page["id"]), "Notes") == text


# -- 409 conflict_error: retried, never final (issue 18 item 12) ------------------------------
def test_a_409_conflict_is_retried_and_the_write_succeeds(notion_env):
    _, source = notion_env.add_database("Links", {"Name": "title", "error": "rich_text"})
    page = notion_env.add_page(source, {"Name": "row"})
    notion = NotionGateway(notion_env.token, notion_env.base_url, retry_seconds=0.001)
    notion_env.conflict_next(times=2)
    notion.update_page(page, {"error": {"rich_text": [{"text": {"content": "x"}}]}})
    assert plain(notion_env.page(page), "error") == "x"


def test_a_409_on_page_creation_is_retried_and_makes_one_page(notion_env):
    _, source = notion_env.add_database("Recipes", {"name": "title"})
    notion = NotionGateway(notion_env.token, notion_env.base_url, retry_seconds=0.001)
    notion_env.conflict_next()  # Notion applied nothing: "try again"
    notion.create_page(source, {"name": {"title": [{"text": {"content": "Pasta"}}]}})
    assert [plain(p, "name") for p in notion_env.pages_in(source)] == ["Pasta"]


def test_a_status_write_that_keeps_conflicting_is_not_marked_sent(notion_env, runtime):
    import time

    from svp.notion.status import LinkStatus
    from svp.runtime import jobs

    _, source = notion_env.add_database(
        "Links",
        {"Name": "title", "status": {"type": "select", "options": ["pending", "queued"]}},
    )
    page = notion_env.add_page(source, {"Name": "row", "status": "pending"})
    link = {"url": "https://x", "tag": "t", "page_id": page, "data_source_id": source}
    runtime.state.put(jobs.JOBS, "j1", jobs.new_job("j1", link, {}, time.time()))
    notion = NotionGateway(notion_env.token, notion_env.base_url, retry_seconds=0.001)
    status = LinkStatus(runtime.state, lambda user: notion)
    notion_env.conflict_next(times=20)
    assert status.sync("j1") is False
    assert not jobs.synced(runtime.state.get(jobs.JOBS, "j1"))  # kept in the outbox
    notion_env.failures.clear()
    assert status.sync("j1") is True
    assert plain(notion_env.page(page), "status") == "queued"


# -- OAuth refresh: Notion down is not a refusal (issue 18 item 13) -------------------------
def _oauth_settings(runtime, notion_env):
    import dataclasses

    return dataclasses.replace(
        runtime.settings,
        notion_base_url=notion_env.base_url,
        notion_client_id=notion_env.oauth_client_id,
        notion_client_secret=notion_env.oauth_client_secret,
        notion_redirect_uri="http://127.0.0.1/cb",
    )


def test_a_5xx_or_429_during_token_refresh_is_transient_not_sign_in_again(notion_env, runtime):
    import pytest

    from svp.notion import oauth

    settings = _oauth_settings(runtime, notion_env)
    for status in (500, 503, 429):
        notion_env.fail_token_endpoint(status)
        with pytest.raises(oauth.OAuthError) as caught:
            oauth.refresh(settings, "nrt_whatever")
        assert caught.value.refused is False, status
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.refresh(settings, "nrt_unknown")  # 400 invalid_grant: a refusal
    assert caught.value.refused is True


def test_a_user_is_not_asked_to_reconnect_when_notion_fails_the_refresh(notion_env, runtime):
    import httpx

    from svp.accounts import USERS, mark_needs_reconnect, save_user
    from svp.notion import oauth

    settings = _oauth_settings(runtime, notion_env)
    runtime.settings = settings
    notion_env.sign_in_as(notion_env.add_workspace("Alice's"))

    location = httpx.get(
        f"{notion_env.base_url}/v1/oauth/authorize",
        params={
            "client_id": settings.notion_client_id,
            "response_type": "code",
            "redirect_uri": settings.notion_redirect_uri,
            "state": "s",
        },
    ).headers["location"]
    code = location.split("code=")[1].split("&")[0]
    user = save_user(runtime, oauth.exchange_code(settings, code))
    notion_env.fail_token_endpoint(502)
    assert mark_needs_reconnect(runtime, user["user_id"], "401") is False
    assert not runtime.state.get(USERS, user["user_id"]).get("needs_reconnect")
    assert mark_needs_reconnect(runtime, user["user_id"], "401") is True  # Notion is back


# -- one integration, several instances (issue 18 item 15) ---------------------------------
def test_a_429_pauses_every_instance_of_the_integration(notion_env, runtime):
    import time

    from svp.notion.budget import SharedPause
    from svp.notion.ratelimit import RateLimiter

    _, source = notion_env.add_database("Links", {"Name": "title"})

    def instance() -> NotionGateway:  # its own process: its own limiter, the shared store
        gateway = NotionGateway(
            notion_env.token,
            notion_env.base_url,
            requests_per_second=100,
            shared=SharedPause(runtime.state, notion_env.token),
        )
        gateway.limiter = RateLimiter(100)
        return gateway

    import threading

    first, second = instance(), instance()
    second.schema(source)  # warm: it has read the (empty) pause already
    time.sleep(1.1)  # its next read of the shared pause is due
    notion_env.fail_next(429, "rate_limited", retry_after=2)
    waiting = threading.Thread(target=first.schema, args=(source,), kwargs={"refresh": True})
    waiting.start()  # gets the 429 and waits the 2 s Notion asked for
    while not any(r.path.endswith(source) for r in notion_env.requests[-1:]):
        time.sleep(0.01)
    time.sleep(0.2)
    started = time.monotonic()
    second.schema(source, refresh=True)  # another instance, during the pause
    assert time.monotonic() - started >= 1.2  # it waited for the pause the first one got
    waiting.join()


def test_a_429_pauses_the_other_threads_of_the_process():
    from svp.notion.ratelimit import RateLimiter

    now = [0.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    limiter.pause(2.0)
    limiter.acquire()
    assert now[0] >= 2.0
