"""`svp cloud setup`: every secret of the deployment, asked for or generated, checked against
its service, then stored as a new version through Secret Manager's API.

Nothing is stored unless every new value passed its check (a wrong Notion token is refused
with the reason, and the secrets stay as they were). Re-running changes only what the person
changes: Enter keeps a secret that is set. The encryption key is generated once and replaced
only with --rotate-encryption-key (every signed-in person's stored Notion token becomes
unreadable); a new session secret (--rotate-session-secret) signs everybody out. The
functions read the new values within a minute (svp.secrets): nothing is redeployed.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from svp.cloud import checks
from svp.cloud.store import Current, SecretStore
from svp.cloud.target import Target
from svp.config import Settings

# The word Secret Manager holds for "switched off" (svp.config reads it as not set).
NONE = "none"


@dataclass(frozen=True)
class Asked:
    """A secret the person gives: where --from-env finds it, the prompt, and whether `none`
    (switched off) is allowed."""

    key: str
    env: str
    prompt: str
    optional: bool


ASKED = (
    Asked("notion-token", "NOTION_TOKEN", "Notion integration token (ntn_...)", False),
    Asked("gemini-api-key", "GEMINI_API_KEY", "Gemini API key (none: extractive summary)", True),
    Asked(
        "openai-api-key",
        "OPENAI_API_KEY",
        "OpenAI API key (none: transcribe with the bundled model)",
        True,
    ),
    Asked(
        "notion-client-secret",
        "NOTION_CLIENT_SECRET",
        "Notion OAuth client secret of the public integration (none: sign-in off)",
        True,
    ),
)
ENCRYPTION_WARNING = (
    "a new encryption key makes every stored Notion token unreadable: everybody who signed in"
    " must sign in again, and until they do the pipeline cannot reach their databases"
)
SESSION_WARNING = "a new session secret signs everybody out of the status page"


@dataclass
class Change:
    key: str
    value: str
    note: str
    version: int | None = None


@dataclass
class Options:
    rotate_encryption_key: bool = False
    rotate_session_secret: bool = False
    yes: bool = False
    cookies: Path | None = None  # a Netscape cookies.txt for yt-dlp


# ask(asked, current) -> the new value, or "" to keep what is there
Ask = Callable[[Asked, Current], str]
Confirm = Callable[[str], bool]


class Setup:
    def __init__(
        self,
        store: SecretStore,
        target: Target,
        settings: Settings,
        ask: Ask,
        confirm: Confirm,
        options: Options,
    ):
        self.store = store
        self.target = target
        self.settings = settings
        self.ask = ask
        self.confirm = confirm
        self.options = options
        self.lines: list[str] = []  # one per secret, for the person
        self.problems: list[str] = []

    def plan(self) -> list[Change]:
        changes: list[Change] = []
        for asked in ASKED:
            change = self._asked(asked, self.store.current(asked.key))
            if change:
                changes.append(change)
        for key, rotate, warning, make in (
            ("encryption-key", self.options.rotate_encryption_key, ENCRYPTION_WARNING, _fernet),
            ("session-secret", self.options.rotate_session_secret, SESSION_WARNING, _session),
        ):
            change = self._generated(key, rotate, warning, make)
            if change:
                changes.append(change)
        if self.options.cookies is not None:
            change = self._cookies(self.options.cookies)
            if change:
                changes.append(change)
        if not self.store.current("webhook-token").is_set:
            note = "none until Notion sends it: `svp cloud webhook-token --accept TOKEN`"
            changes.append(Change("webhook-token", NONE, note))
        else:
            self.lines.append(_line("webhook-token", "kept"))
        return changes

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            change.version = self.store.add(change.key, change.value)
            self.lines.append(
                _line(change.key, f"stored (version {change.version}): {change.note}")
            )

    # -- one secret ----------------------------------------------------------------------
    def _asked(self, asked: Asked, current: Current) -> Change | None:
        answer = self.ask(asked, current).strip()
        if not answer:
            if current.is_set:
                self.lines.append(_line(asked.key, f"kept (version {current.version})"))
                return None
            if not asked.optional:
                self.problems.append(f"{asked.key}: required, and no value was given")
                return None
            answer = NONE
        if answer == current.value:
            self.lines.append(_line(asked.key, f"unchanged (version {current.version})"))
            return None
        if answer.lower() == NONE:
            if not asked.optional:
                self.problems.append(f"{asked.key}: required, `none` is not a value")
                return None
            return Change(asked.key, NONE, "off")
        try:
            return Change(asked.key, answer, self._check(asked.key, answer))
        except checks.CheckFailed as exc:
            self.problems.append(f"{asked.key}: {exc.reason}")
            return None

    def _check(self, key: str, value: str) -> str:
        s = self.settings
        if key == "notion-token":
            ids = checks.database_ids(self.target.link_databases, self.target.content_databases)
            return checks.notion_token(value, ids, s.notion_base_url)
        if key == "gemini-api-key":
            return checks.gemini_key(value, s.gemini_base_url)
        if key == "openai-api-key":
            return checks.openai_key(value, s.openai_base_url)
        if not self.target.notion_client_id:
            return "not checked: set notion_client_id in terraform.tfvars to turn sign-in on"
        return checks.notion_oauth_client(self.target.notion_client_id, value, s.notion_base_url)

    def _generated(
        self, key: str, rotate: bool, warning: str, make: Callable[[], str]
    ) -> Change | None:
        current = self.store.current(key)
        if not current.is_set:
            return Change(key, make(), "generated")
        if not rotate:
            self.lines.append(_line(key, f"kept (version {current.version})"))
            return None
        if not (self.options.yes or self.confirm(f"{warning}. Replace {key}?")):
            self.lines.append(_line(key, f"kept (version {current.version}): not confirmed"))
            return None
        return Change(key, make(), f"replaced: {warning}")

    def _cookies(self, path: Path) -> Change | None:
        try:
            text = path.read_text(encoding="utf-8")
            note = cookies_file(text)
        except (OSError, UnicodeDecodeError, checks.CheckFailed) as exc:
            reason = exc.reason if isinstance(exc, checks.CheckFailed) else str(exc)
            self.problems.append(f"cookies: {path}: {reason}")
            return None
        current = self.store.current("cookies")
        if text == current.value:
            self.lines.append(_line("cookies", f"unchanged (version {current.version})"))
            return None
        return Change("cookies", text, f"{note}; used when enable_cookies = true")


def cookies_file(text: str) -> str:
    """A Netscape cookies.txt (what yt-dlp reads): one cookie per line, seven tab-separated
    fields; CheckFailed otherwise. What it holds, by domain."""
    domains: set[str] = set()
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or (line.startswith("#") and not line.startswith("#HttpOnly_")):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise checks.CheckFailed(
                f"line {number} is not a cookie (7 tab-separated fields): export cookies.txt"
                " in Netscape format"
            )
        domains.add(fields[0].removeprefix("#HttpOnly_").lstrip("."))
        count += 1
    if not count:
        raise checks.CheckFailed("no cookie in the file")
    if len(text.encode()) > 64 * 1024:
        raise checks.CheckFailed("larger than Secret Manager's 64 KiB")
    return f"{count} cookie(s) for {', '.join(sorted(domains))}"


def _line(key: str, what: str) -> str:
    return f"  {key:<21} {what}"


def _fernet() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _session() -> str:
    return random.token_urlsafe(48)
