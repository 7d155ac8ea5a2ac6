"""`svp cloud poll`, `pause`, `resume`: the poller's Cloud Scheduler job, through its API."""

from __future__ import annotations

from typing import Any

from svp.cloud.target import Target
from svp.secrets import rpc_status


class SchedulerError(Exception):
    pass


def _call(target: Target, method: str, client: Any) -> Any:
    from google.api_core import exceptions

    try:
        return getattr(client, method)(request={"name": target.scheduler_job}, timeout=30)
    except exceptions.GoogleAPICallError as exc:
        status = rpc_status(exc)
        if status == "NOT_FOUND":
            raise SchedulerError(
                f"no scheduler job {target.scheduler_job}: run `terraform apply` first"
            ) from None
        if status == "FAILED_PRECONDITION":
            already = {"pause_job": "paused", "resume_job": "running"}.get(method, "in that state")
            raise SchedulerError(f"polling is already {already}") from None
        if status in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            raise SchedulerError(
                f"no access to {target.scheduler_job}: sign in as someone who may run"
                " Scheduler jobs (`gcloud auth application-default login`;"
                " roles/cloudscheduler.admin)"
            ) from None
        raise SchedulerError(f"Cloud Scheduler refused: {exc}") from None


def poll_now(target: Target, client: Any) -> str:
    job = _call(target, "run_job", client)
    return f"poll started ({job.name.rsplit('/', 1)[-1]}): new links are queued within seconds"


def pause(target: Target, client: Any) -> str:
    _call(target, "pause_job", client)
    return (
        "polling paused: new links wait in Notion (links already queued are processed);"
        " `svp cloud resume` restarts it"
    )


def resume(target: Target, client: Any) -> str:
    job = _call(target, "resume_job", client)
    return f"polling resumed ({job.schedule or 'its schedule'})"


def describe(target: Target, client: Any) -> dict[str, str]:
    """The job's state and its last run, for `svp cloud status`."""
    job = _call(target, "get_job", client)
    state = type(job).State(job.state).name
    last = job.last_attempt_time.isoformat() if job.last_attempt_time else "never"
    outcome = ""
    if job.last_attempt_time:
        code = job.status.code if job.status else 0
        outcome = "ok" if code == 0 else f"failed ({job.status.message or f'code {code}'})"
    return {"state": state, "schedule": job.schedule, "last_poll": last, "outcome": outcome}
