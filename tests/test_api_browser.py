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
            assert "Connected to Alice's notes" in page.inner_text("main")

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
            page.click("#content-form button[type=submit]")
            assert "Registered Content Database" in page.inner_text(".flash.ok")
            assert "#cooking" in page.inner_text("#databases")

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
            assert "Open the page" in page.inner_text(f"#job-{good_id}")
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
