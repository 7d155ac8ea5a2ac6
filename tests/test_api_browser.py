"""The status page in a real browser: Debian's chromium driven by Playwright, on a phone-sized
screen. Sign in through the fake Notion's OAuth pages, register databases with the forms, see
a link move to done, replay a failed one.

Needs /usr/bin/chromium (Debian package `chromium`) and the `playwright` package (its wheel
carries the driver; no `playwright install`): `make install` sets both up. Screenshots go to
a temporary folder, or to SVP_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from svp.api import create_app, serving
from svp.config import load_settings
from svp.stages.poller import poll
from svp.wiring import build_runtime
from tests.api_helpers import Flaky, oauth_env, person, stub_works
from tests.pipeline_helpers import drain

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
PHONE = {"width": 390, "height": 844}


def sync_playwright():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make install` does, "
            "or `apt-get install chromium`)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        pytest.fail(
            "the playwright package is missing: `make install` installs it "
            "(pip install -e 'shared[dev]')",
            pytrace=False,
        )
    return start()


@pytest.fixture
def served(env, monkeypatch, fake_notion):
    """`svp serve`'s app on 127.0.0.1 in a thread; yields (base URL, runtime)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    for name, value in oauth_env(fake_notion, f"{base}/auth/notion/callback").items():
        monkeypatch.setenv(name, value)
    runtime = build_runtime(load_settings(dotenv=None))
    server = serving.make(create_app(runtime), port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield base, runtime
    server.shutdown()
    server.server_close()


def test_sign_in_register_follow_a_link_to_done_and_replay_a_failed_one(
    served, fake_notion, tmp_path
):
    base, runtime = served
    alice = person(fake_notion, "Alice")
    shots = Path(os.environ.get("SVP_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    flaky = Flaky()

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{base}/")
            page.screenshot(path=shots / "1-signed-out.png")

            fake_notion.sign_in_as(alice.workspace)
            page.click("#connect")  # to the fake Notion's authorize page and back
            page.wait_for_url(f"{base}/")
            assert page.inner_text("main").count("Connected to Alice's notes") == 1

            page.fill(
                "#link-db",
                f"https://www.notion.so/Alice-{alice.links_db.replace('-', '')}"
                "?v=0123456789abcdef0123456789abcdef",
            )
            page.click("#link-form button[type=submit]")
            assert "Registered Link Database" in page.inner_text(".flash.ok")
            page.fill("#content-db", alice.recipes_db)
            page.fill("#content-tag", "cooking")
            page.fill("#content-prompt", "Short steps, metric units.")
            page.fill("#content-language", "Italian")  # as --language on the command line
            assert "Needs review" in page.inner_text("label:has(#content-fix)")
            page.click("#content-form button[type=submit]")
            assert "Registered Content Database" in page.inner_text(".flash.ok")
            assert "#cooking" in page.inner_text("#databases")
            assert "in Italian" in page.inner_text("#databases")
            assert "--fix" not in page.inner_text("main")  # a web page has a box, not a flag
            assert "(or tick the “Add…” box)" in page.inner_text(".flash.note")

            good = fake_notion.add_page(
                alice.links,
                {
                    "Name": "pasta",
                    "status": "pending",
                    "url": "https://www.tiktok.com/@chef/video/1",
                    "tag": "cooking",
                },
            )
            bad = fake_notion.add_page(
                alice.links,
                {
                    "Name": "soup",
                    "status": "pending",
                    "url": "https://www.tiktok.com/@chef/video/flaky",
                    "tag": "cooking",
                },
            )
            good_id, bad_id = good.replace("-", ""), bad.replace("-", "")
            poll(runtime)
            drain(runtime, stub_works(flaky))

            page.reload()
            assert page.get_attribute(f"#job-{good_id}", "data-status") == "done"
            # The card names the page it made and links to it in Notion.
            title = page.locator(f"#job-{good_id} h3.title a")
            assert title.inner_text() == "Recipe from 1"
            assert title.get_attribute("href").startswith("https://")
            assert "Needs attention (1)" in page.inner_text("#attention")
            assert "503" in page.inner_text(f"#job-{bad_id}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page is {width}px wide on a phone"
            page.screenshot(path=shots / "2-status-with-a-failure.png", full_page=True)

            flaky.heal()
            page.click(f"#job-{bad_id} button.replay")
            assert "Replayed downloader" in page.inner_text(".flash.ok")
            drain(runtime, stub_works(flaky))
            page.reload()
            assert page.get_attribute(f"#job-{bad_id}", "data-status") == "done"
            assert page.locator("#attention").count() == 0
            page.screenshot(path=shots / "3-status-after-replay.png", full_page=True)

            page.click("header button")  # sign out
            page.wait_for_selector("#connect")
        finally:
            browser.close()
    assert len(fake_notion.pages_in(alice.recipes)) == 2


def test_revoke_an_api_key_and_another_browser_s_session(served, fake_notion, tmp_path):
    """Alice signs in on her phone and on a laptop, makes an API key on the phone, then
    revokes the key and the laptop's session there: the next request with each is refused."""
    import httpx

    base, _ = served
    alice = person(fake_notion, "Alice")
    shots = Path(os.environ.get("SVP_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            iphone = "Mozilla/5.0 (iPhone) Safari/604.1"
            phone = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, user_agent=iphone
            )
            laptop = browser.new_context(user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0")
            pages = {}
            for name, context in (("phone", phone), ("laptop", laptop)):
                page = pages[name] = context.new_page()
                page.set_default_timeout(10_000)
                fake_notion.sign_in_as(alice.workspace)
                page.goto(f"{base}/")
                page.click("#connect")
                page.wait_for_url(f"{base}/")
                assert "Connected to Alice's notes" in page.inner_text("main")
            page = pages["phone"]
            page.reload()

            page.click("#create-key")
            key = page.inner_text("#new-key code.key").strip()
            bearer = {"Authorization": f"Bearer {key}"}
            assert httpx.get(f"{base}/api/me", headers=bearer).status_code == 200
            page.goto(f"{base}/")
            assert key[:8] in page.inner_text("#keys")
            sessions = page.inner_text("#sessions")
            assert "Safari on iPhone" in sessions and "Firefox on Linux" in sessions
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page is {width}px wide on a phone"
            page.screenshot(path=shots / "4-keys-and-sessions.png", full_page=True)

            page.click("#keys button.revoke")
            assert "Revoked the API key" in page.inner_text(".flash.ok")
            refused = httpx.get(f"{base}/api/me", headers=bearer)
            assert refused.status_code == 401 and "revoked" in refused.json()["error"]

            laptop_row = page.locator("#sessions li", has_text="Firefox on Linux")
            laptop_row.locator("button.revoke").click()
            assert "Signed out of that browser" in page.inner_text(".flash.ok")
            assert "Firefox on Linux" not in page.inner_text("#sessions")
            answer = pages["laptop"].goto(f"{base}/api/me")
            assert answer is not None and answer.status == 401
            pages["laptop"].goto(f"{base}/")
            pages["laptop"].wait_for_selector("#connect")  # signed out there
            page.reload()
            assert "Connected to Alice's notes" in page.inner_text("main")  # not here
        finally:
            browser.close()


OWNER_TOKEN = "owner-token-for-the-test"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def served_locally(env):
    """`svp serve` as the machine's owner uses it: no Notion at all, an owner token."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runtime = build_runtime(load_settings(dotenv=None))
    server = serving.make(create_app(runtime, owner_token=OWNER_TOKEN), port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{port}", runtime
    server.shutdown()
    server.server_close()


def _local_works(release: threading.Event | None = None) -> dict:
    """Stand-in stages for `svp process` jobs: a picture and a title for the page; a link
    with "private" fails for good before downloading, one with "hangs" times out each try,
    one with "slow" waits for `release`."""
    import json

    import cv2
    import numpy as np

    from svp.errors import PermanentError, TransientError

    def downloader(ctx) -> dict:
        url = ctx.job["link"].get("url", "")
        if "private" in url:
            raise PermanentError("the video is private: ERROR: [TikTok] 7: This post is private")
        if "hangs" in url:
            raise TransientError(
                "the site is unreachable or failing, will retry: Unable to download webpage: "
                "HTTPConnectionPool(host='127.0.0.1', port=41711): Read timed out."
            )
        if "slow" in url and release is not None:
            release.wait(30)
        return {"title": "Tomato pasta", "artifacts": {}}

    def ocr(ctx) -> dict:
        picture = np.zeros((120, 160, 3), np.uint8)
        picture[:, :, 2], picture[40:80, 50:110] = 200, (40, 160, 60)  # red, a green square
        jpeg = cv2.imencode(".jpg", picture)[1].tobytes()
        return {"pictures": [{"uri": ctx.save("picture.jpg", jpeg), "source": "frame"}]}

    def summarize(ctx) -> dict:
        values = {"name": "Tomato pasta", "steps": "Boil the pasta, then add the sauce."}
        summary = {
            "items": [values],
            "evidence": [{}],
            "engine": "stand-in",
            "needs_review": False,
            "notes": [],
            "summary": "A pasta.",
            "content": {"caption": "", "transcript": "words", "screen_lines": [], "language": "en"},
        }
        return {"artifacts": {"summary": ctx.save("summary.json", json.dumps(summary).encode())}}

    return {
        "downloader": downloader,
        "transcriber": lambda ctx: {"artifacts": {}},
        "ocr": ocr,
        "summarizer": summarize,
    }


def _add_link(runtime, job_id: str, url: str) -> None:
    from svp.stages.targets import target_for_tag
    from tests.pipeline_helpers import enqueue

    enqueue(runtime, job_id, {"url": url, "tag": "cooking"}, target_for_tag(runtime, "cooking"))


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_the_owner_s_page_on_one_machine_follows_links_by_itself(served_locally, tmp_path, screen):
    """No Notion anywhere: the token `svp serve` printed opens this machine's jobs; the page
    updates by itself from empty to running (with the time so far) to done (the page's
    picture and title) and failed (plain words, the raw text folded; Replay only where a
    replay can work; stages never reached are not "pending")."""
    base, runtime = served_locally
    shots = Path(os.environ.get("SVP_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    viewport = PHONE if screen == "phone" else DESKTOP
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=viewport, device_scale_factor=2 if screen == "phone" else 1
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{base}/")
            assert "?token=" in page.inner_text("#owner-hint")
            assert page.locator("#connect").count() == 0  # no Notion sign-in configured

            page.goto(f"{base}/?token={OWNER_TOKEN}")
            assert page.url == f"{base}/"  # the token leaves the address bar
            assert "this machine" in page.inner_text("#who")
            assert "No links yet" in page.inner_text("#links")
            assert page.locator("#keys, #sessions, #link-form").count() == 0
            page.screenshot(path=shots / f"owner-{screen}-1-empty.png", full_page=True)

            release = threading.Event()
            _add_link(runtime, "cli-slow", "https://www.tiktok.com/@chef/video/slow")
            worker = threading.Thread(target=drain, args=(runtime, _local_works(release)))
            worker.start()
            try:
                running = page.wait_for_selector("#job-cli-slow .now")  # no reload
                page.wait_for_function(
                    "document.querySelector('#job-cli-slow .now').textContent.match(/[1-9] s/)"
                )
                assert running.inner_text().startswith("downloader · ")
                assert page.get_attribute("#job-cli-slow", "data-status") == "downloading"
                page.screenshot(path=shots / f"owner-{screen}-2-running.png", full_page=True)
            finally:
                release.set()
                worker.join()

            page.wait_for_selector("#job-cli-slow[data-status=done]")
            done = page.locator("#job-cli-slow")
            assert done.locator("h3.title").inner_text() == "Tomato pasta"
            assert (
                page.evaluate("document.querySelector('#job-cli-slow img.thumb').naturalWidth")
                == 160
            )
            assert ".svp/output/" in done.inner_text()
            assert not done.locator("table.stages").is_visible()  # folded once done
            page.screenshot(path=shots / f"owner-{screen}-3-done.png", full_page=True)

            _add_link(runtime, "cli-private", "https://www.tiktok.com/@chef/video/private")
            _add_link(runtime, "cli-hangs", "https://www.tiktok.com/@chef/video/hangs")
            drain(runtime, _local_works())
            page.wait_for_selector("#attention")
            assert "Needs attention (2)" in page.inner_text("#attention h2")

            private = page.locator("#job-cli-private")
            assert private.locator("p.error").inner_text() == (
                "the video is private: ERROR: [TikTok] 7: This post is private"
            )
            assert private.locator("button.replay").count() == 0  # failed for good
            assert "run svp process again" in private.inner_text()
            states = private.locator("table.stages td:nth-child(2)").all_inner_texts()
            assert states == ["failed", "not reached", "not reached", "not reached", "not reached"]

            hangs = page.locator("#job-cli-hangs")
            assert hangs.locator("p.error").inner_text() == (
                "the site (www.tiktok.com) is not answering (gave up after 3 attempts)"
            )
            raw = hangs.locator("details.raw")
            assert not raw.locator("pre").is_visible()  # folded
            raw.locator("summary").click()
            assert "Read timed out" in raw.locator("pre").inner_text()
            assert hangs.locator("button.replay").count() == 1  # dead-lettered: replayable

            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the page is {width}px wide"
            page.screenshot(path=shots / f"owner-{screen}-4-failed.png", full_page=True)

            page.wait_for_timeout(6500)  # one more refresh: the folded text stays open
            assert hangs.locator("details.raw pre").is_visible()
        finally:
            browser.close()
