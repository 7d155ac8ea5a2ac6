"""The machine owner's way in to `svp serve`, without Notion sign-in (the way notebook
servers do it): a random token printed at start; opening `/?token=...` once sets a signed
session cookie and drops the token from the address bar. The owner sees the jobs of this
machine (`svp process`, `svp run` with NOTION_TOKEN): those of the local user.

Never on Google Cloud: the api function has no owner, only people signed in with Notion.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from svp.config import LOCAL_USER

SESSION_KEY = "owner"  # in Flask's signed session: a digest of the token it was opened with


def new_token() -> str:
    return secrets.token_urlsafe(24)


def digest(token: str) -> str:
    # The cookie carries a digest, not the token: it is signed, but a copy of the cookie
    # should not reveal the address that opens the page.
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str | None, sent: str | None) -> bool:
    return bool(token and sent) and hmac.compare_digest(str(token), str(sent))


def owner_user(has_notion: bool) -> dict[str, Any]:
    """The owner as g.user: the local user of the command line's jobs."""
    return {
        "user_id": LOCAL_USER,
        "workspace_name": "this machine",
        "owner_name": None,
        "needs_reconnect": False,
        "owner": True,
        "has_notion": has_notion,
    }
