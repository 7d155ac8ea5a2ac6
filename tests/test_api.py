"""The API function and `svp serve`'s app through Flask's test client, against the fake
Notion: two people sign in through OAuth, register their databases, their links are
processed with their own tokens, and neither can read or change the other's data."""

from __future__ import annotations

import html
import logging
import socket
from html.parser import HTMLParser
from pathlib import Path

import pytest

from svp import accounts
from svp.api import create_app
from svp.cli import main as svp
from svp.config import load_settings
from svp.errors import PermanentError
from svp.runtime.runner import StageContext
from svp.stages.poller import poll
from svp.wiring import build_runtime
from tests.api_helpers import (
    REDIRECT_URI,
    Flaky,
    csrf_of,
    notion_redirect,
    oauth_env,
    person,
    sign_in,
    sign_in_and_register,
    stub_works,
)
from tests.fakes.notion import FakeNotion, plain
from tests.pipeline_helpers import drain

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def make_app(env, monkeypatch, fake_notion: FakeNotion):
    def make(**extra: str):
        for name, value in {**oauth_env(fake_notion), **extra}.items():
            monkeypatch.setenv(name, value)
        runtime = build_runtime(load_settings(dotenv=None))
        return create_app(runtime), runtime

    return make


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


class Parsed(HTMLParser):
    """A page as a browser parses it: its elements, links (href, text), texts, and its forms'
    actions, each with whether it carries a CSRF token."""

    def __init__(self, markup: str):
        super().__init__()
        self.tags: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[tuple[str, str]] = []
        self.texts: list[str] = []
        self.forms: dict[str, bool] = {}
        self._form = ""
        self._href: str | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "script":
            self.scripts.append(dict(attrs))
        values = dict(attrs)
        if tag == "a":
            self._href = values.get("href") or ""
        if tag == "form":
            self._form = values.get("action") or ""
            self.forms[self._form] = False
        if tag == "input" and values.get("name") == "csrf_token" and values.get("value"):
            self.forms[self._form] = values.get("type") == "hidden"

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None
        if data.strip():
            self.texts.append(data.strip())


def add_link(fake: FakeNotion, who, url: str) -> str:
    return fake.add_page(
        who.links,
        {"Name": url.rsplit("/", 1)[-1], "url": url, "tag": "cooking", "status": "pending"},
    )


# -- the whole story for two people ------------------------------------------------------------
def test_two_people_each_register_and_get_pages_written_with_their_own_token(
    make_app, fake_notion, caplog
):
    caplog.set_level(logging.DEBUG)
    app, runtime = make_app()
    alice, bob = person(fake_notion, "Alice"), person(fake_notion, "Bob")
    a, b = app.test_client(), app.test_client()
    seen = []  # every answer, to look for tokens in at the end

    for client, who in ((a, alice), (b, bob)):
        done = sign_in(client, fake_notion, who)
        assert done.status_code == 303 and done.headers["Location"] == "/"
        page = client.get("/")
        shown = text(page)
        assert shown.count(f"Connected to <strong>{who.workspace.name}</strong>") == 1, "once"
        headers = {"X-CSRF-Token": csrf_of(client)}
        link = client.post(
            "/api/link-database/register", json={"database": who.links_db}, headers=headers
        )
        assert link.status_code == 201, link.get_json()
        content = client.post(
            "/api/databases/register",
            headers=headers,
            json={"database": who.recipes, "tag": "Cooking", "prompt": "short steps"},
        )
        assert content.status_code == 201, content.get_json()
        assert content.get_json()["registration"]["tag"] == "cooking"
        seen += [page, link, content]

    listed = a.get("/api/databases").get_json()["databases"]
    assert {d["title"] for d in listed} == {"Alice's links", "Alice's recipes"}
    assert {d["title"] for d in b.get("/api/databases").get_json()["databases"]} == {
        "Bob's links",
        "Bob's recipes",
    }

    # Bob cannot register Alice's database: his token does not reach it.
    stolen = b.post(
        "/api/link-database/register",
        json={"database": alice.links_db},
        headers={"X-CSRF-Token": csrf_of(b)},
    )
    assert stolen.status_code == 400
    assert "share the database" in stolen.get_json()["error"]

    alice_link = add_link(fake_notion, alice, "https://www.tiktok.com/@alice/video/111")
    bob_link = add_link(fake_notion, bob, "https://www.tiktok.com/@bob/video/222")
    report = poll(runtime)
    assert sorted(report.queued) == sorted([alice_link.replace("-", ""), bob_link.replace("-", "")])
    drain(runtime, stub_works())

    for who, link_page in ((alice, alice_link), (bob, bob_link)):
        (written,) = fake_notion.pages_in(who.recipes)
        assert plain(fake_notion.page(link_page), "status") == "done"
        assert plain(fake_notion.page(link_page), "result") == written["url"]
        # Every request about this person's pages carried this person's token.
        touching = fake_notion.requests_to(f"/pages/{link_page}") + [
            r
            for r in fake_notion.requests_to("/pages", "POST")
            if (r.json or {}).get("parent", {}).get("data_source_id") == who.recipes
        ]
        assert touching
        assert {r.header("authorization") for r in touching} == {f"Bearer {who.workspace.token}"}

    (alice_job,) = a.get("/api/jobs").get_json()["jobs"]
    assert alice_job["job_id"] == alice_link.replace("-", "")
    assert alice_job["status"] == "done" and alice_job["page_url"]
    assert all(s["state"] == "done" for s in alice_job["stages"].values())
    (bob_job,) = b.get("/api/jobs").get_json()["jobs"]
    assert bob_job["job_id"] == bob_link.replace("-", "")
    page = a.get("/")
    assert "tiktok.com/@alice" in text(page) and "tiktok.com/@bob" not in text(page)

    # Bob, with his session or with an API key, cannot read or change Alice's data.
    bob_csrf = {"X-CSRF-Token": csrf_of(b)}
    assert b.get(f"/api/jobs/{alice_job['job_id']}").status_code == 404
    assert b.post(f"/api/jobs/{alice_job['job_id']}/replay", headers=bob_csrf).status_code == 404
    created = b.post("/api/keys", headers=bob_csrf)
    assert created.status_code == 201
    key = {"Authorization": f"Bearer {created.get_json()['api_key']}"}
    anonymous = app.test_client()
    assert (
        anonymous.get("/api/jobs", headers=key).get_json()["jobs"][0]["job_id"]
        == (bob_job["job_id"])
    )
    assert anonymous.get(f"/api/jobs/{alice_job['job_id']}", headers=key).status_code == 404
    assert anonymous.post(f"/api/jobs/{alice_job['job_id']}/replay", headers=key).status_code == 404
    removed = anonymous.post("/api/databases/unregister", json={"tag": "cooking"}, headers=key)
    assert removed.status_code == 200  # Bob's own cooking database, not Alice's
    assert "Alice's recipes" in {
        d["title"] for d in a.get("/api/databases").get_json()["databases"]
    }
    assert (
        anonymous.post(
            "/api/link-database/unregister", json={"database": alice.links_db}, headers=key
        ).status_code
        == 404
    )
    assert len(a.get("/api/databases").get_json()["databases"]) == 2
    assert (
        anonymous.get("/api/jobs", headers={"Authorization": "Bearer svp_wrong"}).status_code == 401
    )
    seen += [created]

    # Tokens (and the client secret) appear in no log line, no answer, and not in clear at rest.
    secrets_ = [alice.workspace.token, bob.workspace.token, fake_notion.oauth_client_secret]
    stored = (Path(runtime.settings.data_dir) / "state.db").read_bytes()
    for secret in secrets_:
        assert secret not in caplog.text
        assert all(secret not in r.get_data(as_text=True) for r in seen)
        assert secret.encode() not in stored
    assert created.get_json()["api_key"].encode() not in stored  # only its hash is kept
    alice_id = accounts.user_id_for(alice.workspace.id, alice.workspace.bot_id)
    assert accounts.notion_token(runtime, alice_id) == alice.workspace.token  # decrypts back


# -- replay ----------------------------------------------------------------------------------------
def test_a_dead_lettered_link_is_replayed_by_its_owner_only(make_app, fake_notion):
    app, runtime = make_app()
    alice, bob = person(fake_notion, "Alice"), person(fake_notion, "Bob")
    a, b = app.test_client(), app.test_client()
    for client, who in ((a, alice), (b, bob)):
        sign_in_and_register(client, fake_notion, who, who.links, who.recipes_db)
    flaky = Flaky()
    link = add_link(fake_notion, alice, "https://www.tiktok.com/@alice/video/flaky")
    job_id = link.replace("-", "")
    poll(runtime)
    drain(runtime, stub_works(flaky))

    (failed,) = a.get("/api/jobs?status=failed").get_json()["jobs"]
    assert failed["job_id"] == job_id and failed["dead_lettered"] is True
    assert failed["failed_stage"] == "downloader" and "503" in failed["error"]
    assert failed["stages"]["downloader"]["attempts"] == 3
    page = text(a.get("/"))
    assert "Needs attention (1)" in page and f"/api/jobs/{job_id}/replay" in page

    assert (
        b.post(f"/api/jobs/{job_id}/replay", headers={"X-CSRF-Token": csrf_of(b)}).status_code
        == 404
    )
    flaky.heal()
    replayed = a.post(f"/api/jobs/{job_id}/replay", headers={"X-CSRF-Token": csrf_of(a)})
    assert replayed.status_code == 202, replayed.get_json()
    assert replayed.get_json()["replayed"][0]["stage"] == "downloader"
    drain(runtime, stub_works(flaky))
    assert a.get(f"/api/jobs/{job_id}").get_json()["job"]["status"] == "done"
    assert plain(fake_notion.page(link), "status") == "done"
    again = a.post(f"/api/jobs/{job_id}/replay", headers={"X-CSRF-Token": csrf_of(a)})
    assert again.status_code == 409 and "only failed links" in again.get_json()["error"]


def test_a_link_s_url_and_error_are_shown_as_text_never_as_markup(make_app, fake_notion):
    app, runtime = make_app()
    mallory = person(fake_notion, "Mallory")
    client = app.test_client()
    sign_in_and_register(client, fake_notion, mallory, mallory.links, mallory.recipes_db)
    url = "https://www.tiktok.com/@m/video/1?x=\"><script>alert('url')</script>"
    link = add_link(fake_notion, mallory, url)
    job_id = link.replace("-", "")

    def refuse(ctx: StageContext) -> dict:
        raise PermanentError(f'no video at {ctx.job["link"]["url"]} <script>alert("err")</script>')

    poll(runtime)
    drain(runtime, {**stub_works(), "downloader": refuse})

    page = Parsed(client.get("/").get_data(as_text=True))
    # What a browser builds from the page: no script element, the URL whole in the link's
    # href (its quote did not end the attribute) and in its text, the error as text.
    # The one script element is the page's own, carrying the nonce its CSP allows.
    assert [sorted(script) for script in page.scripts] == [["nonce"]]
    assert (url, url) in page.links
    assert f'no video at {url} <script>alert("err")</script>' in page.texts
    # Failed for good (nothing dead-lettered): no Replay, but what to do instead.
    assert f"/api/jobs/{job_id}/replay" not in page.forms
    assert any("This failed for good: once the cause is fixed" in t for t in page.texts)
    assert len(page.forms) > 5 and all(page.forms.values())  # each with its CSRF token


# -- CSRF, sessions and sign-in ------------------------------------------------------------------
def test_state_changes_from_the_browser_need_the_csrf_token(make_app, fake_notion):
    app, _ = make_app()
    alice = person(fake_notion, "Alice")
    client = app.test_client()
    sign_in(client, fake_notion, alice)
    body = {"database": alice.links_db}
    assert client.post("/api/link-database/register", json=body).status_code == 403
    wrong = client.post(
        "/api/link-database/register", json=body, headers={"X-CSRF-Token": "forged"}
    )
    assert wrong.status_code == 403
    # A form from another site (were the cookie sent at all) has no token either.
    forged_form = client.post("/api/keys", data={"note": "x"})
    assert forged_form.status_code == 403
    assert client.post("/auth/logout").status_code == 403

    form = client.post(
        "/api/link-database/register",
        data={"database": alice.links_db, "csrf_token": csrf_of(client)},
    )
    assert form.status_code == 303  # back to the status page, with a message
    assert "Registered Link Database" in text(client.get("/"))
    key = client.post("/api/keys", headers={"X-CSRF-Token": csrf_of(client)}).get_json()["api_key"]
    keyed = app.test_client().post(
        "/api/databases/register",
        json={"database": alice.recipes, "tag": "cooking"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert keyed.status_code == 201  # an API key needs no CSRF token

    out = client.post("/auth/logout", data={"csrf_token": csrf_of(client)})
    assert out.status_code == 303
    assert "Connect Notion" in text(client.get("/"))
    assert client.get("/api/me").status_code == 401


def test_the_callback_rejects_a_wrong_or_missing_state_a_cancel_and_a_bad_code(
    make_app, fake_notion
):
    app, _ = make_app()
    alice = person(fake_notion, "Alice")
    fake_notion.sign_in_as(alice.workspace)
    client = app.test_client()

    login = client.get("/auth/notion/login")
    assert login.status_code == 302
    cookie = login.headers["Set-Cookie"]
    assert "svp_oauth_state=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    target = login.headers["Location"]
    assert target.startswith(f"{fake_notion.base_url}/v1/oauth/authorize?")
    assert "owner=user" in target and "response_type=code" in target
    callback = notion_redirect(target).removeprefix("http://127.0.0.1:8080")
    code = callback.split("code=")[1].split("&")[0]

    tampered = client.get(callback.replace("state=", "state=x"))
    assert tampered.status_code == 400 and "could not be verified" in text(tampered)
    other_browser = app.test_client()  # the attacker's link, opened in the victim's browser
    assert other_browser.get(callback).status_code == 400
    assert not fake_notion.requests_to("/v1/oauth/token")  # no code was exchanged
    assert client.get("/api/me").status_code == 401

    fake_notion.deny_next_sign_in()
    login = client.get("/auth/notion/login")
    cancelled = client.get(
        notion_redirect(login.headers["Location"]).removeprefix("http://127.0.0.1:8080")
    )
    assert cancelled.status_code == 400 and "cancelled" in text(cancelled)

    login = client.get("/auth/notion/login")
    state = login.headers["Location"].split("state=")[1]
    forged = client.get(f"/auth/notion/callback?code=made-up&state={state}")
    assert forged.status_code == 502 and "invalid_grant" in text(forged)
    assert code not in text(forged)

    login = client.get("/auth/notion/login")
    ok = client.get(
        notion_redirect(login.headers["Location"]).removeprefix("http://127.0.0.1:8080")
    )
    assert ok.status_code == 303
    assert client.get("/api/me").get_json()["user"]["workspace_name"] == "Alice's notes"


def test_cookies_are_secure_httponly_and_lax_unless_served_on_plain_http_loopback(
    make_app, fake_notion
):
    alice = person(fake_notion, "Alice")
    app, _ = make_app(NOTION_REDIRECT_URI="https://svp.example/auth/notion/callback")
    client = app.test_client()
    fake_notion.sign_in_as(alice.workspace)
    login = client.get("/auth/notion/login", base_url="https://svp.example")
    assert "Secure" in login.headers["Set-Cookie"]
    back = notion_redirect(login.headers["Location"]).removeprefix("https://svp.example")
    done = client.get(back, base_url="https://svp.example")
    session_cookie = next(
        c for c in done.headers.getlist("Set-Cookie") if c.startswith("svp_session=")
    )
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in session_cookie
    assert "Connected to" in text(client.get("/", base_url="https://svp.example"))

    local, _ = make_app(NOTION_REDIRECT_URI=REDIRECT_URI)
    cookie = local.test_client().get("/auth/notion/login").headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_signed_out_page_and_unconfigured_sign_in(make_app, fake_notion, monkeypatch):
    app, _ = make_app()
    page = app.test_client().get("/")
    assert page.status_code == 200 and "Connect Notion" in text(page)
    assert 'name="viewport"' in text(page)
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    monkeypatch.delenv("NOTION_CLIENT_SECRET")
    bare = create_app(build_runtime(load_settings(dotenv=None)))
    assert "NOTION_CLIENT_SECRET" in text(bare.test_client().get("/"))
    assert bare.test_client().get("/auth/notion/login").status_code == 503


# -- a revoked token -----------------------------------------------------------------------------
def test_a_revoked_token_asks_for_a_reconnect_and_signing_in_again_fixes_it(make_app, fake_notion):
    app, runtime = make_app()
    alice, bob = person(fake_notion, "Alice"), person(fake_notion, "Bob")
    a, b = app.test_client(), app.test_client()
    for client, who in ((a, alice), (b, bob)):
        sign_in_and_register(client, fake_notion, who, who.links_db, who.recipes)
    fake_notion.revoke_grant(alice.workspace)  # Alice disconnected the integration
    bob_link = add_link(fake_notion, bob, "https://www.tiktok.com/@bob/video/3")
    report = poll(runtime)
    assert report.queued == [bob_link.replace("-", "")]  # Bob is not held up
    assert any("reconnect" in e for e in report.errors)

    assert a.get("/api/me").get_json()["user"]["needs_reconnect"] is True
    page = text(a.get("/"))
    assert "Reconnect Notion" in page and "revoked" in page
    assert "Reconnect Notion" not in text(b.get("/"))
    refused = a.post(
        "/api/databases/register",
        json={"database": alice.recipes, "tag": "more"},
        headers={"X-CSRF-Token": csrf_of(a)},
    )
    assert refused.status_code == 409 and refused.get_json()["needs_reconnect"] is True

    sign_in(a, fake_notion, alice)  # a new token for the same workspace: the same user
    assert a.get("/api/me").get_json()["user"]["needs_reconnect"] is False
    assert len(accounts.users(runtime)) == 2
    alice_link = add_link(fake_notion, alice, "https://www.tiktok.com/@alice/video/4")
    assert poll(runtime).queued == [alice_link.replace("-", "")]


def test_an_expired_token_is_refreshed_with_the_refresh_token_notion_granted(make_app, fake_notion):
    app, runtime = make_app()
    alice = person(fake_notion, "Alice")
    a = app.test_client()
    sign_in_and_register(a, fake_notion, alice, alice.links_db, alice.recipes)
    stored = runtime.state.get(accounts.USERS, a.get("/api/me").get_json()["user"]["user_id"])
    assert stored["refresh_token"] and "nrt_" not in stored["refresh_token"]  # sealed
    assert "refresh_token" not in a.get("/api/me").get_json()["user"]

    first = alice.workspace.token
    fake_notion.revoke(first)  # the access token expired; its refresh token still works
    link = add_link(fake_notion, alice, "https://www.tiktok.com/@alice/video/5")
    assert poll(runtime).queued == []  # this poll met the 401 and refreshed
    assert alice.workspace.token != first
    grants = [r.json.get("grant_type") for r in fake_notion.requests_to("/oauth/token", "POST")]
    assert grants == ["authorization_code", "refresh_token"]
    assert a.get("/api/me").get_json()["user"]["needs_reconnect"] is False
    assert poll(runtime).queued == [link.replace("-", "")]  # the next one uses the new token

    fake_notion.revoke(alice.workspace.token)  # a registration meets a 401: refreshed, retried
    body = {"database": alice.recipes, "tag": "more"}
    done = a.post("/api/databases/register", json=body, headers={"X-CSRF-Token": csrf_of(a)})
    assert done.status_code == 201


def test_api_keys_are_listed_and_a_revoked_key_is_refused(make_app, fake_notion):
    app, _ = make_app()
    alice, bob = person(fake_notion, "Alice"), person(fake_notion, "Bob")
    a, b = app.test_client(), app.test_client()
    sign_in(a, fake_notion, alice)
    sign_in(b, fake_notion, bob)
    made = [a.post("/api/keys", headers={"X-CSRF-Token": csrf_of(a)}) for _ in range(2)]
    keys = [reply.get_json()["api_key"] for reply in made]
    listed = a.get("/api/keys").get_json()["keys"]
    assert {k["hint"] for k in listed} == {key[:8] for key in keys}
    assert all(key not in str(listed) for key in keys)  # never shown again
    assert b.get("/api/keys").get_json()["keys"] == []
    bearer = {"Authorization": f"Bearer {keys[0]}"}
    assert app.test_client().get("/api/me", headers=bearer).status_code == 200

    target = next(k["key_id"] for k in listed if k["hint"] == keys[0][:8])
    not_bobs = b.post(f"/api/keys/{target}/revoke", headers={"X-CSRF-Token": csrf_of(b)})
    assert not_bobs.status_code == 404
    page = text(a.get("/"))
    assert f'id="key-{target}"' in page and keys[0][:8] in page
    out = a.post(f"/api/keys/{target}/revoke", data={"csrf_token": csrf_of(a)})
    assert out.status_code == 303 and "Revoked the API key" in text(a.get("/"))
    refused = app.test_client().get("/api/me", headers=bearer)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]
    other = {"Authorization": f"Bearer {keys[1]}"}
    assert app.test_client().get("/api/me", headers=other).status_code == 200


def test_sessions_are_kept_server_side_and_can_be_ended_from_anywhere(make_app, fake_notion):
    app, runtime = make_app()
    alice = person(fake_notion, "Alice")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, fake_notion, alice)
    stolen = laptop.get_cookie("svp_session").value  # what a thief would copy
    sessions = laptop.get("/api/sessions").get_json()["sessions"]
    assert len(sessions) == 1 and sessions[0]["current"]

    out = laptop.post("/auth/logout", data={"csrf_token": csrf_of(laptop)})
    assert out.status_code == 303
    thief = app.test_client()
    thief.set_cookie("svp_session", stolen)
    assert thief.get("/api/me").status_code == 401  # signing out ended it on the server

    sign_in(laptop, fake_notion, alice)
    key = laptop.post("/api/keys", headers={"X-CSRF-Token": csrf_of(laptop)}).get_json()
    bearer = {"Authorization": f"Bearer {key['api_key']}"}
    listed = app.test_client().get("/api/sessions", headers=bearer).get_json()["sessions"]
    assert len(listed) == 1 and not listed[0]["current"]
    revoke = f"/api/sessions/{listed[0]['session']}/revoke"
    ended = app.test_client().post(revoke, headers=bearer)
    assert ended.status_code == 200
    assert laptop.get("/api/me").status_code == 401
    assert "Connect Notion" in text(laptop.get("/"))

    sign_in_and_register(laptop, fake_notion, alice, alice.links_db, alice.recipes)
    sign_in(phone, fake_notion, alice)  # a second browser: both stay signed in
    assert laptop.get("/api/me").status_code == phone.get("/api/me").status_code == 200
    listed = phone.get("/api/sessions").get_json()["sessions"]
    assert sorted(s["current"] for s in listed) == [False, True]  # this one and the other
    out = laptop.post("/auth/logout-everywhere", data={"csrf_token": csrf_of(laptop)})
    assert out.status_code == 303
    assert phone.get("/api/me").status_code == 401 and laptop.get("/api/me").status_code == 401
    assert runtime.state.list("sessions") == []
    assert app.test_client().get("/api/me", headers=bearer).status_code == 200  # keys stay

    sign_in(laptop, fake_notion, alice)
    fake_notion.revoke_grant(alice.workspace)  # Notion stops accepting Alice's access
    poll(runtime)
    assert laptop.get("/api/me").get_json()["user"]["needs_reconnect"] is True
    sign_in(phone, fake_notion, alice)  # reconnecting ends the sessions opened before
    assert laptop.get("/api/me").status_code == 401
    assert phone.get("/api/me").get_json()["user"]["needs_reconnect"] is False


# -- rate limits, CORS, health --------------------------------------------------------------------
def test_rate_limits_per_user_and_per_address_answer_429_with_retry_after(make_app, fake_notion):
    app, _ = make_app(SVP_API_RATE_LIMIT="5")
    alice, bob = person(fake_notion, "Alice"), person(fake_notion, "Bob")
    a, b = app.test_client(), app.test_client()
    sign_in(a, fake_notion, alice)  # 2 requests from 127.0.0.1 (login, callback)
    sign_in(b, fake_notion, bob)  # 2 more
    for _ in range(5):
        assert a.get("/api/jobs").status_code == 200
    limited = a.get("/api/jobs")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "too many requests" in limited.get_json()["error"]
    # Bob has a budget of his own (from another address: 127.0.0.1's is spent too).
    assert b.get("/api/jobs", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200
    assert b.get("/api/jobs").status_code == 429  # this address is past twice the limit
    # An address gets twice a user's budget, signed in or not.
    stranger = app.test_client()
    answers = [
        stranger.get("/api/jobs", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
        for _ in range(11)
    ]
    assert answers == [401] * 10 + [429]
    assert a.get("/health").status_code == 200  # probes are not limited


def test_cors_answers_only_configured_origins_with_credentials(make_app, fake_notion):
    app, _ = make_app(SVP_CORS_ORIGINS="https://dash.example")
    client = app.test_client()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-csrf-token",
    }
    ok = client.options(
        "/api/databases/register", headers={"Origin": "https://dash.example", **preflight}
    )
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-CSRF-Token" in ok.headers["Access-Control-Allow-Headers"]
    evil = client.options(
        "/api/databases/register", headers={"Origin": "https://evil.example", **preflight}
    )
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers

    allowed = client.get("/api/me", headers={"Origin": "https://dash.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    other = client.get("/api/me", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_health_reports_the_store_and_notion_and_caches_its_answer(make_app, fake_notion):
    app, _ = make_app()
    client = app.test_client()
    first = client.get("/health")
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "ok" and body["state_store"]["ok"] and body["notion_api"]["ok"]
    assert body["timestamp"] and body["cached"] is False
    assert client.get("/health").get_json()["cached"] is True
    assert len(fake_notion.requests_to("/v1/users/me")) == 1  # one probe of Notion

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}"
    down, _ = make_app(NOTION_BASE_URL=closed)
    answer = down.test_client().get("/health")
    assert answer.status_code == 503
    assert answer.get_json()["notion_api"]["ok"] is False
    assert answer.get_json()["state_store"]["ok"] is True


# -- the Cloud Function and the command ---------------------------------------------------------
def test_the_api_function_serves_the_same_app(make_app, fake_notion):
    import functions_framework

    import svp.functions

    make_app()  # sets the environment
    svp.functions.reset()
    try:
        client = functions_framework.create_app(
            target="handle", source=str(ROOT / "functions/api/main.py")
        ).test_client()
        assert client.get("/health").get_json()["status"] == "ok"
        assert "Connect Notion" in text(client.get("/"))
        login = client.get("/auth/notion/login")
        assert login.status_code == 302 and "svp_oauth_state=" in login.headers["Set-Cookie"]
        assert client.get("/api/jobs").status_code == 401
    finally:
        svp.functions.reset()
    requirements = (ROOT / "functions/api/requirements.txt").read_text()
    for needed in (
        "functions-framework",
        "flask",
        "cryptography",
        "notion-client",
        "google-cloud-firestore",
        "google-cloud-pubsub",
    ):
        assert needed in requirements


def test_svp_serve_says_when_its_port_is_taken(make_app, capsys):
    make_app()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert svp(["serve", "--port", str(busy.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_importing_the_api_function_loads_no_heavy_library():
    import subprocess
    import sys

    heavy = (
        "flask",
        "notion_client",
        "cryptography",
        "google.cloud.firestore",
        "google.cloud.pubsub_v1",
    )
    main = ROOT / "functions/api/main.py"
    code = (
        f"import sys, runpy; sys.path[:0] = [{str(ROOT / 'shared')!r}]; "
        f"runpy.run_path({str(main)!r}); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    # functions_framework itself brings Flask; the rest waits for the first request.
    assert set(filter(None, loaded.split(","))) <= {"flask"}, loaded
