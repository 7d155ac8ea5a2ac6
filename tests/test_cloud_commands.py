"""`svp cloud ...`, each command through the real Google SDKs (or google-auth REST) against
fakes that speak the services' wire formats (tests/fakes/)."""

from __future__ import annotations

import pytest

from svp.cli import main
from svp.config import load_settings
from svp.secrets import live_settings
from tests.fakes.functions_api import FakeFunctions
from tests.fakes.logging_api import FakeLogging
from tests.fakes.model_lists import FakeGeminiWithModels, FakeOpenAIWithModels
from tests.fakes.notion import FakeNotion
from tests.fakes.run_api import FakeRun
from tests.fakes.scheduler import FakeScheduler
from tests.fakes.secretmanager import FakeSecretManager

PROJECT = "svp-test"
REGION = "europe-west1"
SECRETS = (
    "notion-token",
    "openai-api-key",
    "gemini-api-key",
    "cookies",
    "notion-client-secret",
    "encryption-key",
    "webhook-token",
    "session-secret",
)
FUNCTIONS = ("poller", "webhook", "api", "downloader", "transcriber", "ocr", "summarizer", "writer")
WHERE = ["--project", PROJECT, "--region", REGION, "--terraform-dir", "/nonexistent"]


@pytest.fixture
def cloud(env, monkeypatch):
    """Every fake, what `terraform apply` left (empty secrets, the Scheduler job), and the
    environment that sends each client to its fake."""
    fakes = {
        "sm": FakeSecretManager(project=PROJECT),
        "scheduler": FakeScheduler(project=PROJECT, location=REGION),
        "logging": FakeLogging(project=PROJECT),
        "functions": FakeFunctions(project=PROJECT, location=REGION),
        "run": FakeRun(project=PROJECT, location=REGION),
        "notion": FakeNotion(),
        "gemini": FakeGeminiWithModels(api_key="AIza-right"),
        "openai": FakeOpenAIWithModels(api_key="sk-right"),
    }
    for fake in fakes.values():
        fake.start()
    for key in SECRETS:
        fakes["sm"].create_secret(f"svp-{key}")
    fakes["scheduler"].add_job("svp-poller")
    for name in FUNCTIONS:  # each function, and its Cloud Run service naming no environment
        fakes["functions"].add(f"svp-{name}")
        fakes["run"].add(f"svp-{name}")
    for name, fake in (
        ("SVP_SECRET_MANAGER_ENDPOINT", "sm"),
        ("SVP_SCHEDULER_ENDPOINT", "scheduler"),
        ("SVP_LOGGING_ENDPOINT", "logging"),
        ("SVP_FUNCTIONS_ENDPOINT", "functions"),
        ("SVP_RUN_ENDPOINT", "run"),
        ("NOTION_BASE_URL", "notion"),
        ("GOOGLE_GEMINI_BASE_URL", "gemini"),
    ):
        monkeypatch.setenv(name, fakes[fake].base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", fakes["openai"].base_url + "/v1")
    for name in ("NOTION_TOKEN", "GEMINI_API_KEY", "OPENAI_API_KEY", "NOTION_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    yield fakes
    for fake in fakes.values():
        fake.stop()


def setup_cmd(monkeypatch, *flags: str, **values: str) -> int:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return main(["cloud", "setup", *WHERE, "--from-env", *flags])


def versions(sm: FakeSecretManager) -> dict[str, int]:
    return {key: sm.version_count(f"svp-{key}") for key in SECRETS}


# -- setup ----------------------------------------------------------------------------------
def test_setup_refuses_a_wrong_notion_token_and_stores_nothing(cloud, monkeypatch, capsys):
    links, _ = cloud["notion"].add_database("Links", {"Name": "title"})
    code = setup_cmd(
        monkeypatch,
        "--link-databases",
        links,
        NOTION_TOKEN="ntn_wrong",
        GEMINI_API_KEY="AIza-right",
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "refused: notion-token: Notion refused the token (401 unauthorized)" in out
    assert "nothing stored" in out
    assert set(versions(cloud["sm"]).values()) == {0}


def test_setup_refuses_a_database_the_token_cannot_read(cloud, monkeypatch, capsys):
    code = setup_cmd(
        monkeypatch,
        "--link-databases",
        "https://www.notion.so/ws/Links-0123456789abcdef0123456789abcdef?v=1",
        NOTION_TOKEN=cloud["notion"].token,
    )
    assert code == 1
    assert "database 0123456789abcdef0123456789abcdef is not shared" in capsys.readouterr().out
    assert set(versions(cloud["sm"]).values()) == {0}


def test_setup_refuses_a_wrong_llm_key(cloud, monkeypatch, capsys):
    code = setup_cmd(
        monkeypatch,
        NOTION_TOKEN=cloud["notion"].token,
        GEMINI_API_KEY="AIza-wrong",
        OPENAI_API_KEY="sk-wrong",
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "refused: gemini-api-key: Gemini refused the key (400)" in out
    assert "refused: openai-api-key: OpenAI refused the key (401)" in out
    assert set(versions(cloud["sm"]).values()) == {0}


def test_setup_stores_checked_values_then_changes_only_what_changes(cloud, monkeypatch, capsys):
    sm = cloud["sm"]
    links, _ = cloud["notion"].add_database("Links", {"Name": "title"})
    recipes, _ = cloud["notion"].add_database("Recipes", {"Name": "title"})
    flags = ["--link-databases", links, "--content-databases", f"cooking={recipes}"]
    flags += ["--notion-client-id", "fake-oauth-client-id"]
    code = setup_cmd(
        monkeypatch,
        *flags,
        NOTION_TOKEN=cloud["notion"].token,
        GEMINI_API_KEY="AIza-right",
        OPENAI_API_KEY="none",
        NOTION_CLIENT_SECRET="fake-oauth-client-secret",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reads 2 database(s): Links, Recipes" in out
    assert "gemini-api-key        stored (version 1): valid; lists models" in out
    assert "openai-api-key        stored (version 1): off" in out
    assert "notion-client-secret  stored (version 1): valid pair" in out
    assert "encryption-key        stored (version 1): generated" in out
    assert "within a minute; nothing to redeploy" in out
    stored = versions(sm)
    assert stored == {**dict.fromkeys(SECRETS, 1), "cookies": 0}
    assert sm.value("svp-notion-token") == cloud["notion"].token
    assert sm.value("svp-openai-api-key") == "none" and sm.value("svp-webhook-token") == "none"
    from cryptography.fernet import Fernet

    key = sm.value("svp-encryption-key")
    Fernet(key.encode())  # a Fernet key
    assert cloud["notion"].token not in out and key not in out  # values are never printed

    # Again with nothing given: everything is kept, nothing written.
    for name in ("NOTION_TOKEN", "GEMINI_API_KEY", "OPENAI_API_KEY", "NOTION_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    assert setup_cmd(monkeypatch, *flags) == 0
    out = capsys.readouterr().out
    assert "notion-token          kept (version 1)" in out and "Nothing changed." in out
    assert versions(sm) == stored

    # One new key: only it changes.
    assert setup_cmd(monkeypatch, *flags, OPENAI_API_KEY="sk-right") == 0
    assert versions(sm) == {**stored, "openai-api-key": 2}
    capsys.readouterr()

    # The encryption key: never replaced without the flag, and the flag asks first.
    assert setup_cmd(monkeypatch, *flags, "--rotate-encryption-key") == 0
    captured = capsys.readouterr()
    assert "every stored Notion token unreadable" in captured.err
    assert "encryption-key        kept (version 1): not confirmed" in captured.out
    assert sm.value("svp-encryption-key") == key
    assert setup_cmd(monkeypatch, *flags, "--rotate-encryption-key", "--yes") == 0
    assert "every stored Notion token unreadable" in capsys.readouterr().err
    assert sm.value("svp-encryption-key") != key


def test_setup_refuses_a_wrong_oauth_pair(cloud, monkeypatch, capsys):
    code = setup_cmd(
        monkeypatch,
        "--notion-client-id",
        "fake-oauth-client-id",
        NOTION_TOKEN=cloud["notion"].token,
        NOTION_CLIENT_SECRET="not-the-secret",
    )
    assert code == 1
    assert "refused: notion-client-secret: Notion refused the OAuth client id and secret" in (
        capsys.readouterr().out
    )


def test_setup_says_to_apply_first_when_the_secrets_do_not_exist(cloud, monkeypatch, capsys):
    cloud["sm"].secrets.clear()
    assert setup_cmd(monkeypatch, NOTION_TOKEN=cloud["notion"].token) == 1
    assert "run `terraform apply` first" in capsys.readouterr().err


def test_setup_without_access_says_who_may(cloud, monkeypatch, capsys):
    cloud["sm"].denied.add("svp-notion-token")
    assert setup_cmd(monkeypatch, NOTION_TOKEN=cloud["notion"].token) == 1
    assert "no access to secret svp-notion-token" in capsys.readouterr().err


# -- execution environment ----------------------------------------------------------------
def configured_setup(cloud, monkeypatch) -> int:
    """`svp cloud setup` with every value a first run needs, valid."""
    links, _ = cloud["notion"].add_database("Links", {"Name": "title"})
    recipes, _ = cloud["notion"].add_database("Recipes", {"Name": "title"})
    flags = ["--link-databases", links, "--content-databases", f"cooking={recipes}"]
    return setup_cmd(
        monkeypatch,
        *flags,
        NOTION_TOKEN=cloud["notion"].token,
        GEMINI_API_KEY="AIza-right",
        OPENAI_API_KEY="none",
    )


def test_setup_puts_the_functions_that_start_children_in_the_second_generation(
    cloud, monkeypatch, capsys
):
    """Terraform cannot name the execution environment of a Cloud Function's service; setup
    does, for the downloader, transcriber and ocr only, and again after a redeploy reset it."""
    run = cloud["run"]
    run.services["svp-transcriber"]["template"]["executionEnvironment"] = (
        "EXECUTION_ENVIRONMENT_GEN1"
    )
    assert configured_setup(cloud, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "svp-downloader     gen2 set (was unspecified)" in out
    assert "svp-ocr            gen2 set (was unspecified)" in out
    assert "svp-transcriber    gen2 set (was gen1)" in out
    gen2 = "EXECUTION_ENVIRONMENT_GEN2"
    for name in FUNCTIONS:
        wanted = gen2 if name in ("downloader", "transcriber", "ocr") else None
        assert run.environment(f"svp-{name}") == wanted, name
    # What else the service held is kept: its container, limits and service account.
    ocr = run.services["svp-ocr"]["template"]
    assert ocr["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert ocr["serviceAccount"] == f"svp-ocr@{PROJECT}.iam.gserviceaccount.com"
    assert all(body["etag"] == '"etag-1"' for body in run.patches)  # read, then written back

    # Again: nothing to change.
    patched = len(run.patches)
    assert setup_cmd(monkeypatch) == 0
    assert "svp-ocr            gen2 already" in capsys.readouterr().out
    assert len(run.patches) == patched

    # A redeploy that left the ocr's service without it: set again, only there.
    del run.services["svp-ocr"]["template"]["executionEnvironment"]
    assert setup_cmd(monkeypatch) == 0
    out = capsys.readouterr().out
    assert "svp-ocr            gen2 set (was unspecified)" in out
    assert "svp-downloader     gen2 already" in out
    assert len(run.patches) == patched + 1


def test_setup_says_how_to_set_the_environment_by_hand_where_cloud_run_refuses(
    cloud, monkeypatch, capsys
):
    cloud["run"].denied.add("svp-downloader")
    assert configured_setup(cloud, monkeypatch) == 1
    out = capsys.readouterr().out
    assert (
        f"svp-downloader     not set: projects/{PROJECT}/locations/{REGION}/services/"
        "svp-downloader: Cloud Run answered HTTP 403 PERMISSION_DENIED: Permission"
        " 'run.services.get' denied"
    ) in out
    assert (
        f"by hand: gcloud run services update svp-downloader --region {REGION}"
        " --execution-environment gen2"
    ) in out
    assert "svp-ocr            gen2 set (was unspecified)" in out  # the others are set
    assert cloud["run"].environment("svp-transcriber") == "EXECUTION_ENVIRONMENT_GEN2"
    assert versions(cloud["sm"])["notion-token"] == 1  # the secrets are stored all the same


# -- webhook token --------------------------------------------------------------------------
def test_webhook_token_is_stored_and_read_by_the_webhook_within_its_cache(
    cloud, monkeypatch, capsys
):
    sm = cloud["sm"]
    sm.add_version("svp-webhook-token", "none")
    monkeypatch.setenv("SVP_SECRETS", "NOTION_WEBHOOK_TOKEN=svp-webhook-token")
    monkeypatch.setenv("SVP_PROJECT", PROJECT)
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_BUCKET", "svp-artifacts")
    webhook = live_settings(load_settings(dotenv=None))  # what the running webhook holds
    webhook.reader.ttl = 0
    assert webhook.current().notion_webhook_token == ""
    assert main(["cloud", "webhook-token", *WHERE, "--accept", "secret_abc123"]) == 0
    assert "svp-webhook-token version 2" in capsys.readouterr().out
    assert webhook.current().notion_webhook_token == "secret_abc123"
    assert main(["cloud", "webhook-token", *WHERE, "--accept", "two words"]) == 2


# -- scheduler ------------------------------------------------------------------------------
def test_poll_pause_resume_drive_the_scheduler_job(cloud, capsys):
    job = cloud["scheduler"].jobs["svp-poller"]
    assert main(["cloud", "poll", *WHERE]) == 0
    assert job.runs == 1 and "poll started (svp-poller)" in capsys.readouterr().out
    assert main(["cloud", "pause", *WHERE]) == 0
    assert job.state == "PAUSED" and "polling paused" in capsys.readouterr().out
    assert main(["cloud", "pause", *WHERE]) == 1
    assert "polling is already paused" in capsys.readouterr().err
    assert main(["cloud", "resume", *WHERE]) == 0
    assert job.state == "ENABLED" and "polling resumed" in capsys.readouterr().out
    assert main(["cloud", "poll", "--project", PROJECT, "--region", "us-central1"]) == 1
    assert "no scheduler job" in capsys.readouterr().err


# -- status ---------------------------------------------------------------------------------
def test_status_shows_functions_polling_jobs_and_dead_letters(
    cloud, monkeypatch, capsys, firestore_emulator, pubsub_fake
):
    import dataclasses
    import urllib.request

    from svp.cloud.status import cloud_settings
    from svp.cloud.target import Target
    from svp.topology import PIPELINE, dead_letter_subscription, dead_letter_topic
    from svp.wiring import build_runtime

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    clear = (
        f"http://{firestore_emulator}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    )
    urllib.request.urlopen(urllib.request.Request(clear, method="DELETE")).close()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_fake.host)
    pubsub_fake.reset()
    monkeypatch.setattr(pubsub_fake, "project", PROJECT)
    for name in ("poller", "webhook", "api", *PIPELINE):
        cloud["functions"].add(f"svp-{name}")
    cloud["functions"].add("svp-writer", "FAILED", "Build failed: requirements")
    cloud["scheduler"].jobs["svp-poller"].on_run = lambda: (7, "HTTP 503: not configured")
    cloud["run"].services["svp-downloader"]["template"]["executionEnvironment"] = (
        "EXECUTION_ENVIRONMENT_GEN2"
    )
    cloud["run"].services["svp-transcriber"]["template"]["executionEnvironment"] = (
        "EXECUTION_ENVIRONMENT_GEN1"
    )
    main(["cloud", "poll", *WHERE])
    for stage in PIPELINE:
        pubsub_fake.add_topic(dead_letter_topic("svp-", stage))
        pubsub_fake.add_subscription(
            dead_letter_subscription("svp-", stage), dead_letter_topic("svp-", stage)
        )
    pubsub_fake.publish(dead_letter_topic("svp-", "summarizer"), b"{}", {"job_id": "j3"})
    settings = cloud_settings(load_settings(dotenv=None), Target(PROJECT, REGION))
    runtime = build_runtime(dataclasses.replace(settings, bucket="b"))
    now = 1_700_000_000.0
    docs = {
        "j1": {"status": "transcribing", "open": True},
        "j2": {"status": "failed", "open": False, "error": "boom"},
        "j3": {"status": "failed", "open": False, "error": "...: svp replay --job j3"},
        "j4": {"status": "done", "open": False},
    }
    for job_id, doc in docs.items():
        runtime.state.put("jobs", job_id, {"job_id": job_id, "updated_at": now, **doc})
    capsys.readouterr()
    assert main(["cloud", "status", *WHERE]) == 0
    out = capsys.readouterr().out
    assert "svp-poller         ACTIVE" in out
    assert "svp-writer         FAILED (Build failed: requirements)" in out
    # Before `svp cloud setup`: which function misses which secret.
    assert "svp-downloader     ACTIVE\n" in out
    assert "svp-transcriber    ACTIVE     not configured: svp-openai-api-key unset" in out
    assert "(run `svp cloud setup`)" in out
    assert "polling: ENABLED, schedule '* * * * *'; last poll 20" in out
    assert "(failed (HTTP 503: not configured))" in out
    assert "jobs: 1 in flight, 2 failed (1 of them dead-lettered)" in out
    assert "dead letters waiting: 1 (summarizer 1)" in out
    # The environments: the downloader's as declared, the others not (yet, or reset).
    assert (
        "execution environments: svp-downloader gen2, svp-ocr unspecified (wants gen2),"
        " svp-transcriber gen1 (wants gen2) (run `svp cloud setup`)"
    ) in out


def test_status_says_what_it_cannot_see(
    cloud, monkeypatch, capsys, firestore_emulator, pubsub_fake
):
    cloud["functions"].denied.add(PROJECT)
    cloud["scheduler"].denied.add("svp-poller")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_fake.host)
    pubsub_fake.reset()  # no dead-letter subscription
    assert main(["cloud", "status", *WHERE, "--prefix", "svp-"]) == 1
    out = capsys.readouterr().out
    assert "functions: unavailable (Cloud Functions answered HTTP 403)" in out
    assert "polling: unavailable (no access to" in out
    assert "dead letters waiting: unavailable (" in out


# -- logs -----------------------------------------------------------------------------------
def test_logs_of_a_job_in_order_and_of_one_function(cloud, capsys):
    logging_fake = cloud["logging"]
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)

    def at(minutes: int) -> str:
        return (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")

    logging_fake.add(at(3), "svp-writer", "page written", job_id="abc", stage="writer")
    logging_fake.add(at(9), "svp-downloader", "downloaded", job_id="abc", stage="downloader")
    logging_fake.add(at(5), "svp-summarizer", "summarized", job_id="abc", stage="summarizer")
    logging_fake.add(at(4), "svp-summarizer", "other job", job_id="zzz", stage="summarizer")
    logging_fake.add(at(60 * 30), "svp-writer", "too old", job_id="abc", stage="writer")
    assert main(["cloud", "logs", *WHERE, "--job", "abc"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-2:] for line in lines] == [
        ["job=abc", "downloaded"],
        ["job=abc", "summarized"],
        ["page", "written"],
    ]
    assert main(["cloud", "logs", *WHERE, "--function", "summarizer", "--limit", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("other job")  # the newest one


def test_logs_without_the_api_print_the_query_and_a_console_link(cloud, capsys):
    cloud["logging"].denied.add(PROJECT)
    assert main(["cloud", "logs", *WHERE, "--job", "abc"]) == 1
    captured = capsys.readouterr()
    assert "Cloud Logging's API is not available here (PERMISSION_DENIED" in captured.err
    assert 'labels.job_id="abc"' in captured.out
    assert "https://console.cloud.google.com/logs/query;query=" in captured.out
    assert f"--project={PROJECT}" in captured.out


# -- the runbook ----------------------------------------------------------------------------
def test_the_runbook_functions_wait_then_setup_configures_them_without_a_redeploy(
    cloud, monkeypatch, capsys
):
    """terraform apply (functions up, secrets empty) -> svp cloud setup (a wrong token refused,
    nothing stored; then the right values) -> every function configured, none redeployed."""
    import time
    from pathlib import Path

    import functions_framework

    import svp.functions
    from svp.secrets import secrets_variable

    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_PROJECT", PROJECT)
    monkeypatch.setenv("SVP_BUCKET", "svp-artifacts")
    monkeypatch.setenv("SVP_SECRET_CACHE_SECONDS", "0.2")

    def client(name: str):
        # What Terraform gives the function: the names of its secrets (functions.tf).
        monkeypatch.setenv("SVP_SECRETS", secrets_variable(name))
        svp.functions.reset()
        return functions_framework.create_app(
            target="handle", source=str(root / "functions" / name / "main.py")
        ).test_client()

    def health(name: str):
        answer = client(name).get("/health" if name == "api" else "/")
        return answer.status_code, answer.get_json()

    try:
        for name in ("poller", "webhook", "writer", "summarizer", "transcriber"):
            code, answer = health(name)
            assert code == 503 and answer["status"] == "not configured", name
        code, answer = health("downloader")
        assert (code, answer["status"]) == (200, "ok") and "missing" not in answer

        links, _ = cloud["notion"].add_database("Links", {"Name": "title"})
        where = ["--link-databases", links]
        assert setup_cmd(monkeypatch, *where, NOTION_TOKEN="ntn_wrong") == 1
        assert "refused: notion-token" in capsys.readouterr().out
        assert set(versions(cloud["sm"]).values()) == {0}

        assert setup_cmd(monkeypatch, *where, NOTION_TOKEN=cloud["notion"].token) == 0
        time.sleep(0.3)  # the functions' cache time, not a deployment
        for name in ("poller", "webhook", "writer", "summarizer", "transcriber", "ocr"):
            code, answer = health(name)
            assert (code, answer["status"]) == (200, "ok") and "missing" not in answer, name
    finally:
        svp.functions.reset()


def test_setup_stores_a_cookies_file_only_when_it_is_one(cloud, monkeypatch, capsys, tmp_path):
    token = cloud["notion"].token
    bad = tmp_path / "bad.txt"
    bad.write_text("sessionid=abc\n")
    assert setup_cmd(monkeypatch, "--cookies", str(bad), NOTION_TOKEN=token) == 1
    assert "refused: cookies: " in capsys.readouterr().out
    assert cloud["sm"].version_count("svp-cookies") == 0
    good = tmp_path / "cookies.txt"
    good.write_text(
        "# Netscape HTTP Cookie File\n"
        ".instagram.com\tTRUE\t/\tTRUE\t1900000000\tsessionid\tabc\n"
        "#HttpOnly_.tiktok.com\tTRUE\t/\tTRUE\t1900000000\tsid_tt\tdef\n"
    )
    assert setup_cmd(monkeypatch, "--cookies", str(good), NOTION_TOKEN=token) == 0
    out = capsys.readouterr().out
    assert (
        "cookies               stored (version 1): 2 cookie(s) for instagram.com, tiktok.com" in out
    )
    assert cloud["sm"].value("svp-cookies") == good.read_text()


def test_webhook_token_lists_the_tokens_the_webhook_received(
    cloud, monkeypatch, capsys, firestore_emulator
):
    from svp.cloud.status import cloud_settings
    from svp.cloud.target import Target
    from svp.notion.webhook import SETTINGS, TOKEN_KEY
    from svp.wiring import build_runtime

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    settings = cloud_settings(load_settings(dotenv=None), Target(PROJECT, REGION, bucket="b"))
    state = build_runtime(settings).state
    state.delete(SETTINGS, TOKEN_KEY)
    assert main(["cloud", "webhook-token", *WHERE]) == 1
    assert "no token received yet" in capsys.readouterr().err
    import time

    from svp.runtime.jobs import iso

    received = iso(time.time() - 60)  # pending tokens are kept an hour (svp.notion.webhook)
    pending = [{"token": "secret_from_notion", "received_at": received}]
    state.put(SETTINGS, TOKEN_KEY, {"pending": pending})
    assert main(["cloud", "webhook-token", *WHERE]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"secret_from_notion\treceived {received}\n"
    assert "svp cloud webhook-token --accept TOKEN" in captured.err


def test_replay_republishes_a_dead_letter_of_this_deployment(
    cloud, monkeypatch, capsys, pubsub_fake
):
    from svp.messages import JobMessage
    from svp.topology import dead_letter_subscription, dead_letter_topic

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_fake.host)
    pubsub_fake.reset()
    monkeypatch.setattr(pubsub_fake, "project", PROJECT)
    pubsub_fake.add_topic("svp-extracted")
    for stage in ("downloader", "transcriber", "ocr", "summarizer", "writer"):
        pubsub_fake.add_topic(dead_letter_topic("svp-", stage))
        pubsub_fake.add_subscription(
            dead_letter_subscription("svp-", stage), dead_letter_topic("svp-", stage)
        )
    message = JobMessage("j7", "ocr")
    attributes = {**message.attributes(), "CloudPubSubDeadLetterSourceDeliveryCount": "15"}
    pubsub_fake.publish(dead_letter_topic("svp-", "summarizer"), message.encode(), attributes)
    assert main(["cloud", "replay", *WHERE, "--dry-run"]) == 0
    assert "would replay summarizer for job j7 (after 15 attempts)" in capsys.readouterr().out
    assert main(["cloud", "replay", *WHERE, "--job", "j7"]) == 0
    assert "1 message(s) replayed" in capsys.readouterr().out
    (republished,) = pubsub_fake.messages("svp-extracted")
    assert republished.attributes["job_id"] == "j7"


def test_setup_asks_with_hidden_input_and_enter_keeps_a_stored_secret(cloud, monkeypatch, capsys):
    import getpass

    asked: list[str] = []
    answers = {"Notion": cloud["notion"].token, "Gemini": "AIza-right"}

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return next((v for k, v in answers.items() if prompt.startswith(k)), "")

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert main(["cloud", "setup", *WHERE]) == 0
    assert asked[0] == "Notion integration token (ntn_...) [not set]: "
    assert len(asked) == 4  # the four secrets a person gives; the rest are generated
    answers.clear()
    asked.clear()
    capsys.readouterr()
    assert main(["cloud", "setup", *WHERE]) == 0
    assert asked[0] == "Notion integration token (ntn_...) [set, version 1: Enter keeps it]: "
    assert "Nothing changed." in capsys.readouterr().out


def test_the_deployment_comes_from_terraform_output_and_flags_override_it():
    import argparse

    from svp.cloud.target import TargetError, resolve

    output = {
        "project": "from-tf",
        "region": "europe-west1",
        "prefix": "x-",
        "link_databases": "abc",
        "functions": {"poller": "x-poller"},
    }
    args = argparse.Namespace(terraform_dir="terraform", project=None, region=None, prefix=None)
    target = resolve(args, read_output=lambda _: output)
    assert (target.project, target.region, target.prefix) == ("from-tf", "europe-west1", "x-")
    assert target.scheduler_job == "projects/from-tf/locations/europe-west1/jobs/x-poller"
    assert target.secret_name("notion-token") == "projects/from-tf/secrets/x-notion-token"
    args.project = "flagged"
    assert resolve(args, read_output=lambda _: output).project == "flagged"
    args.project = None
    with pytest.raises(TargetError, match="pass --project and --region"):
        resolve(args, read_output=lambda _: None)


def test_without_google_credentials_it_says_how_to_sign_in(env, monkeypatch, capsys, tmp_path):
    for name in ("SVP_SECRET_MANAGER_ENDPOINT", "SVP_SCHEDULER_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    assert main(["cloud", "poll", *WHERE]) == 2
    assert "gcloud auth application-default login" in capsys.readouterr().err
