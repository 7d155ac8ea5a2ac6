"""Deliver queued messages to stage runners in this process, as Pub/Sub push would over HTTP.

The queue is svp.ports.PushQueue (the local queue); which work each stage runs comes from the
caller (svp.wiring), so this layer knows no stage.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

from svp.messages import BadMessage
from svp.ports import Pushed, PushQueue
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.envelope import parse_delivery
from svp.runtime.runner import Outcome, StageRunner, StageWork, StatusSink
from svp.topology import NOTION_FREE

log = logging.getLogger("svp.dispatch")


class Runners:
    """One StageRunner per stage, created on first delivery with the work `load(stage)` gives.
    `status` shows each job's status where its link lives, except from the stages that hold
    no Notion credentials (NOTION_FREE)."""

    def __init__(
        self,
        runtime: Runtime,
        load: Callable[[str], StageWork],
        status: StatusSink | None = None,
    ):
        self.runtime = runtime
        self.load = load
        self.status = status
        self._runners: dict[str, StageRunner] = {}
        self._lock = threading.Lock()

    def get(self, stage: str) -> StageRunner:
        with self._lock:
            if stage not in self._runners:
                status = None if stage in NOTION_FREE else self.status
                self._runners[stage] = StageRunner(stage, self.runtime, self.load(stage), status)
            return self._runners[stage]

    def deliver(self, stage: str, headers: dict[str, str], body: bytes) -> Outcome:
        """The path an HTTP push request takes too: parse, then run the stage."""
        try:
            delivery = parse_delivery(headers, body)
        except BadMessage as exc:
            log.error("bad message acked and dropped: %s", exc, extra={"labels": {"stage": stage}})
            return Outcome(True, f"bad message: {exc}")
        return self.get(stage).handle(delivery)


class Dispatcher:
    """Pulls due messages from the local queue and runs up to `concurrency` at a time."""

    def __init__(self, queue: PushQueue, runners: Runners, *, concurrency: int, lease: float):
        self.queue = queue
        self.runners = runners
        self.concurrency = concurrency
        # Deliveries in flight are re-leased every lease/3 s while this process lives.
        self.lease = lease
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="svp-stage")
        self._in_flight: dict[Future, Pushed] = {}
        self._extended_at = time.monotonic()

    def _deliver(self, message: Pushed) -> None:
        body = json.dumps(message.push_envelope()).encode()
        try:
            outcome = self.runners.deliver(message.subscription, {}, body)
        except Exception as exc:  # a bug or an outage in the runner itself: retry later
            log.exception("delivery to %s crashed", message.subscription)
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
        try:
            self._settle(message, outcome)
        except Exception:  # the lease runs out and the message is delivered again
            log.exception("could not settle a delivery to %s", message.subscription)

    def _settle(self, message: Pushed, outcome: Outcome) -> None:
        if outcome.dead_letter:
            self.queue.dead_letter(message, outcome.detail)
            job_id = message.attributes.get("job_id", "")
            if job_id:
                self.runners.get(message.subscription).dead_letter_stored(job_id)
        elif outcome.ack:
            self.queue.ack(message)
        elif self.queue.nack(message, outcome.detail):
            self._dead_lettered(message, outcome.detail)

    def _dead_lettered(self, message: Pushed, error: str) -> None:
        job_id = message.attributes.get("job_id", "")
        log.error(
            "message dead-lettered after %d deliveries: %s",
            message.attempts,
            error,
            extra={"labels": {"stage": message.subscription, "job_id": job_id}},
        )
        if job_id:
            runner = self.runners.get(message.subscription)
            runner.dead_lettered(job_id, message.attempts, error)

    def step(self) -> int:
        """Start deliveries for due messages while slots are free. Returns how many started."""
        self._in_flight = {f: m for f, m in self._in_flight.items() if not f.done()}
        if time.monotonic() - self._extended_at > self.lease / 3:
            self.queue.extend(list(self._in_flight.values()), self.lease)
            self._extended_at = time.monotonic()
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        leased = self.queue.lease(free, self.lease)
        for message in leased:
            self._in_flight[self._pool.submit(self._deliver, message)] = message
        return len(leased)

    def run(
        self,
        stop: threading.Event | None = None,
        until: Callable[[], bool] | None = None,
        idle_exit: bool = True,
    ) -> None:
        """Deliver until `stop` is set, `until()` is true, or (idle_exit) nothing is left. A
        failing step (the queue's database briefly unavailable) is logged and retried."""
        while not (stop and stop.is_set()):
            try:
                started = self.step()
                due_in = self.queue.next_due_in()
            except Exception:
                log.exception("could not read the local queue: retrying")
                started, due_in = 0, 0.5
            if until and until():
                break
            busy = any(not f.done() for f in self._in_flight)
            if idle_exit and due_in is None and not busy:
                break
            if not started:
                time.sleep(min(0.1 if busy else 0.5, due_in if due_in is not None else 0.5))
        self.wait()

    def wait(self) -> None:
        """Wait for the deliveries in flight, keeping their messages leased meanwhile."""
        while any(not f.done() for f in self._in_flight):
            self.queue.extend([m for f, m in self._in_flight.items() if not f.done()], self.lease)
            futures.wait(self._in_flight, timeout=self.lease / 3, return_when="ALL_COMPLETED")
        self._in_flight.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def run_until_settled(runtime: Runtime, dispatcher: Dispatcher) -> None:
    """Process everything queued, then whatever the reconciler moves on (jobs that waited for
    another job of the same video, stages a killed worker left), until no job moves. Stages
    whose lease keeps being renewed belong to live workers of other processes: not waited for."""
    from svp.runtime.reconciler import reconcile

    previous: dict[tuple[str, str], float] | None = None
    while True:
        dispatcher.run(idle_exit=True)
        if reconcile(runtime, dispatcher.runners.status).moved():
            continue
        leases = _running_leases(runtime)
        dying = [
            until for key, until in leases.items() if previous is None or previous.get(key) == until
        ]
        if not dying:
            return
        previous = leases
        time.sleep(min(max(min(dying) - time.time(), 0.0) + 0.1, 5.0))


def _running_leases(runtime: Runtime) -> dict[tuple[str, str], float]:
    """The lease of every running stage of an open job."""
    return {
        (job["job_id"], stage): record.get("lease_until", 0)
        for job in runtime.state.list(jobs.JOBS, where={"open": True})
        if not jobs.is_terminal(job)
        for stage, record in job["stages"].items()
        if record["state"] == "running"
    }
