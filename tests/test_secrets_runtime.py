"""Functions read their secrets at run time through Secret Manager's API (svp.secrets), through
the real client against FakeSecretManager: a function without them starts, says what is
missing and holds its work back; a value stored later is used within the cache's time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import functions_framework
import pytest

import svp.functions
from svp.config import load_settings
from svp.secrets import (
    FUNCTION_SECRETS,
    SECRET_NAMES,
    SecretReader,
    live_settings,
    secret_manager_client,
)
from tests.fakes.secretmanager import FakeSecretManager

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "svp-test"
NAMES = {"NOTION_TOKEN": "svp-notion-token", "SVP_ENCRYPTION_KEY": "svp-encryption-key"}


@pytest.fixture
def sm():
    with FakeSecretManager(project=PROJECT) as fake:
        for secret_id in NAMES.values():
            fake.create_secret(secret_id)
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reader(sm: FakeSecretManager, clock: Clock, names=NAMES) -> SecretReader:
    return SecretReader(PROJECT, names, lambda: secret_manager_client(sm.base_url), clock=clock)


def test_values_are_read_once_per_ttl_and_a_new_version_is_seen_after_it(sm):
    clock = Clock()
    sm.add_version("svp-notion-token", "ntn_first")
    sm.add_version("svp-encryption-key", "key-1")
    secrets = reader(sm, clock)
    first = secrets.read()
    assert first.values == {"NOTION_TOKEN": "ntn_first", "SVP_ENCRYPTION_KEY": "key-1"}
    assert not first.missing
    sm.add_version("svp-notion-token", "ntn_second")  # `svp cloud setup` rotates it
    clock.now += 59
    assert secrets.read().values["NOTION_TOKEN"] == "ntn_first"  # cached
    assert sm.accesses["svp-notion-token"] == 1
    clock.now += 2
    assert secrets.read().values["NOTION_TOKEN"] == "ntn_second"
    assert sm.accesses["svp-notion-token"] == 2


def test_each_missing_secret_says_why(sm):
    sm.create_secret("svp-session-secret")
    sm.add_version("svp-session-secret", "s")
    sm.create_secret("svp-notion-client-secret")
    sm.add_version("svp-notion-client-secret", "old")
    sm.denied.add("svp-encryption-key")
    names = {
        "NOTION_TOKEN": "svp-notion-token",  # no version yet
        "SVP_ENCRYPTION_KEY": "svp-encryption-key",  # no access
        "SVP_SESSION_SECRET": "svp-session-secret",
        "NOTION_CLIENT_SECRET": "svp-notion-client-secret",
        "GEMINI_API_KEY": "svp-gemini-api-key",  # no such secret
    }
    client = secret_manager_client(sm.base_url)
    client.disable_secret_version(
        request={"name": f"projects/{PROJECT}/secrets/svp-notion-client-secret/versions/1"}
    )
    read = reader(sm, Clock(), names).read()
    assert read.values == {"SVP_SESSION_SECRET": "s"}
    assert read.missing == {
        "NOTION_TOKEN": "svp-notion-token: no value yet",
        "SVP_ENCRYPTION_KEY": "svp-encryption-key: no access (secretAccessor missing)",
        "NOTION_CLIENT_SECRET": "svp-notion-client-secret: its latest version is disabled or"
        " destroyed",
        "GEMINI_API_KEY": "svp-gemini-api-key: no value yet",
    }


def test_an_outage_keeps_the_values_already_read(sm):
    from tests.fakes._server import google_error

    clock = Clock()
    sm.add_version("svp-notion-token", "ntn_1")
    sm.add_version("svp-encryption-key", "k")
    secrets = reader(sm, clock)
    secrets.read()
    clock.now += 61
    sm.failures.push(google_error(503), times=20)  # the client retries 503s itself
    assert secrets.read().values["NOTION_TOKEN"] == "ntn_1"
    assert not secrets.read().missing


def test_settings_follow_secret_manager_and_never_touch_the_environment(sm, env, monkeypatch):
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_BUCKET", "svp-artifacts")
    monkeypatch.setenv("SVP_SECRETS", ",".join(f"{k}={v}" for k, v in NAMES.items()))
    monkeypatch.setenv("SVP_SECRET_MANAGER_ENDPOINT", sm.base_url)
    monkeypatch.setenv("SVP_PROJECT", PROJECT)
    live = live_settings(load_settings(dotenv=None))
    live.reader.ttl = 0  # every read is due
    assert live.current().notion_token == ""
    assert live.missing() == [
        "NOTION_TOKEN (svp-notion-token: no value yet)",
        "SVP_ENCRYPTION_KEY (svp-encryption-key: no value yet)",
    ]
    sm.add_version("svp-notion-token", "ntn_token")
    sm.add_version("svp-encryption-key", "k")
    first = live.current()
    assert first.notion_token == "ntn_token" and first.encryption_key == "k"
    assert live.current() is first  # unchanged secrets: the same settings (runtime kept)
    assert "ntn_token" not in os.environ.values()
    assert "ntn_token" not in repr(first)


# -- the functions --------------------------------------------------------------------------
@pytest.fixture
def cloud_env(env, monkeypatch, sm):
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_PROJECT", PROJECT)
    monkeypatch.setenv("SVP_BUCKET", "svp-artifacts")
    monkeypatch.setenv("SVP_SECRET_MANAGER_ENDPOINT", sm.base_url)
    monkeypatch.setenv("SVP_SECRET_CACHE_SECONDS", "0.01")
    svp.functions.reset()
    yield monkeypatch
    svp.functions.reset()


def client_of(name: str, monkeypatch, sm) -> object:
    names = {s: f"svp-{SECRET_NAMES[s]}" for s in FUNCTION_SECRETS[name]}
    for secret_id in names.values():
        sm.create_secret(secret_id)
    monkeypatch.setenv("SVP_SECRETS", ",".join(f"{k}={v}" for k, v in names.items()))
    return functions_framework.create_app(
        target="handle", source=str(ROOT / "functions" / name / "main.py")
    ).test_client()


PUSH = {
    "message": {"data": "e30=", "attributes": {}, "messageId": "1", "publishTime": "x"},
    "subscription": "projects/svp-test/subscriptions/svp-writer-push",
    "deliveryAttempt": 1,
}


@pytest.mark.parametrize("name", ["writer", "summarizer", "transcriber"])
def test_a_stage_without_its_secrets_answers_health_and_defers_pushes(name, cloud_env, sm, capsys):
    client = client_of(name, cloud_env, sm)
    health = client.get("/")
    assert health.status_code == 503
    answer = health.get_json()
    assert answer["status"] == "not configured" and answer["hint"] == "run `svp cloud setup`"
    assert len(answer["missing"]) == len(FUNCTION_SECRETS[name])
    capsys.readouterr()
    for _ in range(2):  # Pub/Sub redelivers with back-off; nothing was claimed or run
        pushed = client.post("/", json=PUSH)
        assert pushed.status_code == 503
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    lines = [e["message"] for e in logged if "not configured" in e["message"]]
    assert len(lines) == 2 and "run `svp cloud setup`" in lines[0]
    for secret_id in {s for s in sm.secrets}:
        sm.add_version(secret_id, "none" if "api-key" in secret_id else "value")
    import time

    time.sleep(0.05)  # past the cache's time: no redeploy, no restart
    answer = client.get("/").get_json()
    assert (answer["function"], answer["status"]) == (name, "ok") and "missing" not in answer


def test_stages_that_parse_media_read_no_secret(cloud_env, sm):
    for name in ("downloader", "ocr"):
        client = client_of(name, cloud_env, sm)
        answer = client.get("/").get_json()
        assert (answer["function"], answer["status"]) == (name, "ok") and "missing" not in answer
    assert not sm.accesses


def test_the_stages_that_start_children_show_how_this_instance_confines_them(cloud_env, sm):
    """On Cloud Run each instance has its own kernel (gen1's gVisor or gen2's microVM): GET
    on the downloader, transcriber and ocr says what their children get there; the others
    start none and say nothing of it."""
    import os

    from svp.media.sandbox import isolation_report

    answer = client_of("downloader", cloud_env, sm).get("/").get_json()
    children = answer["children"]
    assert children["degraded"] == bool(children["missing"])
    here = isolation_report()
    for key in ("children_as", "seccomp", "landlock_abi", "subreaper", "missing"):
        assert children[key] == here[key], key
    if os.geteuid() == 0:
        assert children["children"]["ffprobe"] == "uid 65534"
    assert "children" not in client_of("writer", cloud_env, sm).get("/").get_json()


def test_the_poller_polls_nothing_until_configured(cloud_env, sm, capsys):
    client = client_of("poller", cloud_env, sm)
    response = client.post("/", json={"source": "scheduler"})
    assert response.status_code == 503  # Cloud Scheduler shows the failed run
    assert response.get_json()["status"] == "not configured"
    assert "not configured: run `svp cloud setup`" in capsys.readouterr().out


def test_the_api_says_it_is_not_configured_on_every_path(cloud_env, sm):
    client = client_of("api", cloud_env, sm)
    for path in ("/", "/health", "/api/links"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.get_json()["hint"] == "run `svp cloud setup`"


def test_locally_the_secrets_are_the_environment(env, monkeypatch):
    monkeypatch.setenv("SVP_SECRETS", "NOTION_TOKEN=svp-notion-token")
    monkeypatch.setenv("NOTION_TOKEN", "ntn_from_env")
    live = live_settings(load_settings(dotenv=None))  # SVP_BACKEND=local
    assert live.reader is None and live.missing() == []
    assert live.current().notion_token == "ntn_from_env"


def test_the_fake_answers_as_the_sdk_expects(sm):
    """Version names carry the project number, states come back as the SDK's enums, and a
    caller without access is refused by permission name."""
    from google.api_core import exceptions
    from google.cloud import secretmanager

    client = secret_manager_client(sm.base_url)
    parent = f"projects/{PROJECT}/secrets/svp-notion-token"
    first = client.add_secret_version(parent=parent, payload={"data": b"a"})
    client.add_secret_version(parent=parent, payload={"data": b"b"})
    assert first.name == f"projects/{sm.project_number}/secrets/svp-notion-token/versions/1"
    client.disable_secret_version(name=f"{parent}/versions/2")
    states = {v.name[-1]: v.state for v in client.list_secret_versions(parent=parent)}
    enum = secretmanager.SecretVersion.State
    assert states == {"1": enum.ENABLED, "2": enum.DISABLED}
    with pytest.raises(exceptions.BadRequest):  # latest is disabled: FAILED_PRECONDITION
        client.access_secret_version(name=f"{parent}/versions/latest")
    with pytest.raises(exceptions.BadRequest):
        client.access_secret_version(name=f"{parent}/versions/first")
    sm.denied.add("svp-notion-token")
    with pytest.raises(exceptions.Forbidden, match=r"secretmanager\.versions\.add"):
        client.add_secret_version(parent=parent, payload={"data": b"c"})
