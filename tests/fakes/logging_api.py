"""FakeLogging: Cloud Logging's v2 `entries:list` REST method, as `svp cloud logs` calls it
with google-auth (no client library).

``POST /v2/entries:list`` with ``{"resourceNames": ["projects/P"], "filter", "orderBy",
"pageSize", "pageToken"}`` answers ``{"entries": [...], "nextPageToken"?}``. Enforced as
documented: ``resourceNames`` is required and each must be ``projects/<id>`` (400
INVALID_ARGUMENT), ``orderBy`` is ``timestamp asc`` (the default) or ``timestamp desc``,
``pageSize`` at most 1000; a project in ``denied`` is 403 PERMISSION_DENIED. The filter
language is served for what `svp cloud logs` writes: clauses joined by ``AND``, each
``field="value"`` (equals), ``field:"value"`` (has) or ``timestamp>="RFC 3339"``, on dotted
fields of the entry; anything else is 400 INVALID_ARGUMENT (the fake says so).
"""

from __future__ import annotations

import re
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply, google_error

_CLAUSE = re.compile(r'([\w.]+)\s*(=|:|>=)\s*"([^"]*)"')


def _error(status: int, rpc: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": rpc}})


def _field(entry: dict[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class FakeLogging(FakeServer):
    def __init__(self, project: str = "svp-test") -> None:
        super().__init__()
        self.project = project
        self.entries: list[dict[str, Any]] = []
        self.denied: set[str] = set()

    def add(self, timestamp: str, service: str, message: str, **labels: str) -> None:
        self.entries.append(
            {
                "logName": f"projects/{self.project}/logs/run.googleapis.com%2Fstdout",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": service, "project_id": self.project},
                },
                "timestamp": timestamp,
                "severity": labels.pop("severity", "INFO"),
                "labels": labels,
                "jsonPayload": {"message": message},
                "insertId": f"{len(self.entries):08d}",
            }
        )

    def handle(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path) != ("POST", "/v2/entries:list"):
            return google_error(404, f"Method not found: {request.method} {request.path}")
        body = request.json or {}
        names = body.get("resourceNames") or []
        if not names or any(
            not re.fullmatch(r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]", n) for n in names
        ):
            return _error(400, "INVALID_ARGUMENT", "resourceNames: projects/[PROJECT_ID] required")
        if any(n.split("/")[1] in self.denied for n in names):
            return _error(403, "PERMISSION_DENIED", "Permission 'logging.logEntries.list' denied")
        order = body.get("orderBy", "timestamp asc")
        if order not in ("timestamp asc", "timestamp desc"):
            return _error(400, "INVALID_ARGUMENT", f"Invalid orderBy: {order!r}")
        size = int(body.get("pageSize") or 50)
        if not 0 < size <= 1000:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be between 1 and 1000")
        try:
            matches = self._filter(body.get("filter", ""))
        except ValueError as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc))
        wanted = [e for e in self.entries if matches(e) and f"projects/{self.project}" in names]
        wanted.sort(key=lambda e: e["timestamp"], reverse=order.endswith("desc"))
        start = int(body.get("pageToken") or 0)
        answer: dict[str, Any] = {"entries": wanted[start : start + size]}
        if start + size < len(wanted):
            answer["nextPageToken"] = str(start + size)
        return Reply(200, answer if answer["entries"] else {})

    @staticmethod
    def _filter(text: str):
        clauses = []
        for part in (p.strip() for p in text.split(" AND ")) if text.strip() else []:
            found = _CLAUSE.fullmatch(part)
            if not found:
                raise ValueError(f"FakeLogging cannot parse the filter clause {part!r}")
            clauses.append(found.groups())

        def matches(entry: dict[str, Any]) -> bool:
            for dotted, op, value in clauses:
                got = _field(entry, dotted)
                if op == "=" and got != value:
                    return False
                if op == ":" and (got is None or value not in str(got)):
                    return False
                if op == ">=" and (got is None or str(got) < value):
                    return False
            return True

        return matches
