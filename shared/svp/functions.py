"""Cloud Functions entry points: each functions/<stage>/main.py wraps one of these.

The runtime is built once per instance, on the first request, and reused while warm.
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
from svp.wiring import build_runtime, runners

_lock = threading.Lock()
_runtime: Runtime | None = None
_runners: Any = None
_api_app: Any = None
log = logging.getLogger("svp.functions")


def runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            setup_logging()
            _runtime = build_runtime(load_settings())
        return _runtime


def reset() -> None:
    """Forget the instance's runtime (tests switch configuration between cases)."""
    global _runtime, _runners, _api_app
    with _lock:
        _runtime = _runners = _api_app = None


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

    def handle(request: Any) -> tuple[str, int]:
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

    rt = runtime()
    with log_context(stage="webhook"):
        reply = handle(rt, dict(request.headers), request.get_data())
    return json.dumps(reply.body), reply.status, {"Content-Type": "application/json"}


def api_handler(request: Any) -> Any:
    """The API and status page (public): the Flask app `svp serve` runs, called as WSGI."""
    global _api_app
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
