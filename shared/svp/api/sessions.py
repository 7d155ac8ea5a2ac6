"""Browser sessions kept server-side, so they can be ended from anywhere.

The signed session cookie carries a random session id (and the CSRF token); the state store
says whether that session still stands. Signing out ends it; "sign out everywhere" ends all
of a person's sessions; reconnecting Notion after it stopped accepting the person's access ends
the older ones (they were opened with the access that was lost); any session can be ended from
another one or with an API key. A session also ends SESSION_DAYS after it began
(`expire_at`, for Firestore's TTL policy too).

Stored under the SHA-256 of the id, so a read of the store gives no usable cookie. What a
person sees of a session: a short public id, when it began and was last used, and the start
of the browser's User-Agent.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from svp.runtime import jobs
from svp.runtime.context import Runtime

SESSIONS = "sessions"
SESSION_DAYS = 14
TOUCH_SECONDS = 3600  # `last_seen_at` is written at most this often
PUBLIC_ID_CHARS = 12


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(runtime: Runtime, user_id: str, user_agent: str = "") -> str:
    """A new session for `user_id`; returns its id (for the cookie only)."""
    session_id = secrets.token_urlsafe(32)
    key, now = _key(session_id), time.time()
    runtime.state.put(
        SESSIONS,
        key,
        {
            "user_id": user_id,
            "session": key[:PUBLIC_ID_CHARS],
            "key": key,
            "user_agent": user_agent[:120],
            "created_at": jobs.iso(now),
            "last_seen_at": jobs.iso(now),
            "updated_at": jobs.iso(now),
            "expire_at": jobs.iso(now + SESSION_DAYS * 86400),
        },
    )
    return session_id


def user_of(runtime: Runtime, session_id: Any) -> str | None:
    """The user a session id stands for, or None when it is unknown, ended or expired."""
    if not isinstance(session_id, str) or not session_id:
        return None
    key, now = _key(session_id), time.time()
    found = runtime.state.get(SESSIONS, key)
    if not found or (found.get("expire_at") or "") <= jobs.iso(now):
        return None
    if (found.get("last_seen_at") or "") < jobs.iso(now - TOUCH_SECONDS):
        runtime.state.update(
            SESSIONS, key, lambda d: jobs.set_fields(d, now, last_seen_at=jobs.iso(now))
        )
    return found["user_id"]


def end(runtime: Runtime, session_id: Any) -> None:
    if isinstance(session_id, str) and session_id:
        runtime.state.delete(SESSIONS, _key(session_id))


def end_all(runtime: Runtime, user_id: str) -> int:
    """End every session of `user_id`; returns how many there were."""
    found = runtime.state.list(SESSIONS, where={"user_id": user_id})
    for session in found:
        runtime.state.delete(SESSIONS, session["key"])
    return len(found)


def end_one(runtime: Runtime, user_id: str, public_id: str) -> bool:
    """End the user's session with this public id; False when they have none such."""
    for session in runtime.state.list(SESSIONS, where={"user_id": user_id}):
        if session.get("session") == public_id:
            runtime.state.delete(SESSIONS, session["key"])
            return True
    return False


def listing(runtime: Runtime, user_id: str, current: Any = None) -> list[dict[str, Any]]:
    """The user's sessions still standing, newest first; `current` marks this browser's."""
    now = jobs.iso(time.time())
    mine = _key(current)[:PUBLIC_ID_CHARS] if isinstance(current, str) and current else None
    found = [
        s
        for s in runtime.state.list(SESSIONS, where={"user_id": user_id})
        if (s.get("expire_at") or "") > now
    ]
    found.sort(key=lambda s: s.get("created_at") or "", reverse=True)
    return [
        {
            "session": s["session"],
            "created_at": s.get("created_at"),
            "last_seen_at": s.get("last_seen_at"),
            "user_agent": s.get("user_agent") or "",
            "current": s["session"] == mine,
        }
        for s in found
    ]
