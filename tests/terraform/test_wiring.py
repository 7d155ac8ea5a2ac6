"""Offline checks of the Terraform wiring (no provider, no plan: the .tf files are
parsed with python-hcl2 and the structure is asserted).

The root module calls ``terraform/modules/stage`` once per function, so most
per-stage guarantees are split in two: the module must build the resource with
the right shape, and the root must call the module once per stage with the right
topics, secrets and sizes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

hcl2 = pytest.importorskip(
    "hcl2",
    reason="python-hcl2 is not importable (pip install python-hcl2): Terraform tests skipped",
)

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "terraform"
STAGE_DIR = TF_DIR / "modules" / "stage"

PUSH_STAGES = ("downloader", "transcriber", "ocr", "summarizer", "writer")
FUNCTIONS = ("poller", "webhook", "api", *PUSH_STAGES)
# The only functions anyone may invoke, each authenticating every request itself: Notion's
# webhooks (HMAC signature) and the api (signed session cookie or API key).
PUBLIC_FUNCTIONS = ("webhook", "api")

# stage -> topic it consumes (None: invoked by Cloud Scheduler, by Notion for the webhook,
# by browsers and API clients for the api)
EXPECTED_SOURCE = {
    "poller": None,
    "webhook": None,
    "api": None,
    "downloader": "links",
    "transcriber": "media",
    "ocr": "media",
    "summarizer": "extracted",
    "writer": "summaries",
}
# stage -> topics it may publish to
EXPECTED_PUBLISH = {
    # links; and every stage's input: the reconciler re-drives a stage whose worker died.
    "poller": {"links", "media", "extracted", "summaries"},
    "webhook": {"links"},
    # Replay republishes a dead-lettered message to its stage's input topic.
    "api": {"links", "media", "extracted", "summaries"},
    "downloader": {"media"},
    "transcriber": {"extracted"},
    "ocr": {"extracted"},
    "summarizer": {"summaries"},
    "writer": set(),
}
# Every function that acts in Notion decrypts signed-in users' Notion tokens with this key.
ENCRYPTION_KEY = {"SVP_ENCRYPTION_KEY": "encryption-key"}
# function -> the secrets it may read at run time through Secret Manager's API (setting ->
# secret key in secrets.tf): svp.secrets.FUNCTION_SECRETS, and secretAccessor on each only.
EXPECTED_SECRET_ENV = {
    # Sends every status (the outbox) and refreshes a signed-in person's Notion token.
    "poller": {
        "NOTION_TOKEN": "notion-token",
        "NOTION_CLIENT_SECRET": "notion-client-secret",
        **ENCRYPTION_KEY,
    },
    # Trusts only the configured verification token (never one offered on first use).
    "webhook": {
        "NOTION_TOKEN": "notion-token",
        "NOTION_WEBHOOK_TOKEN": "webhook-token",
        **ENCRYPTION_KEY,
    },
    "api": {
        "NOTION_CLIENT_SECRET": "notion-client-secret",
        "SVP_SESSION_SECRET": "session-secret",
        **ENCRYPTION_KEY,
    },
    # Parse media anyone can link to (yt-dlp, gallery-dl, ffmpeg, PyAV): no Notion secret
    # (NOTION_FREE); the transcriber only its engine's key.
    "downloader": {},
    "transcriber": {"OPENAI_API_KEY": "openai-api-key"},
    "ocr": {},
    "summarizer": {
        "NOTION_TOKEN": "notion-token",
        "GEMINI_API_KEY": "gemini-api-key",
        **ENCRYPTION_KEY,
    },
    "writer": {"NOTION_TOKEN": "notion-token", **ENCRYPTION_KEY},
}
# function -> (memory, cpu, timeout): shared/svp/limits.json, which the stage runner reads too.
LIMITS = json.loads((REPO / "shared" / "svp" / "limits.json").read_text())["functions"]
EXPECTED_SIZE = {
    name: (limit["memory"], limit.get("cpu"), limit["timeout_seconds"])
    for name, limit in LIMITS.items()
}
# Every function, the api included (local.common_environment).
COMMON_ENV = {
    "SVP_BACKEND",
    "SVP_PROJECT",
    "SVP_BUCKET",
    "SVP_TOPIC_PREFIX",
    "SVP_FIRESTORE_DATABASE",
}
# The pipeline functions (stage_context.environment = common + local.pipeline_environment).
EXPECTED_ENV = COMMON_ENV | {
    "SVP_MAX_ATTEMPTS",
    "SVP_MAX_DELIVERIES",
    "SVP_LINK_DATABASES",
    "SVP_CONTENT_DATABASES",
    "SVP_OCR",
    "SVP_GEMINI_MODEL",
}
# The api: common + local.api_environment, never the operator's Notion databases.
API_ENV = COMMON_ENV | {"NOTION_CLIENT_ID", "NOTION_REDIRECT_URI", "SVP_CORS_ORIGINS"}
PIPELINE_ONLY_ENV = {"SVP_LINK_DATABASES", "SVP_CONTENT_DATABASES"}
NEW_SECRETS = {"notion-client-secret", "encryption-key", "session-secret"}
REQUIRED_APIS = {
    f"{s}.googleapis.com"
    for s in (
        "cloudfunctions",
        "run",
        "cloudbuild",
        "artifactregistry",
        "pubsub",
        "firestore",
        "storage",
        "secretmanager",
        "cloudscheduler",
        "vision",
        "logging",
        "monitoring",
        "eventarc",
        "iam",
    )
}
ROOT_FILES = (
    "versions.tf",
    "variables.tf",
    "apis.tf",
    "storage.tf",
    "firestore.tf",
    "pubsub.tf",
    "secrets.tf",
    "functions.tf",
    "scheduler.tf",
    "monitoring.tf",
    "outputs.tf",
)

# Strings that look like real credentials.
SECRET_PATTERNS = {
    "OpenAI key": re.compile(r"sk-(proj-)?[A-Za-z0-9_-]{20,}"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
    "Notion token": re.compile(r"\b(secret|ntn)_[A-Za-z0-9]{30,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "service account key": re.compile(r'"private_key_id"'),
    "Instagram session cookie": re.compile(r"sessionid\s+[0-9]{5,}%3A"),
}


# --- parsing -------------------------------------------------------------------

_META_KEYS = {"__is_block__", "__comments__", "__start_line__", "__end_line__"}


def _unquote(value: str) -> str:
    """python-hcl2 >= 8 keeps the quotes (and escapes) of string literals and labels."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _norm(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {_unquote(k): _norm(v) for k, v in obj.items() if k not in _META_KEYS}
    if isinstance(obj, list):
        return [_norm(v) for v in obj]
    if isinstance(obj, str):
        return _unquote(obj)
    return obj


class Module:
    """Blocks of one Terraform module (all its .tf files), keyed for lookup."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.texts: dict[str, str] = {}
        self.resources: dict[tuple[str, str], dict] = {}
        self.data: dict[tuple[str, str], dict] = {}
        self.modules: dict[str, dict] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.locals: dict[str, Any] = {}
        for path in sorted(directory.glob("*.tf")):
            text = path.read_text()
            self.texts[path.name] = text
            try:
                parsed = _norm(hcl2.loads(text))
            except Exception as exc:  # noqa: BLE001 - pragma: no cover; the message matters
                pytest.fail(f"{path} does not parse: {exc}")
            self._add(parsed)

    def _add(self, parsed: dict) -> None:
        for kind, store in (("resource", self.resources), ("data", self.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert (rtype, name) not in store, f"duplicate {rtype}.{name}"
                        store[(rtype, name)] = body
        for kind, flat in (
            ("module", self.modules),
            ("variable", self.variables),
            ("output", self.outputs),
            ("locals", self.locals),
        ):
            for block in parsed.get(kind, []):
                flat.update(block)

    def values(self):
        """Every string in the parsed configuration (comments are not included)."""
        for part in (
            self.resources,
            self.data,
            self.modules,
            self.variables,
            self.outputs,
            self.locals,
        ):
            for key, body in part.items():
                yield from all_strings(key)
                yield from all_strings(body)

    def resource(self, rtype: str, name: str) -> dict:
        assert (rtype, name) in self.resources, (
            f"{self.directory.relative_to(REPO)} has no {rtype}.{name}"
        )
        return self.resources[(rtype, name)]

    def of_type(self, rtype: str) -> dict[str, dict]:
        return {n: b for (t, n), b in self.resources.items() if t == rtype}

    def default(self, expr: Any) -> Any:
        """Resolve a bare ${var.x} to the variable's default."""
        m = re.fullmatch(r"\$\{var\.(\w+)\}", str(expr))
        if not m:
            return expr
        var = self.variables.get(m.group(1))
        assert var is not None, f"undeclared variable {m.group(1)}"
        assert "default" in var, f"variable {m.group(1)} has no default"
        return var["default"]


def block(value: Any, what: str = "block") -> dict:
    """Nested blocks come back as a list of dicts; most appear exactly once."""
    assert value is not None and value != [], f"{what} is missing"
    if isinstance(value, list):
        assert len(value) == 1, f"{what}: expected one block, got {len(value)}"
        return value[0]
    assert isinstance(value, dict), f"{what}: expected a block, got {value!r}"
    return value


def refs(expr: Any, pattern: str) -> list[str]:
    return re.findall(pattern, str(expr))


def topic_key(expr: Any) -> str | None:
    """``${google_pubsub_topic.this["media"].name}`` -> ``media``."""
    if expr is None:
        return None
    keys = refs(expr, r'google_pubsub_topic\.this\["([\w-]+)"\]')
    assert len(keys) == 1, f"not a reference to one pipeline topic: {expr!r}"
    return keys[0]


def string_list(expr: Any) -> list[str]:
    """A list literal, or ``${toset([...])}`` which comes back as an expression string."""
    if isinstance(expr, list):
        return [_unquote(v) for v in expr]
    return re.findall(r'"([^"]*)"', str(expr))


def all_strings(obj: Any):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from all_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_strings(v)
    elif isinstance(obj, str):
        yield obj


@pytest.fixture(scope="module")
def tf() -> dict[str, Module]:
    assert TF_DIR.is_dir(), f"{TF_DIR} is missing"
    return {"root": Module(TF_DIR), "stage": Module(STAGE_DIR)}


@pytest.fixture(scope="module")
def root(tf) -> Module:
    return tf["root"]


@pytest.fixture(scope="module")
def stage(tf) -> Module:
    return tf["stage"]


# --- layout --------------------------------------------------------------------


def test_root_is_split_by_concern(root):
    missing = [f for f in ROOT_FILES if f not in root.texts]
    assert not missing, f"missing root files: {missing}"
    assert (TF_DIR / "terraform.tfvars.example").is_file()


def test_providers_pinned(root):
    terraform = _norm(hcl2.loads(root.texts["versions.tf"]))["terraform"][0]
    providers = block(terraform["required_providers"])
    # 6.13: disable_metric_validation on PromQL alert conditions (the first apply).
    assert providers["google"]["version"] == "~> 6.13"
    assert providers["google-beta"]["version"] == "~> 6.13"
    assert "archive" in providers


def test_one_module_call_per_function(root):
    assert len(FUNCTIONS) == 8
    calls = {n: m for n, m in root.modules.items() if m.get("source") == "./modules/stage"}
    assert set(calls) == set(FUNCTIONS), f"stage module calls: {sorted(calls)}"
    for name, call in calls.items():
        assert call["name"] == name, f"module {name} deploys {call['name']}"
        assert call["source_dir"].endswith(f"/{name}"), f"{name}: source_dir {call['source_dir']}"
        assert call["context"] == "${local.stage_context}"
        main = REPO / "functions" / name / "main.py"
        assert main.is_file() and (main.parent / "requirements.txt").is_file(), name
        entry = re.search(r"^def handle\(", main.read_text(), re.M)
        assert entry, f"{name}: no `handle` entry point"
    # Every function feeds the outputs and the monitoring (local.stages).
    stages = root.locals["stages"]
    assert set(stages) == set(FUNCTIONS), f"local.stages: {sorted(stages)}"
    assert all(stages[n] == f"${{module.{n}}}" for n in FUNCTIONS)


# --- topology ------------------------------------------------------------------


def test_each_stage_consumes_the_expected_topic(root):
    for name, expected in EXPECTED_SOURCE.items():
        got = topic_key(root.modules[name].get("source_topic"))
        assert got == expected, f"{name} consumes {got!r}, expected {expected!r}"
        if expected:
            assert expected in root.locals["topics"], f"topic {expected} is not created"


def test_transcriber_and_ocr_both_subscribe_to_media(root):
    subscribers = sorted(
        n for n in FUNCTIONS if topic_key(root.modules[n].get("source_topic")) == "media"
    )
    assert subscribers == ["ocr", "transcriber"]


def test_each_stage_publishes_only_to_its_next_topic(root, stage):
    every_topic = "${{for topic in local.topics : topic => google_pubsub_topic.this[topic].name}}"
    for name, expected in EXPECTED_PUBLISH.items():
        publish = root.modules[name].get("publish_topics") or {}
        if publish == every_topic:
            got = set(string_list(root.locals["topics"]))
        else:
            got = {topic_key(v) for v in publish.values()}
        assert got == expected, f"{name} publishes to {got}, expected {expected}"
    binding = stage.resource("google_pubsub_topic_iam_member", "publish")
    assert binding["for_each"] == "${var.publish_topics}"
    assert binding["role"] == "roles/pubsub.publisher"
    assert binding["member"] == "${google_service_account.function.member}"


# --- per stage resources (module) -----------------------------------------------


def test_function_and_trigger_service_accounts_are_per_stage(stage):
    fn = stage.resource("google_service_account", "function")
    trigger = stage.resource("google_service_account", "trigger")
    assert fn["account_id"] == "${local.function_account_id}"
    assert trigger["account_id"] == "${local.trigger_account_id}"
    assert "count" not in fn
    assert trigger["count"] == "${var.public_invoker ? 0 : 1}", "a public function has no trigger"
    for local in ("function_account_id", "trigger_account_id"):
        assert "${var.name}" in stage.locals[local], f"{local} is not per stage"
    assert stage.locals["function_account_id"] != stage.locals["trigger_account_id"]
    function = stage.resource("google_cloudfunctions2_function", "this")
    svc = block(function["service_config"])
    assert svc["service_account_email"] == "${google_service_account.function.email}"


def test_only_the_trigger_account_may_invoke(root, stage):
    invokers = {
        t: b
        for t, b in stage.resources.items()
        if "iam" in t[0] and "run.invoker" in str(b.get("role"))
    }
    assert set(invokers) == {
        ("google_cloud_run_v2_service_iam_member", "trigger_invoker"),
        ("google_cloud_run_v2_service_iam_member", "public_invoker"),
    }, f"run.invoker bindings: {sorted(invokers)}"
    trigger = invokers[("google_cloud_run_v2_service_iam_member", "trigger_invoker")]
    public = invokers[("google_cloud_run_v2_service_iam_member", "public_invoker")]
    # Exactly one of the two exists per stage: the trigger account, or (public_invoker) allUsers.
    assert trigger["count"] == "${var.public_invoker ? 0 : 1}"
    assert public["count"] == "${var.public_invoker ? 1 : 0}"
    assert trigger["member"] == "${google_service_account.trigger[0].member}"
    assert public["member"] == "allUsers"
    for invoker in (trigger, public):
        assert "google_cloudfunctions2_function.this" in invoker["name"]
    # Off unless asked for, and asked for by the webhook and the api only.
    assert stage.default("${var.public_invoker}") is False
    public_calls = sorted(n for n in FUNCTIONS if root.modules[n].get("public_invoker") is not None)
    assert public_calls == sorted(PUBLIC_FUNCTIONS), f"public_invoker set on {public_calls}"
    assert all(root.modules[n]["public_invoker"] is True for n in PUBLIC_FUNCTIONS)
    # A public function has no trigger account, so no push subscription can feed it.
    function = stage.resource("google_cloudfunctions2_function", "this")
    conditions = [block(p)["condition"] for p in block(function["lifecycle"])["precondition"]]
    assert "${!(var.public_invoker && var.source_topic != null)}" in conditions, conditions


def test_push_subscription_uses_oidc_retry_and_dead_letter(stage):
    sub = stage.resource("google_pubsub_subscription", "push")
    assert sub["count"] == "${local.subscribed ? 1 : 0}"
    assert stage.locals["subscribed"] == "${var.source_topic != null}"
    assert sub["topic"] == "${var.source_topic}"
    assert "${var.name}" in stage.locals["function_name"]
    assert "${local.function_name}" in sub["name"], "push subscription name is not per stage"
    assert stage.default(sub["ack_deadline_seconds"]) == 600

    push = block(sub.get("push_config"), "push subscription push_config")
    assert "google_cloudfunctions2_function.this" in push["push_endpoint"]
    oidc = block(push.get("oidc_token"), "push_config.oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.trigger[0].email}"

    retry = block(sub.get("retry_policy"), "push subscription retry_policy")
    assert stage.default(retry["minimum_backoff"]) == "10s"
    assert stage.default(retry["maximum_backoff"]) == "600s"

    dlp = block(sub.get("dead_letter_policy"), "push subscription dead_letter_policy")
    assert dlp["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    assert dlp["max_delivery_attempts"] == "${var.context.max_delivery_attempts}"


def test_dead_letter_topic_has_a_long_retention_pull_subscription(stage):
    topic = stage.resource("google_pubsub_topic", "dead_letter")
    assert topic["name"] == "${local.function_name}-dead-letter"
    sub = stage.resource("google_pubsub_subscription", "dead_letter")
    assert sub["name"] == "${local.function_name}-dead-letter-sub"
    assert sub["topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    assert "push_config" not in sub, "dead-letter subscription must be a pull subscription"
    assert stage.default(sub["message_retention_duration"]) == "604800s"
    assert block(sub["expiration_policy"])["ttl"] == "", "dead-letter sub would expire when idle"
    for name in ("dead_letter", "push"):
        assert stage.resource("google_pubsub_subscription", name)["count"] == topic["count"]


def test_pubsub_service_agent_bindings(root, stage):
    publisher = stage.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert publisher["topic"] == "${google_pubsub_topic.dead_letter[0].name}"
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == "${local.pubsub_service_agent}"

    subscriber = stage.resource("google_pubsub_subscription_iam_member", "source_subscriber")
    assert subscriber["subscription"] == "${google_pubsub_subscription.push[0].name}"
    assert subscriber["role"] == "roles/pubsub.subscriber"
    assert subscriber["member"] == "${local.pubsub_service_agent}"

    assert stage.locals["pubsub_service_agent"] == (
        "serviceAccount:${var.context.pubsub_service_agent}"
    )
    assert root.locals["stage_context"]["pubsub_service_agent"] == "${local.pubsub_service_agent}"
    agent = str(root.locals["pubsub_service_agent"])
    assert (
        "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com" in agent
    )


def test_webhook_is_public_with_a_minimal_runtime_identity(root, stage):
    call = root.modules["webhook"]
    # Invoked by Notion over HTTPS: no push subscription, hence no dead-letter topic or sub.
    assert call["source_topic"] is None
    for rtype, name in (
        ("google_pubsub_subscription", "push"),
        ("google_pubsub_topic", "dead_letter"),
        ("google_pubsub_subscription", "dead_letter"),
        ("google_service_account_iam_member", "pubsub_token_creator"),
    ):
        assert stage.resource(rtype, name)["count"] == "${local.subscribed ? 1 : 0}", name
    # Publisher on links only; secretAccessor on the Notion token, the encryption key and the
    # webhook verification token only; no volumes, no subscriptions.
    publish = call.get("publish_topics") or {}
    assert [topic_key(v) for v in publish.values()] == ["links"], publish
    assert secret_env(call, root) == EXPECTED_SECRET_ENV["webhook"]
    assert not call.get("subscribe_subscriptions")
    assert not call.get("secret_volumes") and not call.get("environment")
    # datastore.user + logging.logWriter come from the module; no artifacts bucket.
    assert call["public_invoker"] is True
    assert call["artifacts_access"] is False
    assert sizes(root, "webhook") == EXPECTED_SIZE["webhook"]
    # Nothing else invokes it.
    targets = [str(j) for j in root.of_type("google_cloud_scheduler_job").values()]
    assert not [t for t in targets if "module.webhook" in t]
    # Its URL is an output, with where it goes.
    output = root.outputs["webhook_url"]
    assert output["value"] == "${module.webhook.url}"
    assert "Notion" in output["description"] and "Webhooks" in output["description"]
    readme = (TF_DIR / "README.md").read_text()
    assert "Real-time trigger: Notion webhooks" in readme
    for needle in (
        "webhook_url",
        "page.created",
        "page.properties_updated",
        "svp cloud webhook-token",
    ):
        assert needle in readme, f"terraform/README.md does not mention {needle}"


def test_api_is_public_with_a_minimal_runtime_identity(root, stage):
    call = root.modules["api"]
    assert call["source_dir"] == "${local.functions_dir}/api"
    # Opened by browsers and API clients: no push subscription, no trigger account.
    assert call["source_topic"] is None
    assert call["public_invoker"] is True
    assert sizes(root, "api") == EXPECTED_SIZE["api"]
    assert not call.get("secret_volumes")
    # No artifacts bucket; datastore.user + logging.logWriter come from the module.
    assert call["artifacts_access"] is False
    # Publisher on the four pipeline topics, the stages' input topics (replay), only.
    publish = call["publish_topics"]
    assert {topic_key(v) for v in publish.values()} == set(string_list(root.locals["topics"]))
    assert len(publish) == 4
    topology = pytest.importorskip("svp.topology")
    assert set(topology.INPUT_TOPIC.values()) == {topic_key(v) for v in publish.values()}
    # Subscriber on each push stage's dead-letter subscription, and on nothing else.
    subscriptions = call["subscribe_subscriptions"]
    assert subscriptions == {n: f"${{module.{n}.dead_letter_subscription}}" for n in PUSH_STAGES}, (
        subscriptions
    )
    assert set(PUSH_STAGES) == set(topology.PIPELINE)
    others = [n for n in FUNCTIONS if n != "api" and root.modules[n].get("subscribe_subscriptions")]
    assert not others, f"subscribe_subscriptions set on {others}"
    # ... which is <prefix><stage>-dead-letter-sub, the name replay pulls from.
    assert stage.locals["function_name"] == "${var.context.prefix}${var.name}"
    dead = stage.resource("google_pubsub_subscription", "dead_letter")
    assert dead["name"] == "${local.function_name}-dead-letter-sub"
    assert topology.dead_letter_subscription("svp-", "ocr") == "svp-ocr-dead-letter-sub"
    output = stage.outputs["dead_letter_subscription"]["value"]
    assert output == "${one(google_pubsub_subscription.dead_letter[*].name)}"
    # The module grants roles/pubsub.subscriber per named subscription, never project-wide.
    subscribe = stage.resource("google_pubsub_subscription_iam_member", "subscribe")
    assert subscribe["for_each"] == "${var.subscribe_subscriptions}"
    assert subscribe["subscription"] == "${each.value}"
    assert subscribe["role"] == "roles/pubsub.subscriber"
    assert subscribe["member"] == "${google_service_account.function.member}"
    assert stage.variables["subscribe_subscriptions"]["default"] == {}
    assert "roles/pubsub" not in str(stage.locals["function_project_roles"])
    assert not [
        r for r in root.of_type("google_project_iam_member").values() if "pubsub" in r["role"]
    ]

    # Environment: the common settings and its own, never the pipeline's Notion databases.
    assert call["inherit_environment"] is False
    assert call["environment"] == "${merge(local.common_environment, local.api_environment)}"
    api_env = root.locals["api_environment"]
    assert set(root.locals["common_environment"]) | set(api_env) == API_ENV
    assert not API_ENV & PIPELINE_ONLY_ENV
    assert api_env["NOTION_CLIENT_ID"] == "${var.notion_client_id}"
    assert api_env["SVP_CORS_ORIGINS"] == "${var.cors_origins}"
    assert api_env["NOTION_REDIRECT_URI"] == "${local.api_url}/auth/notion/callback"
    for variable in ("notion_client_id", "cors_origins", "api_base_url"):
        assert root.default(f"${{var.{variable}}}") == "", variable
    app = (REPO / "shared" / "svp" / "api" / "app.py").read_text()
    assert '"/auth/notion/callback"' in app, "the app no longer serves the callback path"

    # Its own URL without a self-reference (module.api.url exists only after the function):
    # Cloud Run's deterministic https://<service>-<project number>.<region>.run.app, or
    # api_base_url. Nothing the api's module call reads may come from module.api.
    api_url = root.locals["api_url"]
    assert "var.api_base_url" in api_url
    assert "https://${var.prefix}api-${data.google_project.this.number}.${var.region}.run.app" in (
        api_url
    ), api_url
    for value in (call, api_url, api_env, root.locals["common_environment"]):
        assert "module.api" not in str(value), value
        # local.stages (and what is built from it) holds module.api: a cycle too.
        assert not re.search(
            r"local\.(stages|stage_subscriptions|dead_letter_subscriptions)\b", str(value)
        )
    output = root.outputs["api_url"]
    assert output["value"] == "${local.api_url}"
    assert "sign in" in output["description"] and "/auth/notion/callback" in output["description"]

    # Secrets: the OAuth client secret, the encryption key and the session secret, only.
    assert secret_env(call, root) == EXPECTED_SECRET_ENV["api"]
    assert "NOTION_TOKEN" not in secret_env(call, root)

    # The runbook says how to set it up.
    readme = (TF_DIR / "README.md").read_text()
    assert "Many users: Notion OAuth and the status page" in readme
    for needle in (
        "terraform output api_url",
        "/auth/notion/callback",
        "notion_client_id",
        "svp-notion-client-secret",
        "svp-encryption-key",
        "svp-session-secret",
        "Fernet.generate_key()",
        "openssl rand -base64 48",
    ):
        assert needle in readme, f"terraform/README.md does not mention {needle}"


def test_no_event_trigger(stage):
    function = stage.resource("google_cloudfunctions2_function", "this")
    assert "event_trigger" not in function, (
        "an event_trigger subscription cannot have a dead-letter topic: use the push subscription"
    )


# --- scheduler -----------------------------------------------------------------


def test_scheduler_invokes_the_poller_with_oidc(root):
    jobs = root.of_type("google_cloud_scheduler_job")
    assert len(jobs) == 1
    (job,) = jobs.values()
    assert job["schedule"] == "${var.poll_schedule}"
    assert root.default(job["schedule"]) == "* * * * *"
    target = block(job["http_target"])
    assert target["http_method"] == "POST"
    assert target["uri"] == "${module.poller.url}"
    oidc = block(target.get("oidc_token"), "scheduler http_target.oidc_token")
    assert oidc["service_account_email"] == "${module.poller.trigger_service_account_email}"
    assert root.modules["poller"]["source_topic"] is None


# --- functions -----------------------------------------------------------------


def test_function_runtime_and_ingress(stage):
    function = stage.resource("google_cloudfunctions2_function", "this")
    build = block(function["build_config"])
    assert build["runtime"] == "python311"
    assert build["entry_point"] == "handle"
    svc = block(function["service_config"])
    assert svc["ingress_settings"] == "ALLOW_ALL"
    assert svc["max_instance_count"] == "${var.context.max_instances}"


def sizes(root, name: str) -> tuple:
    """A module call's (memory, cpu, timeout), resolved through local.limits."""
    call = root.modules[name]
    resolved = []
    for field, key in (
        ("memory", "memory"),
        ("cpu", "cpu"),
        ("timeout_seconds", "timeout_seconds"),
    ):
        expr = call.get(field)
        if expr is None:
            resolved.append(None)
            continue
        assert expr == f"${{local.limits.{name}.{key}}}", f"{name} {field} is not from limits.json"
        resolved.append(LIMITS[name][key])
    return tuple(resolved)


def test_function_sizes(root):
    assert root.locals["limits"] == (
        '${jsondecode(file("${path.root}/../shared/svp/limits.json")).functions}'
    )
    assert set(LIMITS) == set(FUNCTIONS)
    for name, expected in EXPECTED_SIZE.items():
        assert sizes(root, name) == expected, name
    # The stage runner's deadlines come from the same table.
    limits = pytest.importorskip("svp.limits")
    for name in PUSH_STAGES:
        assert limits.timeout_seconds(name) == LIMITS[name]["timeout_seconds"]


def test_environment(root, stage):
    common = root.locals["common_environment"]
    pipeline = root.locals["pipeline_environment"]
    assert set(common) == COMMON_ENV, f"common_environment: {sorted(common)}"
    assert not set(common) & set(pipeline)
    assert set(common) | set(pipeline) == EXPECTED_ENV
    assert root.locals["stage_context"]["environment"] == (
        "${merge(local.common_environment, local.pipeline_environment)}"
    )
    assert common["SVP_BACKEND"] == "gcp"
    assert common["SVP_TOPIC_PREFIX"] == "${var.prefix}"
    assert pipeline["SVP_MAX_ATTEMPTS"] == "${tostring(var.max_run_attempts)}"
    assert pipeline["SVP_MAX_DELIVERIES"] == "${tostring(var.max_delivery_attempts)}"
    assert root.default("${var.ocr_backend}") == "vision"
    assert root.default("${var.gemini_model}") == "gemini-flash-latest"
    assert root.default("${var.firestore_database}") == "(default)"
    # The module inherits the context's environment unless told not to (the api only).
    svc = block(stage.resource("google_cloudfunctions2_function", "this")["service_config"])
    assert svc["environment_variables"] == (
        "${merge(var.inherit_environment ? var.context.environment : {}, var.environment,"
        " local.secret_names)}"
    )
    assert stage.default("${var.inherit_environment}") is True
    not_inheriting = [
        n for n in FUNCTIONS if root.modules[n].get("inherit_environment") is not None
    ]
    assert not_inheriting == ["api"], f"inherit_environment set on {not_inheriting}"
    # Every name is one the application reads (a typo would silently do nothing).
    config = pytest.importorskip("svp.config")
    known = set(config._VARIABLES)
    for name in (*EXPECTED_ENV, *API_ENV, *(k for s in EXPECTED_SECRET_ENV.values() for k in s)):
        assert name in known, f"{name} is not a setting svp.config reads"


def secret_env(call: dict, root: Module | None = None) -> dict[str, str]:
    """A module call's `secrets` (read at run time) as setting -> secret key in secrets.tf."""
    got = {}
    secrets = call.get("secrets") or {}
    if isinstance(secrets, str):
        found = re.fullmatch(r"\$\{local\.secret_access\.(\w+)\}", secrets)
        assert found and root is not None, f"unexpected secrets {secrets!r}"
        secrets = root.locals["secret_access"][found.group(1)]
    for env, expr in secrets.items():
        keys = refs(expr, r'local\.secret\["([\w-]+)"\]')
        assert len(keys) == 1, f"{env}: not one local.secret[...] reference: {expr!r}"
        got[env] = keys[0]
    return got


def test_each_function_gets_only_its_secrets(root, stage):
    assert set(EXPECTED_SECRET_ENV) == set(FUNCTIONS)
    for name, expected in EXPECTED_SECRET_ENV.items():
        got = secret_env(root.modules[name], root)
        assert got == expected, f"{name} secrets: {got}"
    # The application reads the same table (svp.secrets.FUNCTION_SECRETS) and the same
    # secret names (the Terraform prefix + the key).
    secrets_mod = pytest.importorskip("svp.secrets")
    assert {f: set(s) for f, s in secrets_mod.FUNCTION_SECRETS.items()} == {
        f: set(s) for f, s in EXPECTED_SECRET_ENV.items()
    }
    for setting, key in (kv for s in EXPECTED_SECRET_ENV.values() for kv in s.items()):
        assert secrets_mod.SECRET_NAMES[setting] == key, setting
    # What the module gives the function (local.secret_names), as svp.secrets builds it.
    names = stage.locals["secret_names"]
    assert 'join(",", [for setting, id in var.secrets : "${setting}=${id}"])' in str(names)
    assert secrets_mod.secrets_variable("writer") == (
        "NOTION_TOKEN=svp-notion-token,SVP_ENCRYPTION_KEY=svp-encryption-key"
    )
    assert secrets_mod.secrets_variable("downloader") == ""
    # The cookies file: downloader only, as a volume, behind enable_cookies.
    with_volumes = [n for n in FUNCTIONS if root.modules[n].get("secret_volumes")]
    assert with_volumes == ["downloader"]
    volumes = str(root.modules["downloader"]["secret_volumes"])
    assert "var.enable_cookies" in volumes and 'local.secret["cookies"]' in volumes
    assert root.default("${var.enable_cookies}") is False
    assert "/secrets/cookies/cookies.txt" in str(root.modules["downloader"]["environment"]).replace(
        "${local.cookies_dir}", root.locals["cookies_dir"]
    )
    # Accessor is granted per secret the function uses, not project-wide.
    accessor = stage.resource("google_secret_manager_secret_iam_member", "function")
    assert accessor["for_each"] == "${local.secret_ids}"
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    assert accessor["member"] == "${google_service_account.function.member}"
    assert "var.secrets" in stage.locals["secret_ids"]
    assert "var.secret_volumes" in stage.locals["secret_ids"]


def test_secrets_are_read_at_run_time_not_mounted(stage):
    """No secret_environment_variables: a function deploys before its secrets have values
    (one apply), reads them through the API (svp.secrets) and gets only their names."""
    function = stage.resource("google_cloudfunctions2_function", "this")
    svc = block(function["service_config"])
    assert "secret_environment_variables" not in svc
    names = stage.locals["secret_names"]
    assert "SVP_SECRETS" in str(names) and "var.secrets" in str(names)
    # Access is granted before the function exists: its first request may read.
    assert "google_secret_manager_secret_iam_member.function" in str(function["depends_on"])
    config = pytest.importorskip("svp.config")
    for name in ("SVP_SECRETS", "SVP_SECRET_MANAGER_ENDPOINT"):
        assert name in config._VARIABLES
    # The endpoint override is for tests and the local cloud only.
    tf_text = "".join(p.read_text() for p in TF_DIR.rglob("*.tf"))
    assert "SVP_SECRET_MANAGER_ENDPOINT" not in tf_text


def test_every_function_acting_in_notion_reads_the_encryption_key(root):
    """Signed-in users' Notion tokens are stored encrypted; every function that acts in Notion
    acts for them too. The stages that parse media act in nothing but their scratch folder."""
    topology = pytest.importorskip("svp.topology")
    assert "encryption-key" in string_list(root.locals["secrets"])
    for name in FUNCTIONS:
        got = secret_env(root.modules[name], root)
        if name in topology.NOTION_FREE:
            notion = {"NOTION_TOKEN", "SVP_ENCRYPTION_KEY", "NOTION_CLIENT_SECRET"} & set(got)
            assert not notion, f"{name} parses untrusted content but reads {notion}"
        else:
            assert got.get("SVP_ENCRYPTION_KEY") == "encryption-key", f"{name}: {got}"
    # Only from Secret Manager, never as a plain environment variable.
    for local in ("common_environment", "pipeline_environment", "api_environment"):
        assert "SVP_ENCRYPTION_KEY" not in root.locals[local], local


def test_artifacts_access_is_bucket_scoped(root, stage):
    binding = stage.resource("google_storage_bucket_iam_member", "artifacts")
    assert binding["count"] == "${var.artifacts_access ? 1 : 0}"
    assert stage.default("${var.artifacts_access}") is True
    # Only the webhook (it queues links) and the api (Firestore, Notion, Pub/Sub) go without.
    without = {
        n: root.modules[n]["artifacts_access"]
        for n in FUNCTIONS
        if root.modules[n].get("artifacts_access") is not None
    }
    assert without == {"webhook": False, "api": False}, f"artifacts_access set on {without}"
    assert binding["bucket"] == "${var.context.artifacts_bucket}"
    assert binding["role"] in {"roles/storage.objectUser", "roles/storage.objectAdmin"}
    project_roles = str(stage.locals["function_project_roles"])
    assert "roles/storage" not in project_roles, "storage access must not be project-wide"
    assert "roles/datastore.user" in project_roles and "roles/logging.logWriter" in project_roles


# --- source zips ---------------------------------------------------------------


def test_every_zip_ships_the_shared_package(root, stage):
    archive = stage.data[("archive_file", "source")]
    dynamic_sources = [d["source"] for d in archive["dynamic"] if "source" in d]
    by_filename = {block(s["content"])["filename"]: s for s in dynamic_sources}
    assert "svp/${source.value}" in by_filename, (
        f"no archive source puts the shared package under svp/: filenames {sorted(by_filename)}"
    )
    assert "${source.value}" in by_filename, "no archive source for the function folder"
    assert len(dynamic_sources) == 2, f"{len(dynamic_sources)} dynamic source blocks"

    shared = by_filename["svp/${source.value}"]
    assert shared["for_each"] == "${toset(local.shared_files)}"
    assert "fileset(var.context.shared_package_dir" in stage.locals["shared_files"]
    assert "var.context.shared_package_dir" in block(shared["content"])["content"]
    function = by_filename["${source.value}"]
    assert "fileset(var.source_dir" in stage.locals["function_files"]
    assert function["for_each"] == "${toset(local.function_files)}"

    shared_dir = root.locals["stage_context"]["shared_package_dir"]
    assert shared_dir == "${path.root}/../shared/svp"
    resolved = (TF_DIR / shared_dir.replace("${path.root}/", "")).resolve()
    assert resolved == REPO / "shared" / "svp"
    assert (resolved / "__init__.py").is_file()
    # The module's source_dir points at functions/<name> for every stage.
    assert root.locals["functions_dir"] == "${path.root}/../functions"


def test_zips_exclude_caches(stage):
    pattern = re.compile(stage.locals["exclude_pattern"])  # RE2 and Python agree here
    shipped = ["main.py", "requirements.txt", "stages/download.py", "py.typed"]
    dropped = [
        "__pycache__/main.cpython-311.pyc",
        "a/__pycache__/x.pyc",
        "x.pyc",
        ".env",
        "a/.pytest_cache/v",
        ".DS_Store",
    ]
    assert not [p for p in shipped if pattern.search(p)], "pattern drops real sources"
    assert all(pattern.search(p) for p in dropped), "pattern ships cache files"
    for local in ("function_files", "shared_files"):
        assert "!can(regex(local.exclude_pattern, f))" in stage.locals[local]


def test_source_objects_are_named_by_content_hash(root, stage):
    obj = stage.resource("google_storage_bucket_object", "source")
    assert "data.archive_file.source.output_md5" in obj["name"] or (
        "data.archive_file.source.output_sha" in obj["name"]
    )
    assert obj["bucket"] == "${var.context.sources_bucket}"
    function = stage.resource("google_cloudfunctions2_function", "this")
    storage = block(block(block(function["build_config"])["source"])["storage_source"])
    assert storage["object"] == "${google_storage_bucket_object.source.name}"
    for module in (root, stage):
        calls = [v for v in module.values() if "timestamp(" in v]
        assert not calls, f"timestamp() makes every plan diff: {calls}"


# --- guard rails ---------------------------------------------------------------


PUBLIC_MEMBER = re.compile(r"\ballUsers\b|\ballAuthenticatedUsers\b")


def public_members(module: Module) -> list[tuple[str, str]]:
    """(block, string) for every string naming allUsers/allAuthenticatedUsers."""
    parts = {
        "resource": {f"{t}.{n}": b for (t, n), b in module.resources.items()},
        "data": {f"{t}.{n}": b for (t, n), b in module.data.items()},
        "module": module.modules,
        "variable": module.variables,
        "output": module.outputs,
        "local": module.locals,
    }
    return [
        (f"{kind} {name}", value)
        for kind, named in parts.items()
        for name, body in named.items()
        for value in (name, *all_strings(body))
        if PUBLIC_MEMBER.search(value)
    ]


def test_no_basic_roles_or_public_members(root, stage):
    for module in (root, stage):
        where = module.directory.relative_to(REPO)
        values = list(module.values())
        basic = [v for v in values if re.search(r"roles/(?:owner|editor|viewer)\b", v)]
        assert not basic, f"{where} uses basic role(s): {basic}"
        authoritative = [
            t for t, _ in module.resources if t.endswith(("_iam_binding", "_iam_policy"))
        ]
        assert not authoritative, f"authoritative IAM would drop others' grants: {authoritative}"
    # Exactly one grant to everyone: run.invoker for allUsers on the function's own Cloud Run
    # service, created only for public_invoker functions, i.e. the webhook and the api.
    assert not public_members(root), f"terraform grants to everyone: {public_members(root)}"
    public = public_members(stage)
    assert public == [
        ("resource google_cloud_run_v2_service_iam_member.public_invoker", "allUsers")
    ], f"terraform/modules/stage grants to everyone: {public}"
    binding = stage.resource("google_cloud_run_v2_service_iam_member", "public_invoker")
    assert binding["member"] == "allUsers"
    assert binding["role"] == "roles/run.invoker"
    assert binding["name"] == (
        "${basename(google_cloudfunctions2_function.this.service_config[0].service)}"
    )
    assert binding["count"] == "${var.public_invoker ? 1 : 0}"
    assert stage.default("${var.public_invoker}") is False
    public_calls = sorted(
        n for n, m in root.modules.items() if m.get("public_invoker") not in (None, False)
    )
    assert public_calls == sorted(PUBLIC_FUNCTIONS), f"public functions: {public_calls}"
    # The checkov exception is stated on that resource and nowhere else, with the reason
    # for each public function.
    skips = re.findall(r"checkov:skip=(CKV_GCP_102|CKV_GCP_107)\b", "".join(stage.texts.values()))
    assert skips == ["CKV_GCP_102"], skips
    iam = stage.texts["iam.tf"]
    start = iam.index('resource "google_cloud_run_v2_service_iam_member" "public_invoker"')
    body = iam[start : iam.index("\n}", start)]
    reason = re.search(r"checkov:skip=CKV_GCP_102:(.*)", body)
    assert reason, "no inline checkov:skip=CKV_GCP_102 on public_invoker"
    # ... naming how each public function authenticates its requests itself.
    for needle in ("webhook", "HMAC", "api", "session cookie", "API key"):
        assert needle in reason.group(1), f"CKV_GCP_102 skip reason lacks {needle!r}"
    assert not re.search(r"checkov:skip=CKV_GCP_10[27]\b", "".join(root.texts.values()))


def test_no_secret_values_in_terraform(root, stage):
    for module in (root, stage):
        versions = [n for t, n in module.resources if t == "google_secret_manager_secret_version"]
        assert not versions, "secret versions (values) belong outside Terraform"
        for body in module.resources.values():
            assert "secret_data" not in set(all_strings(body)), "secret_data found"
    # Plain environment variables: the root's environment locals and every call's own.
    envs = [
        root.locals[n] for n in ("common_environment", "pipeline_environment", "api_environment")
    ]
    envs += [
        m["environment"] for m in root.modules.values() if isinstance(m.get("environment"), dict)
    ]
    for env in envs:
        assert isinstance(env, dict) and env, env
        sensitive = [k for k in env if re.search(r"TOKEN|KEY|SECRET|PASSWORD", k)]
        assert not sensitive, f"secrets as plain env vars: {sensitive}"
    files = [*TF_DIR.rglob("*.tf"), *TF_DIR.rglob("*.tfvars"), *TF_DIR.rglob("*.tfvars.example")]
    files = [f for f in files if ".terraform" not in f.parts]
    for path in files:
        text = path.read_text()
        for what, pattern in SECRET_PATTERNS.items():
            match = pattern.search(text)
            assert not match, f"{path.relative_to(REPO)} contains what looks like a {what}"


def test_secret_containers_exist(root):
    secrets = root.resource("google_secret_manager_secret", "this")
    assert set(string_list(root.locals["secrets"])) >= {
        "notion-token",
        "openai-api-key",
        "gemini-api-key",
        "cookies",
        *NEW_SECRETS,
    }
    assert secrets["for_each"] == "${local.secrets}"
    # Every secret a function reads exists.
    used = {key for call in root.modules.values() for key in secret_env(call, root).values()}
    assert used <= set(string_list(root.locals["secrets"])), used
    # Their values are added outside Terraform, by `svp cloud setup`, which reads where
    # everything is from one output.
    cloud = root.outputs["svp_cloud"]["value"]
    for key in ("project", "region", "prefix", "scheduler_job", "functions", "secrets"):
        assert key in cloud, key
    assert "secrets_add_version_commands" not in root.outputs


def test_the_functions_that_start_children_declare_the_second_generation(root):
    """google_cloudfunctions2_function cannot name a Cloud Run execution environment: the root
    declares it for the stages that run yt-dlp, gallery-dl, ffmpeg and ffprobe, the svp_cloud
    output hands it to `svp cloud setup` (which sets it), and svp's default is the same."""
    from svp.cloud.target import EXECUTION_ENVIRONMENTS

    declared = root.locals["execution_environments"]
    assert declared == {"downloader": "gen2", "transcriber": "gen2", "ocr": "gen2"}
    assert declared == EXECUTION_ENVIRONMENTS
    cloud = root.outputs["svp_cloud"]["value"]
    assert cloud["execution_environments"] == "${local.execution_environments}"


# --- platform ------------------------------------------------------------------


def test_required_apis(root):
    services = set(string_list(root.locals["services"]))
    assert services >= REQUIRED_APIS, f"missing APIs: {REQUIRED_APIS - services}"
    api = root.resource("google_project_service", "this")
    assert api["disable_on_destroy"] is False


def test_storage_buckets(root):
    for name in ("sources", "artifacts"):
        bucket = root.resource("google_storage_bucket", name)
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
    assert block(root.resource("google_storage_bucket", "sources")["versioning"])["enabled"] is True
    rule = block(root.resource("google_storage_bucket", "artifacts")["lifecycle_rule"])
    assert block(rule["action"])["type"] == "Delete"
    assert block(rule["condition"])["age"] == "${var.artifact_retention_days}"
    # Outlasts the dead letters (7 days) that name artifacts, so a late replay finds them.
    assert root.default("${var.artifact_retention_days}") == 14
    assert root.variables["artifact_retention_days"]["validation"]


def test_firestore_ttl(root):
    db = root.resource("google_firestore_database", "this")
    assert db["type"] == "FIRESTORE_NATIVE"
    assert db["name"] == "${var.firestore_database}"
    ttl = root.resource("google_firestore_field", "jobs_ttl")
    assert (ttl["collection"], ttl["field"]) == ("jobs", "expire_at")
    assert "ttl_config" in ttl


def test_firestore_composite_indexes(root):
    """Equality filters plus order by updated_at DESC (FirestoreState.list) need one index per
    set of filtered fields the code queries."""
    index = root.resource("google_firestore_index", "this")
    assert index["database"] == "${google_firestore_database.this.name}"
    assert index["for_each"] == "${local.firestore_indexes}"
    assert block(block(index["dynamic"])["fields"]["content"])["order"] == "ASCENDING"
    assert block(index["fields"]) == {"field_path": "updated_at", "order": "DESCENDING"}
    declared = {
        (spec["collection"], tuple(spec["fields"]))
        for spec in root.locals["firestore_indexes"].values()
    }
    queried = {
        ("jobs", ("status",)),  # svp jobs --failed
        ("jobs", ("open",)),  # the reconciler
        ("jobs", ("user",)),  # the api's job list
        ("registrations", ("kind", "user")),  # the registry
        ("sessions", ("user_id",)),  # a person's sessions (sign out everywhere)
        ("api_keys", ("user_id",)),  # a person's API keys (list, revoke)
        ("videos", ("video",)),  # the claims of one video (the sweep of late pages)
    }
    assert declared == queried


def test_monitoring(root):
    metrics = root.of_type("google_logging_metric")
    assert 'jsonPayload.event=\\"job.done\\"' in metrics["jobs_done"]["filter"] or (
        'jsonPayload.event="job.done"' in metrics["jobs_done"]["filter"]
    )
    assert "job.failed" in metrics["jobs_failed"]["filter"]
    duration = metrics["stage_duration"]
    assert "stage.done" in duration["filter"]
    assert duration["value_extractor"] == "EXTRACT(jsonPayload.duration_ms)"
    assert block(duration["metric_descriptor"])["value_type"] == "DISTRIBUTION"
    assert "labels.stage" in duration["label_extractors"]["stage"]

    policies = root.of_type("google_monitoring_alert_policy")
    assert set(policies) >= {"failure_rate", "dead_letter", "processing_time", "backlog"}
    for name, policy in policies.items():
        assert policy["notification_channels"] == "${local.notification_channels}", name
    dead = block(block(policies["dead_letter"]["conditions"])["condition_threshold"])
    assert "local.dead_letter_subscriptions" in dead["filter"]
    assert "num_undelivered_messages" in dead["filter"]
    assert dead["threshold_value"] == 0 and dead["comparison"] == "COMPARISON_GT"
    backlog = block(block(policies["backlog"]["conditions"])["condition_threshold"])
    assert "local.stage_subscriptions" in backlog["filter"]
    assert backlog["threshold_value"] == "${var.backlog_threshold}"
    assert root.default("${var.backlog_threshold}") == 50
    rate = block(
        block(policies["failure_rate"]["conditions"])["condition_prometheus_query_language"]
    )
    assert "jobs_failed" in rate["query"] and "jobs_done" in rate["query"]

    channel = root.resource("google_monitoring_notification_channel", "email")
    assert channel["count"] == "${var.alert_email == null ? 0 : 1}"


# --- every link ends, on Google Cloud -----------------------------------------------------------


def test_dead_letters_are_pushed_to_the_poller_which_fails_their_jobs(root, stage):
    """A message Pub/Sub dead-letters (Cloud Run may refuse every delivery when a function is
    at its instance limit, so the stage's code never ran) fails its job with a reason."""
    push = stage.resource("google_pubsub_subscription", "dead_letter_push")
    assert push["count"] == "${local.subscribed && var.dead_letter_handler != null ? 1 : 0}"
    assert push["topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    config = block(push["push_config"])
    assert config["push_endpoint"] == "${var.dead_letter_handler.url}"
    oidc = block(config["oidc_token"])
    assert oidc["service_account_email"] == "${var.dead_letter_handler.service_account_email}"
    assert oidc["audience"] == "${var.dead_letter_handler.audience}"
    handler = root.locals["dead_letter_handler"]
    assert handler["url"] == "${module.poller.url}/dead-letter"
    assert handler["service_account_email"] == "${module.poller.trigger_service_account_email}"
    for name in PUSH_STAGES:
        assert root.modules[name]["dead_letter_handler"] == "${local.dead_letter_handler}", name
    # Pub/Sub signs those pushes as the poller's trigger account.
    creator = root.resource("google_service_account_iam_member", "pubsub_dead_letter_token_creator")
    assert "module.poller.trigger_service_account_email" in creator["service_account_id"]
    assert creator["role"] == "roles/iam.serviceAccountTokenCreator"
    # The poller function serves that path.
    functions = (REPO / "shared" / "svp" / "functions.py").read_text()
    assert 'endswith("/dead-letter")' in functions


def test_a_stage_dead_letters_what_it_gave_up_on(stage):
    """After its last run the stage publishes the message to its own dead-letter topic (for
    `svp replay`) before acking it."""
    own = stage.resource("google_pubsub_topic_iam_member", "dead_letter_self_publisher")
    assert own["topic"] == "${google_pubsub_topic.dead_letter[0].name}"
    assert own["role"] == "roles/pubsub.publisher"
    assert own["member"] == "${google_service_account.function.member}"
    topology = pytest.importorskip("svp.topology")
    assert topology.dead_letter_topic("svp-", "ocr") == "svp-ocr-dead-letter"
    assert topology.push_subscription("svp-", "ocr") == "svp-ocr-push"


def test_a_burst_of_links_dead_letters_nothing_that_never_ran(root, stage):
    """The runbook's sizing, on a simulation of the real delivery model (tests/pushsim.py:
    push delivery to max_instances instances of concurrency 1, the subscription's doubling
    back-off, max_delivery_attempts; refused pushes sit out their back-off while instances
    idle): 100 links saved in 60 s. Publishing every pending link dead-letters links whose
    code never ran once stages take 90-120 s; admitting only limits.json's in_flight jobs at
    a time dead-letters none, whatever the stage time up to a function's timeout."""
    from tests.pushsim import Delivery, simulate

    sub = stage.resource("google_pubsub_subscription", "push")
    retry = block(sub["retry_policy"])
    admission = json.loads((REPO / "shared" / "svp" / "limits.json").read_text())["admission"]
    delivery = Delivery(
        instances=root.default("${var.max_instances}"),
        concurrency=admission["concurrency"],
        min_backoff=float(stage.default(retry["minimum_backoff"]).rstrip("s")),
        max_backoff=float(stage.default(retry["maximum_backoff"]).rstrip("s")),
        max_deliveries=root.default("${var.max_delivery_attempts}"),
    )
    # No stage sees more messages than its function takes at once.
    assert admission["in_flight"] <= delivery.instances * delivery.concurrency
    assert admission["max_instances"] == delivery.instances
    longest = max(limit["timeout_seconds"] for limit in LIMITS.values())
    for seconds in (30, 60, 90, 120, longest):
        for seed in range(3):
            admitted = simulate(
                stage_seconds=seconds,
                delivery=delivery,
                admission=admission["in_flight"],
                seed=seed,
            )
            assert (admitted.dead_lettered_unrun, admitted.done) == (0, 100), (seconds, seed)
            assert admitted.refused == 0, (seconds, seed)
    # Without admission the same burst loses links that never ran.
    unadmitted = [simulate(stage_seconds=s, delivery=delivery, seed=0) for s in (90, 120)]
    assert all(run.dead_lettered_unrun > 0 for run in unadmitted)
    # Runs of a stage are bounded apart from deliveries: a failing link fails after
    # max_run_attempts runs, not after 15 deliveries.
    assert root.default("${var.max_run_attempts}") <= delivery.max_deliveries
    # A push request never times out before the function does (no delivery while it runs).
    assert stage.default(sub["ack_deadline_seconds"]) >= longest
    readme = (TF_DIR / "README.md").read_text()
    assert "## Sizing: a burst of links" in readme
    assert "bench/burst.py" in readme


def test_the_first_apply_on_an_empty_project_succeeds_in_one_pass(root):
    # Alert policies over log-based metrics made in the same apply: PromQL conditions that skip
    # the metric's existence check (the metric takes minutes to become queryable).
    policies = root.of_type("google_monitoring_alert_policy")
    for name, policy in policies.items():
        condition = block(policy["conditions"])
        if "user_" in str(condition) or "logging.googleapis.com/user" in str(condition):
            promql = block(condition.get("condition_prometheus_query_language"), name)
            assert promql["disable_metric_validation"] is True, name
    # The scheduler's first tick comes after its invoker binding (retry_count = 0).
    job = root.resource("google_cloud_scheduler_job", "poller")
    assert "${module.poller}" in job["depends_on"]
