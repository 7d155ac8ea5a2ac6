"""FakeFunctions: the Cloud Functions v2 REST API's read methods, as `svp cloud status`
calls them with google-auth (no client library).

``GET /v2/projects/P/locations/L/functions[?pageSize=&pageToken=]`` answers
``{"functions": [...], "nextPageToken"?}`` and ``GET .../functions/NAME`` one function
(``name``, ``state``: ACTIVE | DEPLOYING | FAILED | DELETING, ``stateMessages``,
``serviceConfig.uri``, ``serviceConfig.service`` (its Cloud Run service,
``projects/P/locations/L/services/NAME``), ``updateTime``, ``environment: GEN_2``). Another
project or location has none; an unknown function is 404 NOT_FOUND; a project in ``denied`` 403
PERMISSION_DENIED; ``pageSize`` above 1000 is 400 INVALID_ARGUMENT.
"""

from __future__ import annotations

import re
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply, google_error

_ROUTE = re.compile(r"/v2/projects/([^/]+)/locations/([^/]+)/functions(?:/([^/:]+))?")


def _error(status: int, rpc: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": rpc}})


class FakeFunctions(FakeServer):
    def __init__(self, project: str = "svp-test", location: str = "europe-west1") -> None:
        super().__init__()
        self.project = project
        self.location = location
        self.functions: dict[str, dict[str, Any]] = {}
        self.denied: set[str] = set()

    def add(self, name: str, state: str = "ACTIVE", message: str = "") -> None:
        full = f"projects/{self.project}/locations/{self.location}/functions/{name}"
        self.functions[name] = {
            "name": full,
            "state": state,
            "environment": "GEN_2",
            "updateTime": "2026-12-06T10:00:00Z",
            "serviceConfig": {
                "uri": f"https://{name}-123456789012.{self.location}.run.app",
                "service": f"projects/{self.project}/locations/{self.location}/services/{name}",
            },
            **({"stateMessages": [{"severity": "ERROR", "message": message}]} if message else {}),
        }

    def handle(self, request: RecordedRequest) -> Reply:
        match = _ROUTE.fullmatch(request.path)
        if request.method != "GET" or not match:
            return google_error(404, f"Method not found: {request.method} {request.path}")
        project, location, name = match.groups()
        if project in self.denied:
            return _error(
                403, "PERMISSION_DENIED", "Permission 'cloudfunctions.functions.list' denied"
            )
        mine = (project, location) == (self.project, self.location)
        if name:
            if not mine or name not in self.functions:
                return _error(404, "NOT_FOUND", f"Resource '{request.path[4:]}' was not found")
            return Reply(200, self.functions[name])
        size = int(request.query_value("pageSize") or 1000)
        if not 0 < size <= 1000:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be between 1 and 1000")
        listed = sorted(self.functions) if mine else []
        start = int(request.query_value("pageToken") or 0)
        answer: dict[str, Any] = {
            "functions": [self.functions[n] for n in listed[start : start + size]]
        }
        if start + size < len(listed):
            answer["nextPageToken"] = str(start + size)
        return Reply(200, answer)
