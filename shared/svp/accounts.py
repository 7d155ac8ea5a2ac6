"""People who connected their own Notion workspace: users, encrypted tokens, API keys.

Tokens are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256). The key comes from
SVP_ENCRYPTION_KEY (on Google Cloud: a Secret Manager secret) or, locally, from a key file
made on first use under SVP_DATA_DIR. A token never appears in a log line, an error or an
API answer; only `notion_token()` decrypts it, for the gateway that uses it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

from svp.config import ConfigError, Settings
from svp.errors import PermanentError
from svp.runtime import jobs
from svp.runtime.context import Runtime

USERS = "users"


class NotionAccessError(PermanentError):
    """A person's Notion token cannot be used: they must sign in with Notion again."""


API_KEYS = "api_keys"
LOCAL_USER = "local"


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
        raise ConfigError("SVP_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)"
                          ) from None  # fmt: skip


def user_id_for(workspace_id: str, bot_id: str) -> str:
    return "u" + hashlib.sha256(f"{workspace_id}:{bot_id}".encode()).hexdigest()[:20]


def save_user(runtime: Runtime, oauth: dict[str, Any]) -> dict[str, Any]:
    """Create or update the user an OAuth token answer belongs to; returns it without token."""
    user_id = user_id_for(oauth["workspace_id"], oauth["bot_id"])
    sealed = _fernet(runtime.settings).encrypt(oauth["access_token"].encode()).decode()
    owner = (oauth.get("owner") or {}).get("user") or {}
    now = jobs.iso(time.time())

    def upsert(doc: dict | None) -> tuple[dict, dict]:
        doc = dict(doc or {"user_id": user_id, "created_at": now})
        doc.update(
            workspace_id=oauth["workspace_id"], workspace_name=oauth.get("workspace_name") or "",
            bot_id=oauth["bot_id"], owner_name=owner.get("name") or "", token=sealed,
            needs_reconnect=False, reconnect_reason="", updated_at=now,
        )  # fmt: skip
        return doc, doc

    doc = runtime.state.update(USERS, user_id, upsert)
    runtime.forget_notion(user_id)
    return public(doc)


def public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "token"}


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


def mark_needs_reconnect(runtime: Runtime, user_id: str, reason: str) -> None:
    runtime.state.update(USERS, user_id, lambda d: jobs.set_fields(
        d, time.time(), needs_reconnect=True, reconnect_reason=reason))  # fmt: skip


def create_api_key(runtime: Runtime, user_id: str) -> str:
    """A new key, shown once; only its hash is stored."""
    key = "svp_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    runtime.state.put(API_KEYS, digest, {"user_id": user_id, "created_at": jobs.iso(time.time()),
                                         "updated_at": jobs.iso(time.time())})  # fmt: skip
    return key


def user_for_api_key(runtime: Runtime, key: str) -> str | None:
    found = runtime.state.get(API_KEYS, hashlib.sha256(key.encode()).hexdigest())
    return found["user_id"] if found else None
