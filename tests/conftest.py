"""Shared fixtures: an isolated data dir and environment, generated clips, a media server."""

from __future__ import annotations

import functools
import http.server
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from svp.config import Settings, load_settings
from svp.runtime.context import Runtime
from svp.wiring import build_runtime
from tests.clipgen import make_clip
from tests.fakes.notion import FakeNotion

pytest_plugins = ["tests.emulators", "tests.fakes.fixtures"]

# Variables a developer's shell may carry that would send tests to real services.
_LEAKY = (
    "SVP_BACKEND",
    "SVP_PROJECT",
    "SVP_BUCKET",
    "GOOGLE_CLOUD_PROJECT",
    "NOTION_TOKEN",
    "NOTION_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SVP_LINK_DATABASES",
    "SVP_CONTENT_DATABASES",
    "SVP_ALLOWED_HOSTS",
    "SVP_OCR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process sets up the root logger (`svp` without -v: errors only, on
    stderr): put it back, so the next test's caplog sees what it logs."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean environment with fast retries; tests add their own variables to it."""
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    values = {
        "SVP_DATA_DIR": str(tmp_path / ".svp"),
        "SVP_RETRY_MIN_SECONDS": "0.05",
        "SVP_RETRY_MAX_SECONDS": "0.2",
        "SVP_MAX_ATTEMPTS": "3",
        "SVP_NOTION_RETRY_SECONDS": "0.01",
        # The local media server: admitted like a self-hosted source (tests of the URL guard
        # set their own value).
        "SVP_ALLOWED_HOSTS": "127.0.0.1",
        "NO_PROXY": "127.0.0.1,localhost",
        # The many end-to-end runs read on-screen text with Tesseract: on these plain clips it
        # takes a third of RapidOCR's time. RapidOCR, the default, has its own tests
        # (test_screen_text.py: the stage, the page, offline) and bench/ocr_quality.py.
        "SVP_OCR": "tesseract",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(dotenv=None)


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return build_runtime(settings)


@pytest.fixture
def notion_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fake_notion: FakeNotion):
    """The environment of `env`, with Notion answered by the fake."""
    monkeypatch.setenv("NOTION_TOKEN", fake_notion.token)
    monkeypatch.setenv("NOTION_BASE_URL", fake_notion.base_url)
    return fake_notion


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated clips, made once per session."""
    folder = tmp_path_factory.mktemp("clips")
    make_clip(
        folder / "pasta.mp4",
        speech_text="Today we make tomato pasta. Boil the spaghetti for ten minutes, "
        "then add the garlic and basil.",
        overlays=[(0, 4, "Tomato Pasta"), (4, 8, "Spaghetti"), (8, 12, "Garlic and basil")],
        duration=12,
    )
    (folder / "not-media.mp4").write_bytes(b"this is plain text, not a video\n" * 50)
    (folder / "page.html").write_text("<html><body><p>No video here.</p></body></html>")
    return folder


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def media_server(clips: Path) -> Iterator[str]:
    """Serves the clips folder on 127.0.0.1; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(clips))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def pytest_configure(config: pytest.Config) -> None:
    # Keep any HTTP client from routing loopback traffic through a proxy.
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
