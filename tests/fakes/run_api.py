"""FakeRun: the Cloud Run Admin API v2's services and operations, as `svp cloud` calls them over
REST (google-auth, no client library), in the shapes google-cloud-run's REST transport uses
(`GET /v2/{name=projects/*/locations/*/services/*}`, `PATCH /v2/{service.name=...}` with the
Service as the body, `GET /v2/{name=projects/*/locations/*/operations/*}`).

What it enforces, as the API documents:

* a Service in proto3 JSON: `template.executionEnvironment` is absent when unspecified, else
  `EXECUTION_ENVIRONMENT_GEN1` / `_GEN2`; `etag`, `generation`, `latestReadyRevision`,
  `uri`, `conditions`... are set by the service;
* PATCH: an unknown service is 404 NOT_FOUND; an `etag` that is not the current one 409
  ABORTED; a template without containers 400 INVALID_ARGUMENT (a partial body would drop
  them); a `template.revision` name already used 409 ALREADY_EXISTS; an executionEnvironment
  outside the enum 400 (a name, or its number as google-cloud-run's client sends it with
  `$alt=json;enum-encoding=int`, which it is then answered in too). It answers a
  long-running Operation, not done; the next GET of the operation is done, with the updated
  Service as its `response`, which then has a new generation, etag and revision;
* `denied` service ids answer 403 PERMISSION_DENIED to everything.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply

_SERVICE = re.compile(r"/v2/projects/([^/]+)/locations/([^/]+)/services/([^/:]+)")
_OPERATION = re.compile(r"/v2/projects/([^/]+)/locations/([^/]+)/operations/([^/:]+)")
ENVIRONMENTS = ("EXECUTION_ENVIRONMENT_GEN1", "EXECUTION_ENVIRONMENT_GEN2")
SERVICE_TYPE = "type.googleapis.com/google.cloud.run.v2.Service"


def _error(status: int, rpc: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": rpc}})


class FakeRun(FakeServer):
    def __init__(self, project: str = "svp-test", location: str = "europe-west1") -> None:
        super().__init__()
        self.project = project
        self.location = location
        self.services: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, set[str]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.denied: set[str] = set()
        self.patches: list[dict[str, Any]] = []  # the bodies received
        self._ids = itertools.count(1)

    def name(self, service: str) -> str:
        return f"projects/{self.project}/locations/{self.location}/services/{service}"

    def add(self, service: str, environment: str | None = None) -> str:
        """A service as a Functions v2 deployment leaves it; `environment` gen1, gen2 or None."""
        revision = f"{service}-00001-abc"
        template: dict[str, Any] = {
            "revision": revision,
            "labels": {"goog-managed-by": "cloudfunctions"},
            "scaling": {"maxInstanceCount": 10},
            "timeout": "540s",
            "serviceAccount": f"{service}@{self.project}.iam.gserviceaccount.com",
            "containers": [
                {
                    "name": "worker",
                    "image": f"{self.location}-docker.pkg.dev/{self.project}/gcf-artifacts/x",
                    "env": [{"name": "SVP_BACKEND", "value": "gcp"}],
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                    "ports": [{"name": "http1", "containerPort": 8080}],
                }
            ],
            "maxInstanceRequestConcurrency": 1,
        }
        if environment:
            template["executionEnvironment"] = f"EXECUTION_ENVIRONMENT_{environment.upper()}"
        self.services[service] = {
            "name": self.name(service),
            "uid": f"uid-{service}",
            "generation": "1",
            "labels": {"goog-managed-by": "cloudfunctions"},
            "createTime": "2026-12-06T10:00:00.000000Z",
            "updateTime": "2026-12-06T10:00:00.000000Z",
            "creator": "service-123@gcf-admin-robot.iam.gserviceaccount.com",
            "lastModifier": "service-123@gcf-admin-robot.iam.gserviceaccount.com",
            "ingress": "INGRESS_TRAFFIC_ALL",
            "launchStage": "GA",
            "template": template,
            "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
            "observedGeneration": "1",
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
            "conditions": [{"type": "RoutesReady", "state": "CONDITION_SUCCEEDED"}],
            "latestReadyRevision": f"{self.name(service)}/revisions/{revision}",
            "latestCreatedRevision": f"{self.name(service)}/revisions/{revision}",
            "trafficStatuses": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
            "uri": f"https://{service}-abc123-ew.a.run.app",
            "etag": '"etag-1"',
        }
        self.revisions[service] = {revision}
        return self.name(service)

    def environment(self, service: str) -> str | None:
        return self.services[service]["template"].get("executionEnvironment")

    def handle(self, request: RecordedRequest) -> Reply:
        if match := _OPERATION.fullmatch(request.path):
            return self._operation(request, *match.groups())
        match = _SERVICE.fullmatch(request.path)
        if not match or request.method not in ("GET", "PATCH"):
            return _error(404, "NOT_FOUND", f"Method not found: {request.method} {request.path}")
        project, location, service = match.groups()
        if service in self.denied:
            return _error(403, "PERMISSION_DENIED", "Permission 'run.services.get' denied")
        if (project, location) != (self.project, self.location) or service not in self.services:
            return _error(404, "NOT_FOUND", f"Resource '{request.path[4:]}' was not found")
        if request.method == "GET":
            return self._reply(request, self.services[service])
        return self._reply(request, self._patch(request, service))

    @staticmethod
    def _reply(request: RecordedRequest, answer: Reply | dict[str, Any]) -> Reply:
        """`answer` with its enums as numbers when the client asks for them so."""
        reply = answer if isinstance(answer, Reply) else Reply(200, answer)
        if "enum-encoding=int" not in (request.query_value("$alt") or ""):
            return reply
        return Reply(reply.status, _numbered(reply.body), reply.headers)

    def _patch(self, request: RecordedRequest, service: str) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self.patches.append(body)
        stored = self.services[service]
        if body.get("etag") and body["etag"] != stored["etag"]:
            return _error(409, "ABORTED", "etag mismatch: the service changed; read it again")
        template = body.get("template") or {}
        if not template.get("containers"):
            return _error(400, "INVALID_ARGUMENT", "template.containers: must have a container")
        environment = template.get("executionEnvironment")
        if isinstance(environment, int) and 0 <= environment <= len(ENVIRONMENTS):
            environment = (None, *ENVIRONMENTS)[environment]
            template = {**template, "executionEnvironment": environment}
            if environment is None:
                del template["executionEnvironment"]
        if environment is not None and environment not in ENVIRONMENTS:
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid value at 'service.template.execution_environment': \"{environment}\"",
            )
        revision = template.get("revision")
        if revision in self.revisions[service]:
            return _error(409, "ALREADY_EXISTS", f"Revision named '{revision}' already exists.")
        generation = int(stored["generation"]) + 1
        revision = revision or f"{service}-{generation:05d}-new"
        self.revisions[service].add(revision)
        updated = copy.deepcopy(stored)
        updated["template"] = {**copy.deepcopy(template), "revision": revision}
        for key in ("labels", "ingress", "traffic", "launchStage"):
            if key in body:
                updated[key] = copy.deepcopy(body[key])
        updated.update(
            generation=str(generation),
            observedGeneration=str(generation),
            etag=f'"etag-{generation}"',
            latestReadyRevision=f"{stored['name']}/revisions/{revision}",
            latestCreatedRevision=f"{stored['name']}/revisions/{revision}",
        )
        operation = f"projects/{self.project}/locations/{self.location}/operations/"
        operation += f"op-{next(self._ids)}"
        self.operations[operation] = {"service": service, "updated": updated}
        metadata = {"@type": SERVICE_TYPE, **stored, "reconciling": True}
        return Reply(200, {"name": operation, "metadata": metadata})

    def _operation(self, request: RecordedRequest, project: str, location: str, op: str) -> Reply:
        name = f"projects/{project}/locations/{location}/operations/{op}"
        if request.method != "GET" or name not in self.operations:
            return _error(404, "NOT_FOUND", f"Resource '{name}' was not found")
        pending = self.operations[name]
        self.services[pending["service"]] = pending["updated"]  # the revision is ready
        service = {"@type": SERVICE_TYPE, **pending["updated"]}
        done = {"name": name, "metadata": service, "done": True, "response": service}
        return self._reply(request, done)


def _numbered(value: Any) -> Any:
    """executionEnvironment names as their enum numbers, everywhere in `value`."""
    if isinstance(value, list):
        return [_numbered(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _numbered(v) for k, v in value.items()}
    if out.get("executionEnvironment") in ENVIRONMENTS:
        out["executionEnvironment"] = ENVIRONMENTS.index(out["executionEnvironment"]) + 1
    return out
