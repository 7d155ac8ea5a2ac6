"""`svp cloud status`: each function's state (Cloud Functions v2 API over REST), the poller's
Scheduler job and its last run, and the jobs in flight, failed and dead-lettered (Firestore and
the dead-letter subscriptions)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from svp.cloud.target import Target
from svp.config import Settings

FUNCTIONS = ("poller", "webhook", "api", "downloader", "transcriber", "ocr", "summarizer", "writer")
JOBS_LOOKED_AT = 1000


def functions_state(session: Any, base: str, target: Target) -> dict[str, str]:
    """Function name -> its state (ACTIVE, DEPLOYING, FAILED, ... or `missing`)."""
    parent = f"projects/{target.project}/locations/{target.region}"
    found: dict[str, str] = {}
    token = ""
    while True:
        params = {"pageSize": "100", **({"pageToken": token} if token else {})}
        response = session.get(f"{base}/v2/{parent}/functions", params=params, timeout=60)
        if response.status_code != 200:
            raise StatusUnavailable(f"Cloud Functions answered HTTP {response.status_code}")
        answer = response.json()
        for function in answer.get("functions") or []:
            name = function["name"].rsplit("/", 1)[-1]
            state = function.get("state", "STATE_UNSPECIFIED")
            messages = [m.get("message", "") for m in function.get("stateMessages") or []]
            found[name] = state + (
                f" ({'; '.join(m for m in messages if m)})" if any(messages) else ""
            )
        token = answer.get("nextPageToken") or ""
        if not token:
            break
    return {name: found.get(target.function_name(name), "missing") for name in FUNCTIONS}


class StatusUnavailable(Exception):
    pass


def cloud_settings(settings: Settings, target: Target) -> Settings:
    return replace(
        settings,
        backend="gcp",
        project=target.project,
        bucket=target.bucket or settings.bucket,
        topic_prefix=target.prefix,
        firestore_database=target.database,
    )


def job_counts(runtime: Any) -> dict[str, int]:
    """Jobs in flight, failed, and failed because their message was dead-lettered."""
    from svp.runtime import jobs

    open_jobs = runtime.state.list(jobs.JOBS, where={"open": True}, limit=JOBS_LOOKED_AT)
    failed = runtime.state.list(jobs.JOBS, where={"status": "failed"}, limit=JOBS_LOOKED_AT)
    return {
        "in_flight": sum(1 for j in open_jobs if not jobs.is_terminal(j)),
        "failed": len(failed),
        "failed_dead_lettered": sum(1 for j in failed if "svp replay" in (j.get("error") or "")),
    }


def dead_letters_waiting(runtime: Any) -> dict[str, int]:
    """Per stage, the messages waiting in its dead-letter subscription (a dry-run replay:
    pulled and released, which costs nothing on a subscription without a dead-letter policy)."""
    from svp.topology import PIPELINE

    waiting = runtime.dead_letters.replay(dry_run=True)
    return {stage: sum(1 for r in waiting if r.stage == stage) for stage in PIPELINE}


def unset_secrets(store: Any) -> dict[str, list[str]]:
    """Function name -> the secret ids it may read that hold no value (svp.secrets)."""
    from svp.secrets import FUNCTION_SECRETS, SECRET_NAMES

    keys = {SECRET_NAMES[s] for needs in FUNCTION_SECRETS.values() for s in needs}
    unset = {key for key in keys if not store.current(key).is_set}
    return {
        name: sorted(
            store.target.secret_id(SECRET_NAMES[s]) for s in needs if SECRET_NAMES[s] in unset
        )
        for name, needs in FUNCTION_SECRETS.items()
    }
