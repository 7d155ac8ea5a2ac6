"""The delivery guarantees: idempotent redelivery, resume after a crash, dead letters, leases."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter

import pytest

from svp.errors import PermanentError
from svp.messages import BadMessage, JobMessage
from svp.runtime import jobs
from svp.runtime.envelope import parse_delivery
from svp.runtime.runner import StageContext, StageRunner
from tests.pipeline_helpers import drain, enqueue, job

STAGES = ("downloader", "transcriber", "ocr", "summarizer", "writer")


def counting_works(calls: Counter, fail: dict | None = None) -> dict:
    """Stand-in stage work that counts runs and writes one artifact each (pages for the writer)."""
    fail = fail or {}

    def make(stage: str):
        def work(ctx: StageContext) -> dict:
            calls[stage] += 1
            if stage in fail:
                raise fail[stage]
            uri = ctx.save(f"{stage}.txt", f"{stage} of {ctx.job_id}".encode())
            return {"artifacts": {stage: uri}}

        return work

    return {stage: make(stage) for stage in STAGES}


def push_body(message: JobMessage, attempt: int | None = 1) -> bytes:
    envelope = {
        "message": {
            "data": base64.b64encode(message.encode()).decode(),
            "attributes": message.attributes(),
            "messageId": "m-1",
            "publishTime": "2026-11-26T10:00:00Z",
        },
        "subscription": "projects/p/subscriptions/svp-downloader",
    }
    if attempt is not None:
        envelope["deliveryAttempt"] = attempt
    return json.dumps(envelope).encode()


# -- the message contract and the envelopes ----------------------------------------------------
def test_message_round_trip_and_idempotency_key():
    message = JobMessage("job1", "downloader", {"media": "gs://b/jobs/job1/downloader/m.mp4"})
    assert JobMessage.decode(message.encode()) == message
    assert message.attributes()["idempotency_key"] == "job1:downloader"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not json", "not JSON"),
        (b'{"v": 99, "job_id": "j", "source": "poller"}', "unsupported message version 99"),
        (b'{"v": 1, "source": "poller"}', "job_id"),
    ],
)
def test_bad_messages_say_what_is_wrong(data, error):
    with pytest.raises(BadMessage, match=error):
        JobMessage.decode(data)


def test_raw_push_envelope_keeps_delivery_attempt():
    message = JobMessage("job1", "poller")
    delivery = parse_delivery({"Content-Type": "application/json"}, push_body(message, 4))
    assert (delivery.message, delivery.attempt, delivery.message_id) == (message, 4, "m-1")


def test_binary_and_structured_cloudevents_are_understood():
    message = JobMessage("job1", "poller")
    envelope = json.loads(push_body(message, None))
    binary = parse_delivery(
        {
            "ce-id": "e-1",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-specversion": "1.0",
            "ce-source": "//pubsub",
            "Content-Type": "application/json",
        },
        json.dumps(envelope).encode(),
    )
    structured = parse_delivery(
        {"Content-Type": "application/cloudevents+json"},
        json.dumps({"specversion": "1.0", "id": "e-2", "type": "x", "data": envelope}).encode(),
    )
    assert binary.message == structured.message == message
    assert binary.attempt is None


def test_an_envelope_without_a_message_is_rejected():
    with pytest.raises(BadMessage, match="'message' object"):
        parse_delivery({}, b'{"hello": "world"}')


# -- the pipeline's guarantees ---------------------------------------------------------------
def test_a_job_runs_every_stage_once_and_joins_before_the_summary(runtime):
    calls: Counter = Counter()
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    drain(runtime, counting_works(calls))
    assert calls == Counter({stage: 1 for stage in STAGES})
    finished = job(runtime, "j1")
    assert finished["status"] == "done"
    assert all(finished["stages"][s]["state"] == "done" for s in STAGES)


def test_the_same_message_delivered_twice_yields_one_page(runtime):
    calls: Counter = Counter()
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    runtime.publish_from("poller", JobMessage("j1", "poller"))  # a duplicate delivery
    drain(runtime, counting_works(calls))
    assert calls["writer"] == 1
    assert calls["downloader"] == 1
    assert job(runtime, "j1")["status"] == "done"


def test_a_crash_between_stages_resumes_where_it_stopped(runtime):
    """The downloader commits, then the process dies before publishing: redelivery goes on."""
    calls: Counter = Counter()
    real_publish = runtime.bus.publish
    crashed = []

    def publish_then_crash(topic, data, attributes):
        if topic.endswith("media") and not crashed:
            crashed.append(topic)
            raise ConnectionError("process died before publishing")
        return real_publish(topic, data, attributes)

    runtime.bus.publish = publish_then_crash
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    drain(runtime, counting_works(calls))
    assert crashed
    assert calls["downloader"] == 1  # not redone: the redelivery re-published its output
    assert job(runtime, "j1")["status"] == "done"


def test_an_expired_lease_is_taken_over(runtime):
    """A worker died mid-stage: once its lease runs out, another worker runs the stage."""
    calls: Counter = Counter()
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    runtime.state.update(
        jobs.JOBS,
        "j1",
        lambda d: jobs.claim(
            d,
            "downloader",
            now=time.time() - 100,
            token="dead",
            lease=10,
            deadline=600,
            worker="dead-worker",
        ),
    )
    drain(runtime, counting_works(calls))
    finished = job(runtime, "j1")
    assert finished["status"] == "done"
    assert finished["stages"]["downloader"]["attempts"] == 2


def test_a_permanent_error_fails_the_job_once_without_retry(runtime):
    calls: Counter = Counter()
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    drain(runtime, counting_works(calls, {"downloader": PermanentError("the video is private")}))
    failed = job(runtime, "j1")
    assert calls["downloader"] == 1
    assert (failed["status"], failed["error"]) == ("failed", "the video is private")
    assert runtime.bus.dead_letters() == []
    assert calls["transcriber"] == 0


def test_an_always_failing_message_is_dead_lettered_and_replay_brings_it_back(runtime):
    calls: Counter = Counter()
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    drain(runtime, counting_works(calls, {"ocr": TimeoutError("vision timed out")}))

    assert calls["ocr"] == 3  # SVP_MAX_ATTEMPTS
    failed = job(runtime, "j1")
    assert failed["status"] == "failed"
    assert "gave up after 3 attempts" in failed["error"]
    assert "vision timed out" in failed["error"]
    (dead,) = runtime.bus.dead_letters()
    assert (dead.subscription, dead.attempts) == ("ocr", 3)
    assert "vision timed out" in dead.last_error

    # Dry run first: nothing moves.
    assert [r.job_id for r in runtime.dead_letters.replay(dry_run=True)] == ["j1"]
    assert len(runtime.bus.dead_letters()) == 1

    # The outage is over: replay, and the job finishes.
    replayed = runtime.dead_letters.replay(job_id="j1")
    assert [(r.job_id, r.stage) for r in replayed] == [("j1", "ocr")]
    drain(runtime, counting_works(calls))
    assert job(runtime, "j1")["status"] == "done"
    assert runtime.bus.dead_letters() == []
    assert calls["summarizer"] == 1 and calls["writer"] == 1


def test_two_workers_never_run_the_same_stage_of_a_job_at_once(runtime):
    """Concurrent deliveries of one message: the SQLite store's lock lets one claim win."""
    enqueue(runtime, "j1", {"url": "http://127.0.0.1/x"})
    running, peak, lock = [0], [0], threading.Lock()

    def slow_work(ctx: StageContext) -> dict:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return {}

    runners = [StageRunner("downloader", runtime, slow_work) for _ in range(4)]
    body = push_body(JobMessage("j1", "poller"))
    outcomes = []

    def deliver(runner: StageRunner) -> None:
        outcomes.append(runner.handle(parse_delivery({}, body)))

    threads = [threading.Thread(target=deliver, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 1
    details = sorted(o.detail for o in outcomes)
    assert details.count("done") == 1
    # The losers either saw the lease (retry later) or, arriving after, the finished stage.
    assert set(details) <= {"done", "stage busy", "already done"}
    assert job(runtime, "j1")["stages"]["downloader"]["attempts"] == 1
