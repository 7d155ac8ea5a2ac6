"""Secrets a Cloud Function reads at run time from Secret Manager, into memory only.

Terraform gives each function `SVP_SECRETS`, the *names* of the secrets it may read
(`NOTION_TOKEN=svp-notion-token,SVP_ENCRYPTION_KEY=svp-encryption-key`), and its service
account `secretAccessor` on exactly those; never a value. The values are read through
Secret Manager's API (version `latest` of `projects/<SVP_PROJECT>/secrets/<id>`), kept in
memory and read again after `SVP_SECRET_CACHE_SECONDS` (60), so a value that `svp cloud
setup` stores, or a rotation, reaches every instance within a minute, without a redeploy.
They never enter `os.environ`, so no child process inherits them.

A secret without an enabled version is *missing*: the function still starts, says so in its
health check and in one log line per request, and holds its work back (svp.functions).

`SVP_SECRET_MANAGER_ENDPOINT` (tests and the local cloud only; never set by Terraform) sends
the calls to `http://127.0.0.1:PORT` over REST with anonymous credentials. With SVP_BACKEND
local, or without `SVP_SECRETS` (`svp` on a laptop), the secrets are environment variables and
`.env` entries, read by svp.config as before. A secret Secret Manager has no value for keeps
the environment's value, if any (it is still reported missing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from svp.config import Settings, with_values

log = logging.getLogger("svp.secrets")

CACHE_SECONDS = 60.0
# After a failed read (Secret Manager unreachable) the next try comes sooner than the TTL.
RETRY_SECONDS = 5.0
HINT = "run `svp cloud setup`"

# setting (its environment variable name locally) -> secret short name (terraform/secrets.tf;
# the secret id is the Terraform prefix + this).
SECRET_NAMES: dict[str, str] = {
    "NOTION_TOKEN": "notion-token",
    "SVP_ENCRYPTION_KEY": "encryption-key",
    "NOTION_CLIENT_SECRET": "notion-client-secret",
    "SVP_SESSION_SECRET": "session-secret",
    "NOTION_WEBHOOK_TOKEN": "webhook-token",
    "OPENAI_API_KEY": "openai-api-key",
    "GEMINI_API_KEY": "gemini-api-key",
}

# function -> the settings it may read (Terraform's local.secret_access must match; see
# tests/terraform/test_wiring.py). Stages that parse strangers' media hold nothing they do
# not use for that work: their Notion status goes through the job's outbox, which the
# poller's reconciler and the next stage send (svp.topology.NOTION_FREE).
FUNCTION_SECRETS: dict[str, tuple[str, ...]] = {
    # Sends every status (the outbox) and refreshes a signed-in person's Notion token.
    "poller": ("NOTION_TOKEN", "SVP_ENCRYPTION_KEY", "NOTION_CLIENT_SECRET"),
    "webhook": ("NOTION_TOKEN", "SVP_ENCRYPTION_KEY", "NOTION_WEBHOOK_TOKEN"),
    "downloader": (),
    "transcriber": ("OPENAI_API_KEY",),  # `none`: the bundled faster-whisper model
    "ocr": (),  # Cloud Vision authenticates with the function's service account
    # Reads the Content Database's schema in Notion; Gemini (`none`: extractive summary).
    "summarizer": ("NOTION_TOKEN", "SVP_ENCRYPTION_KEY", "GEMINI_API_KEY"),
    "writer": ("NOTION_TOKEN", "SVP_ENCRYPTION_KEY"),
    "api": ("NOTION_CLIENT_SECRET", "SVP_ENCRYPTION_KEY", "SVP_SESSION_SECRET"),
}


def secrets_variable(function: str, prefix: str = "svp-") -> str:
    """The SVP_SECRETS value Terraform gives `function` (modules/stage: settings sorted, each
    `SETTING=<prefix><secret key>`); empty for a function that reads none."""
    return ",".join(f"{s}={prefix}{SECRET_NAMES[s]}" for s in sorted(FUNCTION_SECRETS[function]))


@dataclass(frozen=True)
class SecretValues:
    """What was read: setting -> value, and setting -> why it is missing."""

    values: Mapping[str, str] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)

    def describe_missing(self) -> list[str]:
        return [f"{name} ({why})" for name, why in sorted(self.missing.items())]


class SecretUnavailable(Exception):
    """A secret has no value to give: `reason` says why (no version yet, no access, ...)."""

    def __init__(self, reason: str, transient: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def secret_manager_client(endpoint: str = "") -> Any:
    """Secret Manager's client: the real service with the function's identity, or (tests,
    the local cloud) `endpoint` over REST with anonymous credentials."""
    from google.cloud import secretmanager

    if not endpoint:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        client_options={"api_endpoint": endpoint},
        credentials=AnonymousCredentials(),
    )


def access_latest(client: Any, project: str, secret_id: str) -> str:
    """The value of the secret's latest version; SecretUnavailable when there is none to
    read (no version yet, latest disabled or destroyed, no access, no such secret)."""
    from google.api_core import exceptions
    from google.api_core.retry import Retry

    name = f"projects/{project}/secrets/{secret_id}/versions/latest"
    try:
        # A short retry: values already read outlive an outage, and a request must not wait.
        retry = Retry(initial=0.2, maximum=1.0, timeout=3.0)
        response = client.access_secret_version(request={"name": name}, retry=retry, timeout=5)
    except exceptions.GoogleAPICallError as exc:
        status = rpc_status(exc)
        if status == "NOT_FOUND":
            raise SecretUnavailable(f"{secret_id}: no value yet") from None
        if status == "FAILED_PRECONDITION":
            raise SecretUnavailable(
                f"{secret_id}: its latest version is disabled or destroyed"
            ) from None
        if status == "PERMISSION_DENIED":
            raise SecretUnavailable(f"{secret_id}: no access (secretAccessor missing)") from None
        raise SecretUnavailable(f"{secret_id}: unreachable: {exc}", transient=True) from None
    except (exceptions.GoogleAPIError, OSError) as exc:
        raise SecretUnavailable(f"{secret_id}: unreachable: {exc}", transient=True) from None
    payload = response.payload
    if payload.data_crc32c:
        import google_crc32c

        if google_crc32c.value(payload.data) != payload.data_crc32c:
            raise SecretUnavailable(f"{secret_id}: corrupted in transit", transient=True)
    return payload.data.decode("utf-8")


def rpc_status(exc: Any) -> str:
    """The canonical status of a Google API error (`NOT_FOUND`, ...), over gRPC or REST:
    REST maps it from the HTTP code alone (400 is BadRequest even for FAILED_PRECONDITION),
    so the error body's `status` decides there."""
    response = getattr(exc, "response", None)
    try:
        status = response.json()["error"]["status"]  # type: ignore[union-attr]
        if isinstance(status, str):
            return status
    except Exception:  # noqa: BLE001 - not a JSON error body: fall back to the code
        pass
    code = getattr(exc, "grpc_status_code", None)
    if code is not None:
        return code.name
    return {403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(getattr(exc, "code", 0), "UNKNOWN")


class SecretReader:
    """Reads a function's secrets, at most once per `ttl` seconds; thread-safe."""

    def __init__(
        self,
        project: str,
        names: Mapping[str, str],
        client: Callable[[], Any],
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.project = project
        self.names = dict(names)
        self._client_factory = client
        self._client: Any = None
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._read: SecretValues | None = None
        self._next_read = 0.0

    def read(self) -> SecretValues:
        with self._lock:
            if self._read is None or self.clock() >= self._next_read:
                self._read, transient = self._fetch(self._read)
                self._next_read = self.clock() + (RETRY_SECONDS if transient else self.ttl)
            return self._read

    def _fetch(self, previous: SecretValues | None) -> tuple[SecretValues, bool]:
        values: dict[str, str] = {}
        missing: dict[str, str] = {}
        transient = False
        for setting, secret_id in self.names.items():
            try:
                if self._client is None:
                    self._client = self._client_factory()
                values[setting] = access_latest(self._client, self.project, secret_id)
            except SecretUnavailable as exc:
                transient |= exc.transient
                kept = previous.values.get(setting) if previous and exc.transient else None
                if kept is not None:  # an outage does not unconfigure a running function
                    values[setting] = kept
                else:
                    missing[setting] = exc.reason
            except Exception as exc:  # noqa: BLE001 - no credentials, a broken client: say so
                transient = True
                missing[setting] = f"{secret_id}: {type(exc).__name__}: {exc}"
        return SecretValues(values, missing), transient


class LiveSettings:
    """The instance's settings with its secrets as Secret Manager holds them now.

    `current()` answers the same Settings object while the secrets are unchanged, a new
    one when one changed (the caller then rebuilds what it built from them)."""

    def __init__(self, base: Settings, reader: SecretReader | None):
        self.base = base
        self.reader = reader
        self._seen: Mapping[str, str] | None = None
        self._settings = base
        self._lock = threading.Lock()

    def current(self) -> Settings:
        if self.reader is None:
            return self.base
        values = self.reader.read().values
        with self._lock:
            if values != self._seen:
                self._settings = with_values(self.base, values)
                self._seen = dict(values)
            return self._settings

    def missing(self) -> list[str]:
        """The secrets this function may read that hold no value, each with why."""
        return self.reader.read().describe_missing() if self.reader else []


def live_settings(settings: Settings) -> LiveSettings:
    """Settings that follow Secret Manager when the function runs on Google Cloud
    (SVP_BACKEND=gcp) and was given SVP_SECRETS; otherwise the environment's values."""
    if not settings.secret_names or not settings.uses_gcp:
        return LiveSettings(settings, None)
    endpoint = settings.secret_manager_endpoint
    reader = SecretReader(
        settings.project,
        settings.secret_names,
        lambda: secret_manager_client(endpoint),
        ttl=settings.secret_cache_seconds,
    )
    return LiveSettings(settings, reader)


def encode_payload(value: str) -> dict[str, Any]:
    """An AddSecretVersion payload with its checksum (Secret Manager verifies it)."""
    import google_crc32c

    data = value.encode("utf-8")
    return {"data": data, "data_crc32c": google_crc32c.value(data)}
