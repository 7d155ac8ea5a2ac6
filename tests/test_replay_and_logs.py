"""Replaying Pub/Sub dead letters at the wire level, and the log lines Cloud Logging reads."""

from __future__ import annotations

import functools
import json
import uuid
from typing import ClassVar

import pytest

import svp.adapters.pubsub_bus as pubsub_bus
from svp.cli import main as svp
from svp.errors import PermanentError
from svp.messages import JobMessage
from svp.runtime.runner import StageRunner
from tests.fakes.pubsub import FakePubSub
from tests.pipeline_helpers import enqueue
from tests.test_runtime import push_body

DEAD_LETTER_ATTRIBUTES = {
    "CloudPubSubDeadLetterSourceDeliveryCount": "5",
    "CloudPubSubDeadLetterSourceSubscription": "svp-ocr-push",
    "CloudPubSubDeadLetterSourceSubscriptionProject": "proj",
    "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-11-26T10:00:00Z",
}


@pytest.fixture
def gcp_env(env, monkeypatch, pubsub_fake: FakePubSub):
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    monkeypatch.setenv("SVP_BACKEND", "gcp")
    monkeypatch.setenv("SVP_PROJECT", pubsub_fake.project)
    monkeypatch.setenv("SVP_BUCKET", "artifacts")
    monkeypatch.setenv("SVP_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_fake.host)
    pubsub_bus._clients.clear()  # the clients read PUBSUB_EMULATOR_HOST when created
    # What terraform/modules/stage creates for the ocr stage.
    pubsub_fake.add_subscription(f"{prefix}ocr-push", f"{prefix}media")
    pubsub_fake.add_subscription(f"{prefix}transcriber-push", f"{prefix}media")
    pubsub_fake.add_subscription(f"{prefix}ocr-dead-letter-sub", f"{prefix}ocr-dead-letter")
    yield prefix
    pubsub_bus._clients.clear()
    pubsub_fake.reset()  # failures a test injected and left unused must not reach the next


@pytest.fixture
def failing_ocr(gcp_env, pubsub_fake, firestore_emulator, monkeypatch):
    """A job whose ocr stage fails on its only run (SVP_MAX_ATTEMPTS=1), on the functions'
    Google Cloud runtime: yields (runtime, job id, the stage's push subscription)."""
    import time

    from svp import functions
    from svp.runtime import jobs
    from svp.wiring import runners

    prefix = gcp_env
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    monkeypatch.setenv("SVP_MAX_ATTEMPTS", "1")
    pubsub_fake.add_subscription(f"{prefix}ocr-dead-letter-push", f"{prefix}ocr-dead-letter")
    job_id = f"gcp-{uuid.uuid4().hex[:8]}"
    functions.reset()
    runtime = functions.runtime()
    link = {"url": f"https://www.tiktok.com/@chef/video/{job_id}", "tag": "cooking"}
    runtime.state.create(jobs.JOBS, job_id, jobs.new_job(job_id, link, {}, time.time()))

    def failing(ctx):
        raise TimeoutError("vision timed out")

    functions._runners = runners(runtime, {"ocr": failing})  # the stage's code, failing
    try:
        yield runtime, job_id, f"projects/p/subscriptions/{prefix}ocr-push"
    finally:
        functions.reset()


class PushRequest:
    """What functions-framework hands a handler for one Pub/Sub push."""

    path = "/"
    headers: ClassVar = {"Content-Type": "application/json"}

    def __init__(self, data: bytes, attributes: dict, subscription: str, **envelope):
        import base64

        self.body = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes,
                "messageId": envelope.pop("message_id", "m-1"),
            },
            "subscription": subscription,
            **envelope,
        }

    def get_data(self) -> bytes:
        return json.dumps(self.body).encode()


def dead_letter(fake: FakePubSub, prefix: str, job_id: str) -> None:
    message = JobMessage(job_id, "downloader", {"media": f"gs://artifacts/jobs/{job_id}/m.mp4"})
    attributes = {**message.attributes(), **DEAD_LETTER_ATTRIBUTES}
    fake.publish(f"{prefix}ocr-dead-letter", message.encode(), attributes)


def test_replay_on_gcp_republishes_dead_letters_then_acks_them(gcp_env, pubsub_fake, capsys):
    prefix = gcp_env
    dead_letter(pubsub_fake, prefix, "job-a")
    dead_letter(pubsub_fake, prefix, "job-b")

    assert svp(["replay", "--stage", "ocr", "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert "would replay ocr for job job-a (after 5 attempts)" in shown
    assert "2 message(s) would replay" in shown
    assert pubsub_fake.backlog(f"{prefix}ocr-dead-letter-sub") == 2  # released, not acked
    assert pubsub_fake.messages(f"{prefix}media") == []

    assert svp(["replay", "--stage", "ocr", "--job", "job-b"]) == 0
    assert "1 message(s) replayed" in capsys.readouterr().out
    (republished,) = pubsub_fake.messages(f"{prefix}media")
    assert republished.attributes["job_id"] == "job-b"
    assert republished.attributes["replays"] == "1"
    assert not set(DEAD_LETTER_ATTRIBUTES) & set(republished.attributes)
    assert JobMessage.decode(republished.data).replays == 1
    assert pubsub_fake.backlog(f"{prefix}ocr-dead-letter-sub") == 1  # job-a is still kept
    assert pubsub_fake.backlog(f"{prefix}ocr-push") == 1


def test_a_failed_publish_leaves_the_dead_letter_in_place(gcp_env, pubsub_fake, capsys):
    import grpc

    prefix = gcp_env
    dead_letter(pubsub_fake, prefix, "job-c")
    pubsub_fake.fail_next("Publish", grpc.StatusCode.PERMISSION_DENIED, times=5)
    assert svp(["replay", "--stage", "ocr"]) == 1
    error = capsys.readouterr().err
    assert "unreplayed messages stay dead-lettered" in error and "PERMISSION" in error.upper()
    assert pubsub_fake.backlog(f"{prefix}ocr-dead-letter-sub") == 1
    assert pubsub_fake.messages(f"{prefix}media") == []


def test_a_stage_logs_json_lines_with_labels_and_one_entry_per_error(runtime, capsys):
    from svp.log import setup_logging

    setup_logging()
    enqueue(runtime, "log-job", {"url": "https://www.tiktok.com/@chef/video/1"})
    body = push_body(JobMessage("log-job", "poller"), attempt=2)

    def failing(ctx):
        raise PermanentError("the video is private")

    from svp.runtime.envelope import parse_delivery

    StageRunner("downloader", runtime, failing).handle(parse_delivery({}, body))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (failure,) = [line for line in lines if line.get("event") == "job.failed"]
    assert failure["severity"] == "ERROR"
    assert failure["message"] == "job failed: the video is private"
    assert failure["logging.googleapis.com/labels"] == {
        "job_id": "log-job",
        "stage": "downloader",
        "attempt": "1",
        "delivery": "2",
        "url": "https://www.tiktok.com/@chef/video/1",
    }

    def crashing(ctx):
        raise RuntimeError("disk full")

    enqueue(runtime, "log-job-2", {"url": "https://youtu.be/x"})
    StageRunner("downloader", runtime, crashing).handle(
        parse_delivery({}, push_body(JobMessage("log-job-2", "poller"), attempt=1))
    )
    (retry,) = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "will retry" in line
    ]
    assert retry["severity"] == "WARNING"
    assert "Traceback" in retry["message"] and "RuntimeError: disk full" in retry["message"]


def test_the_trace_header_becomes_the_log_trace(env, capsys):
    from svp.log import log_context, setup_logging, trace_from_header

    setup_logging()
    import logging

    with log_context(trace=trace_from_header("abc123/1;o=1", "proj"), stage="writer"):
        logging.getLogger("svp.test").info("hello")
    entry = json.loads(capsys.readouterr().out)
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/abc123"
    assert entry["logging.googleapis.com/labels"] == {"stage": "writer"}


def test_a_stage_that_gives_up_on_gcp_dead_letters_the_message_for_replay(
    gcp_env, pubsub_fake, failing_ocr
):
    """After its last run, a stage fails the link and publishes the message to its own
    dead-letter topic, from which `svp replay` brings it back; then it acks."""
    from svp import functions
    from svp.runtime import jobs

    prefix = gcp_env
    runtime, job_id, subscription = failing_ocr
    message = JobMessage(job_id, "downloader", {"media": "gs://artifacts/m.mp4"})
    request = PushRequest(
        message.encode(), message.attributes(), subscription, message_id="m-9", deliveryAttempt=1
    )
    detail, code = functions.stage_handler("ocr")(request)
    failed = runtime.state.get(jobs.JOBS, job_id)
    assert code == 200 and "vision timed out" in detail  # acked: it is in the dead-letter store
    assert failed["status"] == "failed" and "gave up after 1 attempts" in failed["error"]
    (dead,) = pubsub_fake.messages(f"{prefix}ocr-dead-letter")
    assert (
        dead.attributes["job_id"] == job_id and "vision timed out" in dead.attributes["svp_error"]
    )

    assert svp(["replay", "--stage", "ocr", "--job", job_id]) == 0
    (republished,) = pubsub_fake.messages(f"{prefix}media")
    assert JobMessage.decode(republished.data).replays == 1


def test_a_dead_letter_the_stage_could_not_store_comes_back_until_it_is_stored(
    gcp_env, pubsub_fake, failing_ocr
):
    """The stage gave up, but publishing to its dead-letter topic failed: the delivery is
    answered 500, and the redelivery stores the dead letter instead of dropping it as a
    closed job's. The stored dead letter carries Pub/Sub's source attributes, so the handler
    behind the dead-letter push subscription knows its stage."""
    import grpc

    from svp import functions
    from svp.runtime import jobs

    prefix = gcp_env
    runtime, job_id, subscription = failing_ocr
    message = JobMessage(job_id, "downloader", {"media": "gs://artifacts/m.mp4"})
    Request = functools.partial(
        PushRequest, message.encode(), message.attributes(), subscription, message_id="m-10"
    )

    pubsub_fake.fail_next("Publish", grpc.StatusCode.PERMISSION_DENIED, times=1)
    detail, code = functions.stage_handler("ocr")(Request())
    assert code == 500 and "dead letter not stored" in detail
    assert pubsub_fake.messages(f"{prefix}ocr-dead-letter") == []
    detail, code = functions.stage_handler("ocr")(Request())  # Pub/Sub redelivers
    job = runtime.state.get(jobs.JOBS, job_id)
    (dead,) = pubsub_fake.messages(f"{prefix}ocr-dead-letter")
    detail_again, _ = functions.stage_handler("ocr")(Request())  # a duplicate: stored once
    handler_request = PushRequest(
        dead.data,
        dict(dead.attributes),
        f"projects/p/subscriptions/{prefix}ocr-dead-letter-push",
        message_id="d-1",
    )
    handled = functions.dead_letter_handler(
        runtime, handler_request.headers, handler_request.get_data()
    )
    assert code == 200 and detail == "dead letter owed"
    assert job["status"] == "failed" and "vision timed out" in job["error"]
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscription"] == subscription
    assert dead.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "1"
    assert "vision timed out" in dead.attributes["svp_error"]
    assert detail_again == "job closed"
    assert len(pubsub_fake.messages(f"{prefix}ocr-dead-letter")) == 1
    assert handled != "unknown subscription"  # the handler knows the stage; the job stays failed
