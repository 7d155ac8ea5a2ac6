"""One way to retry a call to a remote service (Notion, an LLM), on tenacity.

The caller says how to read a failure (`judge` -> Verdict: retry or not, what happened, and
the wait the server asked for, if any), the back-off otherwise, the longest wait it accepts,
and the time after which no attempt may start (a stage's deadline). `before` runs before each
attempt (a rate limiter's slot). A call that cannot succeed raises GaveUp with why.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """How to treat a failure: retry (after `wait` seconds if the server said) or not."""

    retry: bool
    what: str
    wait: float | None = None


class GaveUp(Exception):
    """The call failed for good. `verdict` judged its last failure (`cause`, None when no
    attempt started); `ended` says what ended the retries: "refused" (not retryable),
    "attempts" (all used), "too long" (the server asked to wait more than allowed) or
    "deadline" (no time left); `tried` attempts were made."""

    def __init__(self, verdict: Verdict, cause: BaseException | None, ended: str, tried: int):
        super().__init__(f"{verdict.what} ({ended})")
        self.verdict = verdict
        self.cause = cause
        self.ended = ended
        self.tried = tried


def exponential(first: float, cap: float, jitter: float = 0.0) -> Callable[[int], float]:
    """first, 2 x first, 4 x first ... (never above `cap`), each off by up to +-`jitter`."""

    def wait(attempt: int) -> float:
        spread = random.uniform(1 - jitter, 1 + jitter) if jitter else 1.0
        return min(first * 2 ** (attempt - 1) * spread, cap)

    return wait


def call(
    attempt: Callable[[], T],
    *,
    judge: Callable[[BaseException], Verdict],
    attempts: int,
    backoff: Callable[[int], float],
    max_wait: float = math.inf,
    deadline: float = math.inf,
    before: Callable[[], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt()`, retried as the module docstring says. `deadline`: time.monotonic()."""
    if time.monotonic() > deadline:
        raise GaveUp(Verdict(True, "no attempt started"), None, "deadline", 0)
    verdicts: dict[int, Verdict] = {}

    def retryable(exc: BaseException) -> bool:
        verdict = verdicts.setdefault(id(exc), judge(exc))
        return verdict.retry

    def wait(state: RetryCallState) -> float:
        asked = _verdict(state, verdicts).wait
        return backoff(state.attempt_number) if asked is None else asked

    def stop(state: RetryCallState) -> bool:
        late = time.monotonic() + (state.upcoming_sleep or 0) > deadline
        return state.attempt_number >= attempts or state.upcoming_sleep > max_wait or late

    retrying = Retrying(
        retry=retry_if_exception(retryable),
        wait=wait,
        stop=stop,
        before=(lambda state: before()) if before else None,
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Exception as exc:
        verdict = verdicts.get(id(exc)) or judge(exc)
        tried = retrying.statistics.get("attempt_number", 1)
        if not verdict.retry:
            ended = "refused"
        elif tried >= attempts:
            ended = "attempts"
        elif (verdict.wait or 0.0) > max_wait:
            ended = "too long"
        else:
            ended = "deadline"
        raise GaveUp(verdict, exc, ended, tried) from exc


def _verdict(state: RetryCallState, verdicts: dict[int, Verdict]) -> Verdict:
    exc = state.outcome.exception() if state.outcome else None
    return verdicts.get(id(exc), Verdict(True, ""))


def retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), or None."""
    if headers is None or not hasattr(headers, "get"):
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
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(when.timestamp() - time.time(), 0.0)


def retry_delay(detail: str) -> float | None:
    """Seconds from a google.rpc.RetryInfo `retryDelay` such as "1.5s"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", detail or "")
    return float(match.group(1)) if match else None
