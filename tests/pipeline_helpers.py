"""Driving the local pipeline from tests: enqueue a job, deliver until idle."""

from __future__ import annotations

import time
from typing import Any

from svp.messages import JobMessage
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.dispatch import Dispatcher
from svp.runtime.runner import StageWork
from svp.wiring import dispatcher as local_dispatcher


def enqueue(runtime: Runtime, job_id: str, link: dict[str, Any], target: dict | None = None):
    target = target or {"tag": "cooking", "schema": {"name": {"name": "name", "type": "title"}}}
    runtime.state.create(jobs.JOBS, job_id, jobs.new_job(job_id, link, target, time.time()))
    runtime.publish_from("poller", JobMessage(job_id, "poller"))


def drain(runtime: Runtime, works: dict[str, StageWork] | None = None) -> Dispatcher:
    """Deliver every queued message (retries included) until the queue is empty; each job's
    status goes to Notion as in production."""
    dispatcher = local_dispatcher(runtime, works, concurrency=5)
    dispatcher.run(idle_exit=True)
    dispatcher.close()
    return dispatcher


def job(runtime: Runtime, job_id: str) -> dict[str, Any]:
    found = runtime.state.get(jobs.JOBS, job_id)
    assert found is not None, f"job {job_id} is missing"
    return found
