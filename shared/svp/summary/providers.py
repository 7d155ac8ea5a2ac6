"""LLM providers behind one small interface, their choice, and retries that honour delays.

`choose(settings)` picks the provider: `SVP_LLM_PROVIDER` when set; otherwise Gemini when
`GEMINI_API_KEY` is set, else the OpenAI-compatible provider when `SVP_LLM_BASE_URL` or
`SVP_LLM_API_KEY` is set, else none (the extractive summary).

Retries are ours, not the SDKs' (google-genai's ignore Retry-After): 429, 5xx, timeouts and
connection errors are retried up to `SVP_LLM_ATTEMPTS` times in all, waiting what the server
asked for (Gemini's RetryInfo `retryDelay`, the `Retry-After` / `retry-after-ms` headers) or
else an exponential back-off from `SVP_LLM_RETRY_SECONDS`. A requested wait longer than
`SVP_LLM_RETRY_MAX_SECONDS`, or one that would run past the stage's deadline, ends the
retries at once: the summarizer then falls back rather than hold the message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from svp.config import Settings

log = logging.getLogger("svp.summary")
T = TypeVar("T")
RETRY_STATUS = (408, 429, 500, 502, 503, 504, 529)
sleep = time.sleep  # tests replace it to see the waits

# A conversation: ("user" | "model", text) turns after the system instructions.
Turns = list[tuple[str, str]]


class ProviderError(Exception):
    """The provider gave no answer: it refused the request or stayed unavailable."""


class Unavailable(ProviderError):
    """429 / 5xx / network errors outlasted the retries (or the time left)."""


class Rejected(ProviderError):
    """A request the provider will not serve (bad key, unknown model, bad request)."""


@dataclass
class Answer:
    text: str | None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Verdict:
    """How to treat an exception: retry (after `wait` seconds if the server said) or not."""

    retry: bool
    what: str
    wait: float | None = None


@dataclass
class Provider:
    """Base of the providers: `engine` is the summary's `engine` value."""

    settings: Settings
    engine: str = ""
    label: str = ""
    model: str = ""
    notes: list[str] = field(default_factory=list)  # format downgrades and the like
    deadline: float = float("inf")  # time.monotonic() after which no request starts

    def ask(self, system: str, turns: Turns, schema: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def retrying(self, call: Callable[[], T], judge: Callable[[Exception], Verdict]) -> T:
        """`call()`, retried as the module docstring says; raises a ProviderError at the end."""
        attempts = self.settings.llm_attempts
        for attempt in range(1, attempts + 1):
            if time.monotonic() > self.deadline:
                raise Unavailable("no time left before the stage's deadline")
            try:
                return call()
            except Exception as exc:
                verdict = judge(exc)
                if not verdict.retry:
                    raise Rejected(verdict.what) from exc
                if attempt == attempts:
                    raise Unavailable(f"{verdict.what}, after {attempts} attempts") from exc
                wait = backoff(self.settings, attempt) if verdict.wait is None else verdict.wait
                if wait > self.settings.llm_retry_max_seconds:
                    raise Unavailable(
                        f"{verdict.what}; asked to wait {wait:g} s, more than "
                        f"SVP_LLM_RETRY_MAX_SECONDS={self.settings.llm_retry_max_seconds:g}"
                    ) from exc
                if time.monotonic() + wait > self.deadline:
                    raise Unavailable(f"{verdict.what}; no time left to retry") from exc
                log.warning(
                    "%s: %s; retry %d/%d in %.2f s",
                    self.label,
                    verdict.what,
                    attempt,
                    attempts - 1,
                    wait,
                )
                sleep(wait)
        raise AssertionError("unreachable")


def backoff(settings: Settings, attempt: int) -> float:
    """Exponential back-off with jitter, capped at SVP_LLM_RETRY_MAX_SECONDS."""
    base = settings.llm_retry_seconds * 2 ** (attempt - 1)
    return min(base * random.uniform(0.8, 1.2), settings.llm_retry_max_seconds)


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), or None."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(when.timestamp() - time.time(), 0.0) if when else None


def retry_delay(detail: str) -> float | None:
    """Seconds from a google.rpc.RetryInfo `retryDelay` such as "1.5s"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", detail or "")
    return float(match.group(1)) if match else None


def transport_errors() -> tuple[type[Exception], ...]:
    """Network errors (connect, read, timeouts) of httpx and of its fork httpx2."""
    found: list[type[Exception]] = []
    for module in ("httpx", "httpx2"):
        try:
            found.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def resolve(settings: Settings) -> str:
    """The provider's name: gemini, openai or extractive."""
    if settings.llm_provider:
        return settings.llm_provider
    if settings.gemini_api_key:
        return "gemini"
    if settings.llm_base_url or settings.llm_api_key:
        return "openai"
    return "extractive"


def choose(settings: Settings) -> tuple[Provider | None, str]:
    """(provider, "") or (None, why the summary is written without an LLM)."""
    try:
        return _choose(settings)
    except ImportError as exc:  # a deployment without the provider's SDK: still write a page
        return None, f"the {resolve(settings)} provider's SDK is not installed ({exc})"


def _choose(settings: Settings) -> tuple[Provider | None, str]:
    name = resolve(settings)
    if name == "gemini":
        if not settings.gemini_api_key:
            return None, "SVP_LLM_PROVIDER=gemini but GEMINI_API_KEY is not set"
        from svp.summary.gemini import GeminiProvider

        return GeminiProvider(settings), ""
    if name == "openai":
        from svp.summary.openai_compat import OpenAICompatProvider, api_key

        if not api_key(settings) and not settings.llm_base_url:
            return (
                None,
                "SVP_LLM_PROVIDER=openai but neither SVP_LLM_API_KEY nor OPENAI_API_KEY is set",
            )
        return OpenAICompatProvider(settings), ""
    if settings.llm_provider == "extractive":
        return None, "SVP_LLM_PROVIDER=extractive: filled from the post's own words"
    return None, (
        "no LLM configured (GEMINI_API_KEY, or SVP_LLM_BASE_URL / SVP_LLM_PROVIDER=openai): "
        "filled from the post's own words"
    )
