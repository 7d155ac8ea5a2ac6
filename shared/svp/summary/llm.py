"""The LLM provider interface: what a provider answers, how it fails, how it retries.

Retries are ours, not the SDKs' (google-genai's ignore Retry-After): 429, 5xx, timeouts and
connection errors are retried up to `SVP_LLM_ATTEMPTS` times in all, waiting what the server
asked for (Gemini's RetryInfo `retryDelay`, the `Retry-After` / `retry-after-ms` headers) or
else an exponential back-off from `SVP_LLM_RETRY_SECONDS` (svp.retrying). A requested wait
longer than `SVP_LLM_RETRY_MAX_SECONDS`, or one that would run past the stage's deadline, ends
the retries at once: the summarizer then falls back rather than hold the message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from svp import retrying
from svp.config import Settings
from svp.retrying import Verdict

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
    """A request the provider will not serve (bad key, bad request)."""


class ModelUnavailable(Rejected):
    """The configured model is not served (404: retired, misspelt): configuration to change,
    not an outage to fall back from. The message names the setting."""

    def __init__(self, model: str, setting: str, what: str):
        super().__init__(f"the model {model} is not available: set {setting} ({what})")
        self.model = model
        self.setting = setting


@dataclass
class Answer:
    text: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str = ""  # why the model stopped (STOP, MAX_TOKENS, SAFETY...), if said


@dataclass
class Provider:
    """Base of the providers: `engine` is the summary's `engine` value."""

    settings: Settings
    engine: str = ""
    label: str = ""
    model: str = ""
    notes: list[str] = field(default_factory=list)  # format downgrades and the like
    deadline: float = float("inf")  # time.monotonic() after which no request starts
    model_setting: str = ""  # the variable that names the model (for a 404's reason)

    def ask(self, system: str, turns: Turns, schema: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def retrying(self, call: Callable[[], T], judge: Callable[[Exception], Verdict]) -> T:
        """`call()`, retried as the module docstring says; raises a ProviderError at the end."""
        settings = self.settings
        try:
            return retrying.call(
                call,
                judge=judge,
                attempts=settings.llm_attempts,
                backoff=retrying.exponential(
                    settings.llm_retry_seconds, settings.llm_retry_max_seconds, jitter=0.2
                ),
                max_wait=settings.llm_retry_max_seconds,
                deadline=self.deadline,
                sleep=lambda seconds: self._wait(seconds),
            )
        except retrying.GaveUp as exc:
            if exc.ended == "refused" and exc.cause is not None and self.missing_model(exc.cause):
                raise ModelUnavailable(self.model, self.model_setting, exc.verdict.what) from (
                    exc.cause
                )
            raise _provider_error(exc, settings) from exc.cause

    def missing_model(self, exc: BaseException) -> bool:
        """Whether `exc` says the configured model does not exist (each provider knows how)."""
        return False

    def _wait(self, seconds: float) -> None:
        log.warning("%s: retry in %.2f s", self.label, seconds)
        sleep(seconds)


def _provider_error(exc: retrying.GaveUp, settings: Settings) -> ProviderError:
    what = exc.verdict.what
    if exc.ended == "refused":
        return Rejected(what)
    if exc.ended == "attempts":
        return Unavailable(f"{what}, after {exc.tried} attempts")
    if exc.ended == "too long":
        limit = settings.llm_retry_max_seconds
        return Unavailable(
            f"{what}; asked to wait {exc.verdict.wait:g} s, more than "
            f"SVP_LLM_RETRY_MAX_SECONDS={limit:g}"
        )
    if exc.cause is None:
        return Unavailable("no time left before the stage's deadline")
    return Unavailable(f"{what}; no time left to retry")


def transport_errors() -> tuple[type[Exception], ...]:
    """Network errors (connect, read, timeouts) of httpx and of its fork httpx2."""
    found: list[type[Exception]] = []
    for module in ("httpx", "httpx2"):
        try:
            found.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)
