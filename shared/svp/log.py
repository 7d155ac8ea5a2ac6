"""Structured logs: one JSON object per stdout line, in the shape Cloud Logging understands.

Fields passed with `extra={"labels": {...}, ...}` land in `logging.googleapis.com/labels`
(job_id, stage, attempt, url) and the rest of `extra` in the JSON payload.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_labels: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "labels", default=MappingProxyType({})
)
_trace: contextvars.ContextVar[str] = contextvars.ContextVar("trace", default="")

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextmanager
def log_context(trace: str = "", **labels: Any) -> Iterator[None]:
    """Labels (and a trace id) attached to every log line written inside the block."""
    merged = {**_labels.get(), **{k: str(v) for k, v in labels.items() if v is not None}}
    label_token = _labels.set(merged)
    trace_token = _trace.set(trace or _trace.get())
    try:
        yield
    finally:
        _labels.reset(label_token)
        _trace.reset(trace_token)


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        if record.exc_info:
            # One entry holding the traceback, so Error Reporting groups it.
            entry["message"] += "\n" + "".join(traceback.format_exception(*record.exc_info))
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        labels = {**_labels.get(), **entry.pop("labels", {})}
        if labels:
            entry["logging.googleapis.com/labels"] = {k: str(v) for k, v in labels.items()}
        if trace := _trace.get():
            entry["logging.googleapis.com/trace"] = trace
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StandardStreamHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout or sys.stderr is at the time of each record."""

    def __init__(self, name: str):
        super().__init__()
        self.name_of_stream = name

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return getattr(sys, self.name_of_stream)

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it
        pass


def setup_logging(level: int = logging.INFO, stream: str = "stdout") -> None:
    """Route the root logger to stdout (or stderr) as JSON lines, at INFO: Python's default
    level is WARNING."""
    handler = _StandardStreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "httpcore", "faster_whisper", "google", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class HumanFormatter(logging.Formatter):
    """`svp: message`, one line, no traceback: the command line's stderr without -v. A failed
    job says which and why, in plain words (svp.reasons)."""

    def format(self, record: logging.LogRecord) -> str:
        from svp.reasons import plain

        labels = _labels.get()
        reason = getattr(record, "reason", None)
        if getattr(record, "event", None) == "job.failed" and reason:
            stage = f" in {labels['stage']}" if labels.get("stage") else ""
            said = plain(str(reason), labels.get("url", ""))
            return f"svp: job {labels.get('job_id', '')} failed{stage}: {said}"
        message = record.getMessage()
        return f"svp: {message.splitlines()[0] if message else record.levelname.lower()}"


class _OncePerFailure(logging.Filter):
    """The runner logs a job's failure twice (why it gave up, then the failure): say it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "svp.runner" or getattr(record, "event", None) == "job.failed"


def setup_human_logging(level: int = logging.ERROR) -> None:
    """Without -v: records at `level` and above as one plain line each on stderr (the JSON
    lines are for -v and for Cloud Logging)."""
    handler = _StandardStreamHandler("stderr")
    handler.setFormatter(HumanFormatter())
    handler.addFilter(_OncePerFailure())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def trace_from_header(header: str | None, project: str) -> str:
    """`X-Cloud-Trace-Context: TRACE/SPAN;o=1` -> `projects/P/traces/TRACE`."""
    if not header or not project:
        return ""
    trace_id = header.split("/", 1)[0]
    return f"projects/{project}/traces/{trace_id}" if trace_id else ""
