"""People who connected their own Notion workspace: users, encrypted tokens, API keys.

Tokens are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256). The key comes from
SVP_ENCRYPTION_KEY (on Google Cloud: a Secret Manager secret) or, locally, from a key file
made on first use under SVP_DATA_DIR. A token never appears in a log line, an error or an
API answer; only `notion_token()` decrypts it, for the gateway that uses it.

Where Notion's OAuth answer grants a refresh token, it is kept (encrypted) too: when Notion
refuses the access token (401), `mark_needs_reconnect` first trades the refresh token for a
new pair, and only asks the person to reconnect when that fails.

API keys are stored as their SHA-256 only, with a short public id, the first characters of
the key (to recognise it) and when it was made and last used; the person lists and revokes
them (svp.api.routes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svp.config import LOCAL_USER, ConfigError, Settings
from svp.errors import PermanentError
from svp.runtime import jobs
from svp.runtime.context import Runtime

if TYPE_CHECKING:
    from svp.notion.gateway import NotionGateway

log = logging.getLogger("svp.accounts")

USERS = "users"


class NotionAccessError(PermanentError):
    """A person's Notion token cannot be used: they must sign in with Notion again."""


API_KEYS = "api_keys"
KEY_TOUCH_SECONDS = 3600  # `last_used_at` of an API key is written at most this often
_refreshing: dict[str, threading.Lock] = {}  # one refresh per user at a time, per process
_refreshing_lock = threading.Lock()


# -- Notion clients ----------------------------------------------------------------------------
USER_CLIENT_TTL_SECONDS = 300


class _NotionClients:
    """A runtime's Notion clients: the configured integration's (NOTION_TOKEN) and one per
    signed-in person, dropped after a while so a warm instance picks up a reconnected token."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.lock = threading.Lock()
        self.people: dict[str, tuple[float, NotionGateway]] = {}
        self.integration: NotionGateway | None = None

    def gateway(self, token: str) -> NotionGateway:
        from svp.notion.budget import SharedPause
        from svp.notion.gateway import NotionGateway

        settings = self.runtime.settings
        return NotionGateway(
            token,
            settings.notion_base_url or None,
            settings.notion_requests_per_second,
            settings.notion_retry_seconds,
            shared=SharedPause(self.runtime.state, token),
        )

    def for_user(self, user: str | None) -> NotionGateway | None:
        if not user or user == LOCAL_USER:
            if self.integration is None and self.runtime.settings.notion_token:
                self.integration = self.gateway(self.runtime.settings.notion_token)
            return self.integration
        with self.lock:
            cached = self.people.get(user)
            if cached is None or time.monotonic() - cached[0] > USER_CLIENT_TTL_SECONDS:
                cached = self.people[user] = (
                    time.monotonic(),
                    self.gateway(notion_token(self.runtime, user)),
                )
            return cached[1]


_clients: weakref.WeakKeyDictionary[Runtime, _NotionClients] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def _clients_of(runtime: Runtime) -> _NotionClients:
    with _clients_lock:
        if runtime not in _clients:
            _clients[runtime] = _NotionClients(runtime)
        return _clients[runtime]


def notion_for(runtime: Runtime, user: str | None) -> NotionGateway | None:
    """The Notion client acting for `user` (their OAuth token), or the configured integration
    (NOTION_TOKEN) for the local user; None when that has no token. Raises NotionAccessError
    when a person's token is missing or unreadable."""
    return _clients_of(runtime).for_user(user)


def forget_notion(runtime: Runtime, user: str) -> None:
    """Drop a person's cached client (their token changed)."""
    clients = _clients_of(runtime)
    with clients.lock:
        clients.people.pop(user, None)


# -- tokens ------------------------------------------------------------------------------------
def _key_file(settings: Settings) -> Path:
    return settings.data_dir / "token.key"


def encryption_key(settings: Settings) -> bytes:
    if settings.encryption_key:
        return settings.encryption_key.encode()
    if settings.uses_gcp:
        raise ConfigError("SVP_ENCRYPTION_KEY is required when SVP_BACKEND=gcp")
    path = _key_file(settings)
    if not path.exists():
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
    return path.read_bytes().strip()


def _fernet(settings: Settings):
    from cryptography.fernet import Fernet

    try:
        return Fernet(encryption_key(settings))
    except ValueError:
        raise ConfigError(
            "SVP_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)"
        ) from None


def user_id_for(workspace_id: str, bot_id: str) -> str:
    return "u" + hashlib.sha256(f"{workspace_id}:{bot_id}".encode()).hexdigest()[:20]


def save_user(runtime: Runtime, oauth: dict[str, Any]) -> dict[str, Any]:
    """Create or update the user an OAuth token answer belongs to; returns it without token."""
    user_id = user_id_for(oauth["workspace_id"], oauth["bot_id"])
    fernet = _fernet(runtime.settings)
    sealed = fernet.encrypt(oauth["access_token"].encode()).decode()
    refresh = oauth.get("refresh_token")
    sealed_refresh = fernet.encrypt(refresh.encode()).decode() if refresh else ""
    owner = (oauth.get("owner") or {}).get("user") or {}
    now = jobs.iso(time.time())

    def upsert(doc: dict | None) -> tuple[dict, dict]:
        doc = dict(doc or {"user_id": user_id, "created_at": now})
        doc.update(
            workspace_id=oauth["workspace_id"],
            workspace_name=oauth.get("workspace_name") or "",
            bot_id=oauth["bot_id"],
            owner_name=owner.get("name") or "",
            token=sealed,
            refresh_token=sealed_refresh,
            needs_reconnect=False,
            reconnect_reason="",
            updated_at=now,
        )
        return doc, doc

    doc = runtime.state.update(USERS, user_id, upsert)
    forget_notion(runtime, user_id)
    return public(doc)


def public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in ("token", "refresh_token")}


def notion_token(runtime: Runtime, user_id: str) -> str:
    from cryptography.fernet import InvalidToken

    user = runtime.state.get(USERS, user_id)
    if not user or not user.get("token"):
        raise NotionAccessError(f"no Notion connection for user {user_id}: sign in with Notion")
    try:
        return _fernet(runtime.settings).decrypt(user["token"].encode()).decode()
    except InvalidToken:
        raise NotionAccessError(
            "the stored Notion token cannot be decrypted (was SVP_ENCRYPTION_KEY changed?): "
            "sign in with Notion again"
        ) from None


def users(runtime: Runtime) -> list[dict[str, Any]]:
    return [public(u) for u in runtime.state.list(USERS)]


def mark_needs_reconnect(runtime: Runtime, user_id: str, reason: str) -> bool:
    """Notion refused the user's access token (401). Where Notion granted a refresh token, a
    new access token is fetched with it first: True when that worked (the caller drops its
    cached client and carries on). Otherwise the user is marked as needing to reconnect, with
    `reason`, and False is returned."""
    outcome = refresh_notion_token(runtime, user_id)
    if outcome == "refreshed":
        return True
    if outcome != "unreachable":  # Notion not answering is no reason to stop for good
        runtime.state.update(
            USERS,
            user_id,
            lambda d: jobs.set_fields(
                d, time.time(), needs_reconnect=True, reconnect_reason=reason
            ),
        )
    return False


def refresh_notion_token(runtime: Runtime, user_id: str) -> str:
    """Trade the user's refresh token for a new access and refresh token.

    Returns "refreshed", "no refresh token" (none granted, or no OAuth client configured
    here), "refused" (Notion refused it: spent or revoked) or "unreachable"."""
    from cryptography.fernet import InvalidToken

    from svp.notion import oauth

    settings = runtime.settings
    user = runtime.state.get(USERS, user_id) or {}
    if not (
        user.get("refresh_token") and settings.notion_client_id and settings.notion_client_secret
    ):
        return "no refresh token"
    with _refreshing_lock:
        lock = _refreshing.setdefault(user_id, threading.Lock())
    with lock:
        latest = runtime.state.get(USERS, user_id) or {}
        if latest.get("token") != user.get("token"):
            return "refreshed"  # another thread got a new token while this one waited
        sealed = latest["refresh_token"]
        try:
            refresh_token = _fernet(settings).decrypt(sealed.encode()).decode()
        except InvalidToken:  # sealed with another key (SVP_ENCRYPTION_KEY changed)
            return "refused"
        try:
            answer = oauth.refresh(settings, refresh_token)
        except oauth.OAuthError as exc:
            latest = runtime.state.get(USERS, user_id) or {}
            if latest.get("refresh_token") != sealed:  # another process refreshed first
                return "refreshed"
            log.warning(
                "Notion token refresh failed: %s",
                exc,
                extra={"event": "oauth.refresh", "labels": {"user": user_id}},
            )
            return "refused" if exc.refused else "unreachable"
        save_user(runtime, answer)
    log.info(
        "Notion token refreshed", extra={"event": "oauth.refreshed", "labels": {"user": user_id}}
    )
    return "refreshed"


# -- API keys ------------------------------------------------------------------------------
def create_api_key(runtime: Runtime, user_id: str) -> str:
    """A new key, shown once; only its hash is stored."""
    key = "svp_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = jobs.iso(time.time())
    runtime.state.put(
        API_KEYS,
        digest,
        {
            "user_id": user_id,
            "key_id": digest[:12],
            "digest": digest,
            "hint": key[:8],
            "created_at": now,
            "last_used_at": now,
            "updated_at": now,
        },
    )
    return key


def user_for_api_key(runtime: Runtime, key: str) -> str | None:
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = runtime.state.get(API_KEYS, digest)
    if not found:
        return None
    now = time.time()
    last = found.get("last_used_at") or ""
    if "key_id" not in found or last < jobs.iso(now - KEY_TOUCH_SECONDS):
        # Also gives a key made before keys could be listed its id, so it can be revoked.
        runtime.state.update(
            API_KEYS,
            digest,
            lambda d: jobs.set_fields(
                d, now, key_id=digest[:12], digest=digest, last_used_at=jobs.iso(now)
            ),
        )
    return found["user_id"]


def api_keys(runtime: Runtime, user_id: str) -> list[dict[str, Any]]:
    """The user's keys, newest first: id, the key's first characters, created, last used."""
    keys = runtime.state.list(API_KEYS, where={"user_id": user_id})
    return sorted(
        (
            {k: key.get(k) for k in ("key_id", "hint", "created_at", "last_used_at")}
            for key in keys
            if key.get("key_id")
        ),
        key=lambda k: k["created_at"] or "",
        reverse=True,
    )


def revoke_api_key(runtime: Runtime, user_id: str, key_id: str) -> bool:
    """Delete the user's key with this id; False when they have none such."""
    for key in runtime.state.list(API_KEYS, where={"user_id": user_id}):
        if key.get("key_id") == key_id and key.get("digest"):
            runtime.state.delete(API_KEYS, key["digest"])
            return True
    return False
