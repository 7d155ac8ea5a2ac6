"""Each secret checked against its own service before it is stored.

A check returns what it found (a line for the person) or raises CheckFailed with the reason.
The base URLs come from the same settings the pipeline uses (NOTION_BASE_URL,
GOOGLE_GEMINI_BASE_URL, OPENAI_BASE_URL), so tests point them at fakes.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.error
import urllib.request

_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.IGNORECASE
)
NOTION_API = "https://api.notion.com"
TIMEOUT = 20


class CheckFailed(Exception):
    """The value does not work with its service: `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def database_ids(link_databases: str, content_databases: str) -> list[str]:
    """The Notion database ids of the Terraform variables (ids or URLs; `tag=id` pairs)."""
    refs = [r for r in link_databases.split(",") if r.strip()]
    refs += [p.partition("=")[2] for p in content_databases.split(",") if "=" in p]
    ids = []
    for ref in refs:
        found = _ID.findall(ref.split("?")[0].split("#")[0])
        if found:
            ids.append(found[-1].replace("-", "").lower())
    return ids


def notion_token(token: str, databases: list[str], base_url: str = "") -> str:
    """The token is valid (users/me) and reads every configured database."""
    from notion_client import APIResponseError, Client
    from notion_client.errors import RequestTimeoutError

    # Quiet: a refusal is this check's answer, said once by the caller, not a warning.
    client = Client(
        auth=token,
        base_url=base_url or NOTION_API,
        timeout_ms=TIMEOUT * 1000,
        log_level=logging.CRITICAL,
    )
    try:
        me = client.users.me()
    except APIResponseError as exc:
        if exc.status == 401:
            raise CheckFailed(
                "Notion refused the token (401 unauthorized): copy it again"
            ) from None
        raise CheckFailed(f"Notion answered {exc.status} {exc.code}: {exc}") from None
    except (RequestTimeoutError, OSError) as exc:
        raise CheckFailed(f"Notion could not be reached: {exc}") from None
    titles = [_readable_title(client, ref) for ref in databases]
    who = me.get("name") or me.get("id", "?")
    if not titles:
        return f"valid ({who}); no database configured in terraform.tfvars to check"
    return f"valid ({who}); reads {len(titles)} database(s): {', '.join(titles)}"


def _readable_title(client, ref: str) -> str:
    """The title of a database or data source (the pipeline takes either id, data source
    first: svp.notion.gateway), or CheckFailed saying how to share it."""
    from notion_client import APIResponseError

    for kind, read in (
        ("data source", lambda: client.data_sources.retrieve(data_source_id=ref)),
        ("database", lambda: client.databases.retrieve(database_id=ref)),
    ):
        try:
            found = read()
        except APIResponseError as exc:
            if exc.status in (400, 404):
                continue
            raise CheckFailed(f"{kind} {ref}: {exc.status} {exc.code}: {exc}") from None
        return "".join(t.get("plain_text", "") for t in found.get("title") or []) or ref
    raise CheckFailed(
        f"database {ref} is not shared with this integration (open it in Notion, ... menu,"
        " Connections, add the integration)"
    )


def gemini_key(key: str, base_url: str = "") -> str:
    """The key can list Gemini's models."""
    from google import genai
    from google.genai import errors, types

    options = types.HttpOptions(base_url=base_url) if base_url else None
    client = genai.Client(api_key=key, http_options=options)
    try:
        first = next(iter(client.models.list(config={"page_size": 5})), None)
    except errors.APIError as exc:
        raise CheckFailed(f"Gemini refused the key ({exc.code}): {exc.message}") from None
    except OSError as exc:
        raise CheckFailed(f"Gemini could not be reached: {exc}") from None
    return f"valid; lists models ({first.name if first else 'none listed'}, ...)"


def openai_key(key: str, base_url: str = "") -> str:
    """The key can list OpenAI's models."""
    import openai

    client = openai.OpenAI(api_key=key, base_url=base_url or None, max_retries=1, timeout=TIMEOUT)
    try:
        page = client.models.list()
    except openai.AuthenticationError:
        raise CheckFailed("OpenAI refused the key (401): copy it again") from None
    except openai.APIError as exc:
        raise CheckFailed(f"OpenAI answered: {exc}") from None
    return f"valid; lists {len(page.data)} model(s)"


def notion_oauth_client(client_id: str, client_secret: str, base_url: str = "") -> str:
    """The OAuth client id and secret form a pair: Notion's token endpoint, given a code that
    cannot exist, answers `invalid_grant` to a known client and `invalid_client` otherwise."""
    request = urllib.request.Request(
        f"{base_url or NOTION_API}/v1/oauth/token",
        data=json.dumps(
            {
                "grant_type": "authorization_code",
                "code": "svp-cloud-setup-check",
                "redirect_uri": "https://invalid.example/",
            }
        ).encode(),
        headers={
            "Authorization": "Basic "
            + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
            "Content-Type": "application/json",
            "Notion-Version": "2025-09-03",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT):
            return "valid pair"
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}").get("error", "")
        except ValueError:
            error = ""
        if exc.code == 400 and error == "invalid_grant":
            return "valid pair (client id and secret accepted by Notion)"
        if exc.code == 401 or error == "invalid_client":
            raise CheckFailed(
                "Notion refused the OAuth client id and secret (invalid_client): check both"
            ) from None
        raise CheckFailed(f"Notion's token endpoint answered {exc.code} {error}") from None
    except OSError as exc:
        raise CheckFailed(f"Notion could not be reached: {exc}") from None
