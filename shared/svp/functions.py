"""Cloud Functions entry points: each functions/<stage>/main.py wraps one of these.

The runtime is built once per instance, on the first request, and reused while warm; it is
built again when a secret changed in Secret Manager (svp.secrets, read at most every minute).
A function whose secrets are not set yet answers GET with what is missing and holds its work
back (`not_configured`). The functions that start children (yt-dlp, gallery-dl, ffmpeg,
ffprobe) also answer GET with how this instance confines them (`children`: who they run as,
seccomp, Landlock, the subreaper, what is missing): what the Cloud Run execution environment
really gives, read where it runs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from svp.config import load_settings
from svp.log import log_context, setup_logging, trace_from_header
from svp.runtime.context import Runtime
from svp.secrets import HINT, LiveSettings, live_settings
from svp.wiring import build_runtime, runners

STARTS_CHILDREN = ("downloader", "transcriber", "ocr")
_lock = threading.Lock()
_runtime: Runtime | None = None
_runners: Any = None
_api_app: Any = None
_live: LiveSettings | None = None
log = logging.getLogger("svp.functions")


def _live_settings() -> LiveSettings:
    global _live
    with _lock:
        if _live is None:
            setup_logging()
            _live = live_settings(load_settings())
        return _live


def runtime() -> Runtime:
    global _runtime, _runners, _api_app
    settings = _live_settings().current()
    with _lock:
        if _runtime is None or _runtime.settings is not settings:
            _runtime = build_runtime(settings)  # first request, or a secret changed
            _runners = _api_app = None
        return _runtime


def reset() -> None:
    """Forget the instance's runtime (tests switch configuration between cases)."""
    global _runtime, _runners, _api_app, _live
    with _lock:
        _runtime = _runners = _api_app = _live = None


def not_configured(request: Any, function: str, status: int = 503) -> Any:
    """None when this function's secrets are all set; else the answer to give instead.

    GET (the health check) answers what is missing: 200 once configured, else 503. Any other
    request while a secret is missing is logged in one line and answered `status`: 503 for a
    Pub/Sub push, which redelivers it with the subscription's back-off (up to 600 s; the
    links stay pending in Notion until the poller is configured, so in the runbook's order
    no message reaches a stage before its secrets exist: terraform/README.md).
    """
    missing = _live_settings().missing()
    if getattr(request, "method", "POST") == "GET" and function != "api":  # api: its own /health
        answer: dict[str, Any] = {
            "function": function,
            "status": "not configured" if missing else "ok",
        }
        if missing:
            answer |= {"missing": missing, "hint": HINT}
        if function in STARTS_CHILDREN:
            answer["children"] = _children()
        return json.dumps(answer), (503 if missing else 200), {"Content-Type": "application/json"}
    if not missing:
        return None
    log.error("not configured: %s (missing %s)", HINT, ", ".join(missing))
    body = {"function": function, "status": "not configured", "missing": missing, "hint": HINT}
    return json.dumps(body), status, {"Content-Type": "application/json"}


def _children() -> dict[str, Any]:
    from svp.media.sandbox import isolation_report

    report = isolation_report(_live_settings().base)  # who and what: no secret needed
    return {"degraded": bool(report["missing"]), **report}


def _stage_runners():
    global _runners
    rt = runtime()
    with _lock:
        if _runners is None:
            _runners = runners(rt)
        return _runners


def stage_handler(stage: str) -> Callable[[Any], tuple[str, int]]:
    """An HTTP handler for Pub/Sub push requests and CloudEvents addressed to `stage`.

    2xx acks the message; 500 makes Pub/Sub redeliver it with backoff. A message the stage
    gave up on is published to the stage's dead-letter topic (where `svp replay` finds it)
    before it is acked.
    """

    def handle(request: Any) -> Any:
        if (refused := not_configured(request, stage)) is not None:
            return refused
        runners = _stage_runners()
        trace = trace_from_header(
            request.headers.get("X-Cloud-Trace-Context"), runners.runtime.settings.project
        )
        body = request.get_data()
        with log_context(trace=trace, stage=stage):
            outcome = runners.deliver(stage, dict(request.headers), body)
            if outcome.dead_letter:
                try:
                    job_id = _dead_letter(runners.runtime, stage, dict(request.headers), body)
                except Exception as exc:  # noqa: BLE001 - redelivered: the job still owes it
                    log.warning("could not store the dead letter, it comes back: %s", exc)
                    return f"dead letter not stored: {exc}", 500
                runners.get(stage).dead_letter_stored(job_id)
        return (outcome.detail, 200) if outcome.ack else (outcome.detail, 500)

    return handle


def _dead_letter(rt: Runtime, stage: str, headers: dict, body: bytes) -> str:
    """Publish a delivered message to `stage`'s dead-letter topic with the attributes Pub/Sub's
    own dead-lettering adds (the handler and `svp replay` read them) and the job's last error.
    Returns the message's job id."""
    from svp.runtime import jobs
    from svp.runtime.envelope import parse_delivery, raw_message
    from svp.topology import dead_letter_topic, push_subscription

    data, attributes = raw_message(headers, body)
    delivery = parse_delivery(headers, body)
    job_id = delivery.message.job_id
    job = rt.state.get(jobs.JOBS, job_id) or {}
    record = (job.get("stages") or {}).get(stage) or {}
    source = delivery.subscription or (
        f"projects/{rt.settings.project}/subscriptions/"
        f"{push_subscription(rt.settings.topic_prefix, stage)}"
    )
    rt.bus.publish(
        dead_letter_topic(rt.settings.topic_prefix, stage),
        data,
        {
            **attributes,
            "CloudPubSubDeadLetterSourceSubscription": source,
            "CloudPubSubDeadLetterSourceDeliveryCount": str(
                delivery.attempt or record.get("attempts") or 1
            ),
            "svp_error": str(job.get("error") or record.get("error") or "")[:1000],
        },
    )
    return job_id


def poller_handler(request: Any) -> tuple[str, int, dict[str, str]]:
    """Called by Cloud Scheduler: one poll of every registered Link Database. Pub/Sub pushes
    each stage's dead letters to its /dead-letter path (they fail their jobs)."""
    from svp.stages.poller import poll

    # Not configured: the poll fails (Cloud Scheduler shows it) and the links stay pending.
    if (refused := not_configured(request, "poller")) is not None:
        return refused
    rt = runtime()
    trace = trace_from_header(request.headers.get("X-Cloud-Trace-Context"), rt.settings.project)
    if request.path.rstrip("/").endswith("/dead-letter"):
        with log_context(trace=trace, stage="dead-letter"):
            detail = dead_letter_handler(rt, dict(request.headers), request.get_data())
        return json.dumps({"status": detail}), 200, {"Content-Type": "application/json"}
    with log_context(trace=trace, stage="poller"):
        report = poll(rt, _stage_runners().status)
    return json.dumps(report.as_dict()), 200, {"Content-Type": "application/json"}


def dead_letter_handler(rt: Runtime, headers: dict[str, str], body: bytes) -> str:
    """A message Pub/Sub dead-lettered (or a stage gave up on): its job fails with the last
    error and the replay command, whether or not the stage's code ever ran."""
    from svp.messages import BadMessage
    from svp.runtime.envelope import parse_delivery
    from svp.topology import stage_of_subscription

    try:
        delivery = parse_delivery(headers, body)
    except BadMessage as exc:
        log.error("unreadable dead letter dropped: %s", exc)
        return f"bad message: {exc}"
    attributes = delivery.attributes
    source = attributes.get("CloudPubSubDeadLetterSourceSubscription", "")
    stage = stage_of_subscription(rt.settings.topic_prefix, source)
    if stage is None:
        log.error("dead letter from an unknown subscription %r dropped", source)
        return "unknown subscription"
    deliveries = int(attributes.get("CloudPubSubDeadLetterSourceDeliveryCount") or 0)
    runners = _stage_runners()
    job_id = delivery.message.job_id
    action = runners.get(stage).dead_lettered(job_id, deliveries, attributes.get("svp_error", ""))
    if action == "failed" and runners.status is not None:
        runners.status.sync(job_id)  # this function holds Notion credentials; the stage may not
    return action


def webhook_handler(request: Any) -> tuple[str, int, dict[str, str]]:
    """Notion's integration webhooks (public endpoint; every event is signature-checked)."""
    from svp.stages.webhook import handle

    # Without its secrets the webhook still keeps Notion's verification token as pending
    # (`svp webhook-token` lists it); every event is refused until NOTION_WEBHOOK_TOKEN is set.
    if getattr(request, "method", "POST") == "GET":
        return not_configured(request, "webhook")
    if missing := _live_settings().missing():
        log.error("not configured: %s (missing %s)", HINT, ", ".join(missing))
    rt = runtime()
    with log_context(stage="webhook"):
        reply = handle(rt, dict(request.headers), request.get_data())
    return json.dumps(reply.body), reply.status, {"Content-Type": "application/json"}


def api_handler(request: Any) -> Any:
    """The API and status page (public): the Flask app `svp serve` runs, called as WSGI."""
    global _api_app
    if (refused := not_configured(request, "api")) is not None:
        return refused
    rt = runtime()
    with _lock:
        if _api_app is None:
            from svp.api import create_app

            _api_app = create_app(rt)
        app = _api_app
    from werkzeug.wrappers import Response

    trace = trace_from_header(request.headers.get("X-Cloud-Trace-Context"), rt.settings.project)
    with log_context(trace=trace, stage="api"):
        return Response.from_app(app, request.environ, buffered=True)
