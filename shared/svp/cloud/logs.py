"""`svp cloud logs`: a job's or a function's recent log lines, oldest first, through Cloud
Logging's API (entries:list over REST with google-auth: no client library needed); where the
API is not available to the caller, the exact query and a console link instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from svp.cloud.target import Target

PAGE_SIZE = 1000


@dataclass(frozen=True)
class Query:
    filter: str
    console_url: str


def build_query(
    target: Target, job: str | None, function: str | None, hours: float, now: datetime
) -> Query:
    since = (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    clauses = ['resource.type="cloud_run_revision"']
    if function:
        clauses.append(f'resource.labels.service_name="{target.function_name(function)}"')
    else:  # every function of this deployment
        clauses.append(f'resource.labels.service_name:"{target.prefix}"')
    if job:
        clauses.append(f'labels.job_id="{job.replace("-", "")}"')
    clauses.append(f'timestamp>="{since}"')
    text = " AND ".join(clauses)
    url = (
        "https://console.cloud.google.com/logs/query;query="
        + quote(text, safe="")
        + f";duration=PT{int(hours)}H?project={target.project}"
    )
    return Query(text, url)


def fetch(session: Any, base: str, target: Target, query: Query, limit: int) -> list[dict]:
    """The newest `limit` entries matching, oldest first."""
    entries: list[dict] = []
    token = ""
    while len(entries) < limit:
        body = {
            "resourceNames": [f"projects/{target.project}"],
            "filter": query.filter,
            "orderBy": "timestamp desc",
            "pageSize": min(PAGE_SIZE, limit - len(entries)),
        }
        if token:
            body["pageToken"] = token
        response = session.post(f"{base}/v2/entries:list", json=body, timeout=60)
        if response.status_code != 200:
            raise LogsUnavailable(_reason(response))
        answer = response.json()
        entries += answer.get("entries") or []
        token = answer.get("nextPageToken") or ""
        if not token:
            break
    return list(reversed(entries[:limit]))


class LogsUnavailable(Exception):
    pass


def _reason(response: Any) -> str:
    try:
        error = response.json()["error"]
        return f"{error.get('status', response.status_code)}: {error.get('message', '')}"
    except Exception:  # noqa: BLE001 - not a Google error body
        return f"HTTP {response.status_code}"


def format_entry(entry: dict) -> str:
    payload = entry.get("jsonPayload") or {}
    message = payload.get("message") or entry.get("textPayload") or ""
    labels = entry.get("labels") or {}
    service = (entry.get("resource") or {}).get("labels", {}).get("service_name", "")
    stage = labels.get("stage", "")
    job = labels.get("job_id", "")
    where = " ".join(p for p in (stage, f"job={job}" if job else "") if p)
    return (
        f"{entry.get('timestamp', '')}  {service:<16} {entry.get('severity', 'DEFAULT'):<8}"
        f" {where}  {message}".rstrip()
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
