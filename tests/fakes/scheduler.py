"""FakeScheduler: Cloud Scheduler's v1 REST API for jobs, as google-cloud-scheduler speaks it.

    with FakeScheduler(project="p", location="europe-west1") as fake:
        fake.add_job("svp-poller", schedule="* * * * *", on_run=lambda: (0, ""))
        client = scheduler_v1.CloudSchedulerClient(
            transport="rest", client_options={"api_endpoint": fake.base_url},
            credentials=AnonymousCredentials())

What it enforces, as the service documents:

* names `projects/<project>/locations/<location>/jobs/<id>`, a job id of letters, digits,
  `-` and `_` (at most 500): 400 INVALID_ARGUMENT otherwise; another project or location than
  the fake's has no jobs (404 NOT_FOUND), `denied` job ids are 403 PERMISSION_DENIED.
* `:pause` needs an ENABLED job and `:resume` a PAUSED one (400 FAILED_PRECONDITION).
* `:run` dispatches the job now (whatever its state: RunJob forces a run): `on_run()` is
  called and its `(code, message)` becomes the job's `status`, with `lastAttemptTime`.
* enums are answered as integers, as the client asks (`$alt=json;enum-encoding=int`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply, google_error

_ROUTE = re.compile(
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/jobs/(?P<job>[^/:]+)"
    r"(?::(?P<verb>run|pause|resume))?"
)
STATES = {"ENABLED": 1, "PAUSED": 2, "DISABLED": 3}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, rpc: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": rpc}})


@dataclass
class Job:
    job_id: str
    schedule: str = "* * * * *"
    time_zone: str = "Etc/UTC"
    state: str = "ENABLED"
    on_run: Callable[[], tuple[int, str]] = lambda: (0, "")
    runs: int = 0
    last_attempt: str | None = None
    status: tuple[int, str] = (0, "")
    updated: str = field(default_factory=_now)


class FakeScheduler(FakeServer):
    def __init__(self, project: str = "svp-test", location: str = "europe-west1") -> None:
        super().__init__()
        self.project = project
        self.location = location
        self.jobs: dict[str, Job] = {}
        self.denied: set[str] = set()

    def add_job(self, job_id: str, **fields: Any) -> Job:
        self.jobs[job_id] = Job(job_id, **fields)
        return self.jobs[job_id]

    def handle(self, request: RecordedRequest) -> Reply:
        match = _ROUTE.fullmatch(request.path)
        if not match:
            return google_error(404, f"Method not found: {request.method} {request.path}")
        job_id, verb = match["job"], match["verb"]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,500}", job_id):
            return _error(400, "INVALID_ARGUMENT", f"Invalid job id: {job_id!r}")
        if job_id in self.denied:
            return _error(
                403,
                "PERMISSION_DENIED",
                f'The principal lacks IAM permission "cloudscheduler.jobs.{verb or "get"}" for'
                " the resource (or the resource may not exist).",
            )
        job = self.jobs.get(job_id)
        if (match["project"], match["location"]) != (self.project, self.location) or not job:
            return _error(404, "NOT_FOUND", "Job not found.")
        if (request.method, verb) == ("GET", None):
            return Reply(200, self._json(job))
        if request.method != "POST" or verb is None:
            return google_error(404, f"Method not found: {request.method} {request.path}")
        if verb == "pause":
            if job.state != "ENABLED":
                return _error(400, "FAILED_PRECONDITION", "Job must be ENABLED to be paused.")
            job.state, job.updated = "PAUSED", _now()
        elif verb == "resume":
            if job.state != "PAUSED":
                return _error(400, "FAILED_PRECONDITION", "Job must be PAUSED to be resumed.")
            job.state, job.updated = "ENABLED", _now()
        else:
            job.runs += 1
            job.last_attempt = _now()
            job.status = job.on_run()
        return Reply(200, self._json(job))

    def _json(self, job: Job) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": f"projects/{self.project}/locations/{self.location}/jobs/{job.job_id}",
            "schedule": job.schedule,
            "timeZone": job.time_zone,
            "state": STATES[job.state],
            "userUpdateTime": job.updated,
            "attemptDeadline": "150s",
            "retryConfig": {"retryCount": 0},
            "httpTarget": {"uri": "https://poller.example.run.app", "httpMethod": 1},
        }
        if job.last_attempt:
            body["lastAttemptTime"] = job.last_attempt
            code, message = job.status
            body["status"] = {"code": code, "message": message} if code else {}
        return body
