"""`svp serve` for one machine's owner: the printed token opens the page (no Notion sign-in),
/health checks what is configured, the page's picture is the owner's only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from svp.api import create_app
from svp.config import ConfigError, load_settings
from svp.runtime import jobs
from svp.wiring import build_runtime

TOKEN = "the-printed-token"


@pytest.fixture
def local_app(env):
    runtime = build_runtime(load_settings(dotenv=None))
    return create_app(runtime, owner_token=TOKEN), runtime


def _job(runtime, job_id: str, user: str = "local") -> None:
    doc = jobs.new_job(job_id, {"file": "pasta.mp4", "tag": "cooking", "user": user}, {}, 0)
    runtime.state.create(jobs.JOBS, job_id, doc)


def test_the_printed_token_opens_the_owner_s_jobs_and_nothing_else_does(local_app):
    app, runtime = local_app
    _job(runtime, "cli-mine")
    _job(runtime, "web-theirs", user="someone-else")
    client = app.test_client()
    assert client.get("/api/jobs").status_code == 401
    assert "svp serve" in client.get("/").get_data(as_text=True)  # how to get in

    wrong = client.get("/?token=guess")
    assert wrong.status_code == 403
    assert client.get("/api/jobs").status_code == 401

    opened = client.get("/?token=" + TOKEN)
    assert opened.status_code == 303 and opened.headers["Location"] == "/"  # token dropped
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and TOKEN not in cookie
    listed = client.get("/api/jobs").get_json()["jobs"]
    assert [j["job_id"] for j in listed] == ["cli-mine"]
    page = client.get("/").get_data(as_text=True)
    assert 'id="job-cli-mine"' in page and "web-theirs" not in page
    assert client.get("/api/jobs/web-theirs").status_code == 404
    assert client.get("/jobs/web-theirs/picture").status_code == 404
    assert client.get("/jobs/cli-mine/picture").status_code == 404  # not done: no picture


def test_a_restart_prints_a_new_token_and_the_old_cookie_stops_working(env):
    runtime = build_runtime(load_settings(dotenv=None))
    first = create_app(runtime, owner_token="first").test_client()
    first.get("/?token=first")
    assert first.get("/api/jobs").status_code == 200
    again = create_app(runtime, owner_token="second")
    again_client = again.test_client()
    again_client.set_cookie("svp_session", first.get_cookie("svp_session").value)
    assert again_client.get("/api/jobs").status_code == 401


def test_the_api_function_has_no_owner(env, monkeypatch):
    plain = create_app(build_runtime(load_settings(dotenv=None))).test_client()
    page = plain.get("/?token=anything")
    assert page.status_code == 200 and "svp serve" not in page.get_data(as_text=True)
    assert plain.get("/api/jobs").status_code == 401
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_PROJECT", "p")
    monkeypatch.setenv("SVP_BUCKET", "b")
    with pytest.raises(ConfigError):
        create_app(build_runtime(load_settings(dotenv=None)), owner_token="x")


def test_health_on_one_machine_checks_jobs_queue_and_disk_not_an_unset_notion(local_app):
    app, _ = local_app
    answer = app.test_client().get("/health")
    assert answer.status_code == 200
    health = answer.get_json()
    assert health["status"] == "ok"
    assert health["notion_api"] == {"ok": True, "checked": False, "why": "Notion is not set up"}
    assert health["queue"]["ok"] and health["queue"]["waiting"] == 0
    assert health["disk"]["ok"] and health["disk"]["free_mb"] > 0


def test_health_checks_notion_once_it_is_set_up(env, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("NOTION_TOKEN", "secret_x")
    monkeypatch.setenv("NOTION_BASE_URL", f"http://127.0.0.1:{port}")
    app = create_app(build_runtime(load_settings(dotenv=None)), owner_token=TOKEN)
    answer = app.test_client().get("/health")
    assert answer.status_code == 503
    assert answer.get_json()["notion_api"]["ok"] is False


def test_health_names_a_retired_model_and_how_the_children_are_confined(
    env, monkeypatch, fake_gemini
):
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("SVP_GEMINI_MODEL", "gemini-2.5-flash")  # shut down: the fake says 404
    app = create_app(build_runtime(load_settings(dotenv=None)), owner_token=TOKEN)
    answer = app.test_client().get("/health")
    health = answer.get_json()
    assert answer.status_code == 503 and health["models"]["ok"] is False
    (problem,) = health["models"]["problems"]
    assert "gemini-2.5-flash is not available: set SVP_GEMINI_MODEL" in problem
    children = health["children"]
    assert children["ok"] and children["seccomp"] is True
    kinds = ("yt-dlp", "gallery-dl", "ffmpeg", "ffprobe")
    kernel = [m for m in children["missing"] if not m.startswith(kinds)]
    assert kernel == []  # this machine's kernel keeps every promise
    # Who each child runs as, and where that is root, why: one line each, also under missing.
    assert set(children["children"]) == set(kinds)
    for kind, who in children["children"].items():
        if who.startswith("root without capabilities: "):
            assert f"{kind} runs as {who}" in children["missing"]
            assert children["degraded"] is True
        else:
            mine = f"uid {os.geteuid()} (the parent's user)"
            assert who == ("uid 65534" if os.geteuid() == 0 else mine)


def test_svp_serve_prints_the_address_with_its_token_and_serves_it(env, tmp_path):
    import os
    from pathlib import Path

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "svp.cli", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root / "shared")},
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        prefix = f"svp: your status page (this machine's jobs): http://127.0.0.1:{port}/?token="
        assert first.startswith(prefix), first
        address = first.split(": ", 2)[2].strip()
        for _ in range(50):
            try:
                with httpx.Client(follow_redirects=True, trust_env=False) as client:
                    page = client.get(address)
                    break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert page.status_code == 200 and "this machine" in page.text
        assert str(page.url) == f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)
