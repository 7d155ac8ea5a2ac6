"""Notion's OAuth flow for public integrations: the authorize URL, the code exchange and the
token refresh.

The authorize page lives at {NOTION_BASE_URL or https://api.notion.com}/v1/oauth/authorize;
the code is exchanged at /v1/oauth/token with HTTP Basic client_id:client_secret. The answer
carries the workspace's access token and, where Notion grants one, a refresh token; both go
straight to `accounts.save_user` (encrypted there) and are never logged, shown or returned.
A refresh token is exchanged at the same endpoint (grant_type=refresh_token) for a new pair;
the one sent is spent.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from svp.config import Settings

NOTION_API = "https://api.notion.com"
EXCHANGE_TIMEOUT_MS = 10_000
# What only a refusal of the grant or the client answers (RFC 6749 §5.2: invalid_grant and
# friends are 400, invalid_client 401); 429 and 5xx are Notion not answering now.
REFUSALS = (400, 401, 403)
log = logging.getLogger("svp.notion.oauth")


class OAuthError(Exception):
    """The sign-in or refresh failed; the message is safe to show (no code, secret or token in
    it). `refused`: Notion said no (a bad or spent grant), rather than not answering."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


def configured(settings: Settings) -> bool:
    return bool(
        settings.notion_client_id and settings.notion_client_secret and settings.notion_redirect_uri
    )


def missing_settings(settings: Settings) -> list[str]:
    return [
        name
        for name, value in (
            ("NOTION_CLIENT_ID", settings.notion_client_id),
            ("NOTION_CLIENT_SECRET", settings.notion_client_secret),
            ("NOTION_REDIRECT_URI", settings.notion_redirect_uri),
        )
        if not value
    ]


def base_url(settings: Settings) -> str:
    return (settings.notion_base_url or NOTION_API).rstrip("/")


def authorize_url(settings: Settings, state: str) -> str:
    query = urlencode(
        {
            "client_id": settings.notion_client_id,
            "response_type": "code",
            "owner": "user",
            "redirect_uri": settings.notion_redirect_uri,
            "state": state,
        }
    )
    return f"{base_url(settings)}/v1/oauth/authorize?{query}"


def exchange_code(settings: Settings, code: str) -> dict[str, Any]:
    """The token answer for an authorization code: access_token, bot_id, workspace_id, ..."""
    return _token_request(
        settings,
        grant_type="authorization_code",
        code=code,
        redirect_uri=settings.notion_redirect_uri,
    )


def refresh(settings: Settings, refresh_token: str) -> dict[str, Any]:
    """A new token answer (access_token, refresh_token, ...) for a refresh token."""
    return _token_request(settings, grant_type="refresh_token", refresh_token=refresh_token)


def _token_request(settings: Settings, **body: str) -> dict[str, Any]:
    from notion_client import Client
    from notion_client.errors import HTTPResponseError, RequestTimeoutError

    # A logger of its own: the SDK sets the level of the logger it is given. This module logs
    # the outcome itself, without the code or token.
    grant = body["grant_type"]
    client = Client(
        base_url=base_url(settings),
        timeout_ms=EXCHANGE_TIMEOUT_MS,
        retry=False,
        logger=logging.getLogger("svp.notion.oauth.client"),
        log_level=logging.CRITICAL,
    )
    try:
        answer = client.oauth.token(
            client_id=settings.notion_client_id,
            client_secret=settings.notion_client_secret,
            **body,
        )
    except RequestTimeoutError:
        raise OAuthError("Notion did not answer the sign-in in time: try again") from None
    except HTTPResponseError as exc:
        reason = _error_code(exc)
        if exc.status not in REFUSALS:  # 5xx, 429: Notion did not decide, try again later
            log.warning(
                "Notion could not answer the %s request: %s %s",
                grant,
                exc.status,
                reason,
                extra={"event": "oauth.failed"},
            )
            raise OAuthError(
                f"Notion could not answer the sign-in ({exc.status} {reason}): try again"
            ) from None
        log.warning(
            "Notion refused the %s request: %s %s",
            grant,
            exc.status,
            reason,
            extra={"event": "oauth.refused"},
        )
        raise OAuthError(
            f"Notion refused the sign-in ({exc.status} {reason}): start again", refused=True
        ) from None
    except Exception as exc:  # noqa: BLE001 - network errors: httpx.ConnectError and friends
        log.warning(
            "Notion %s request failed: %s",
            grant,
            type(exc).__name__,
            extra={"event": "oauth.failed"},
        )
        raise OAuthError("could not reach Notion to finish the sign-in: try again") from None
    missing = [k for k in ("access_token", "bot_id", "workspace_id") if not answer.get(k)]
    if missing:
        raise OAuthError(f"Notion's answer lacks {', '.join(missing)}: start again")
    return answer


def _error_code(exc: Exception) -> str:
    """OAuth's `error` (invalid_grant, ...) or Notion's `code`, from the error body."""
    try:
        body = json.loads(getattr(exc, "body", "") or "{}")
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("error") or body.get("code")):
        return str(body.get("error") or body.get("code"))[:60]
    code = getattr(exc, "code", "")
    return str(getattr(code, "value", code) or "")
