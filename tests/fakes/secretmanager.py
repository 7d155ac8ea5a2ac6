"""FakeSecretManager: Secret Manager's v1 REST API, as google-cloud-secret-manager speaks it.

    with FakeSecretManager(project="p", project_number="123") as sm:
        sm.create_secret("svp-notion-token")          # what Terraform creates: no version
        client = SecretManagerServiceClient(
            transport="rest",
            client_options={"api_endpoint": sm.base_url},
            credentials=AnonymousCredentials(),
        )

What it enforces, as the service documents:

* names: `projects/<id or number>/secrets/<id>` with a secret id of 1-255 letters, digits,
  `-` and `_`; version ids are positive integers or `latest`, anything else is 400
  INVALID_ARGUMENT. Names it answers carry the project *number*, as the service does.
* a secret that does not exist, or a `latest` of a secret with no version: 404 NOT_FOUND.
* accessing a DISABLED or DESTROYED version (`latest` is the newest version, whatever its
  state): 400 FAILED_PRECONDITION; destroying one destroys its data for good.
* `addVersion`: `payload.data` (base64) of at most 64 KiB, and a `dataCrc32c` that matches
  the data when given (400 INVALID_ARGUMENT otherwise); versions are numbered 1, 2, ...
* `denied` (secret ids): every call on them is 403 PERMISSION_DENIED, as for a caller
  without `secretmanager.versions.access` (the message says "or it may not exist").
* another project than the fake's: 403 PERMISSION_DENIED.
* enums (a version's `state`) are integers when the client asks (`enum-encoding=int`, as the
  REST transport does), names otherwise.

`accesses` counts the access calls per secret id (tests of the functions' cache).
"""

from __future__ import annotations

import base64
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import google_crc32c

from ._server import FakeServer, RecordedRequest, Reply, google_error

_SECRET_ID = r"[A-Za-z0-9_-]{1,255}"
_ROUTE = re.compile(
    r"/v1/projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/:]+)"
    r"(?:/versions(?:/(?P<version>[^/:]+))?)?(?::(?P<verb>\w+))?"
)
MAX_PAYLOAD = 64 * 1024
# SecretVersion.State; the client asks for enums as integers (`$alt=json;enum-encoding=int`).
VERSION_STATES = {"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
FAILED_PRECONDITION = 400


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, rpc: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": rpc}})


@dataclass
class Version:
    number: int
    data: bytes | None
    state: str = "ENABLED"
    create_time: str = field(default_factory=_now)


@dataclass
class Secret:
    secret_id: str
    versions: list[Version] = field(default_factory=list)
    create_time: str = field(default_factory=_now)


class FakeSecretManager(FakeServer):
    def __init__(self, project: str = "svp-test", project_number: str = "123456789012") -> None:
        super().__init__()
        self.project = project
        self.project_number = project_number
        self.secrets: dict[str, Secret] = {}
        self.denied: set[str] = set()
        self.accesses: Counter[str] = Counter()
        self._ints = False
        self._state = threading.Lock()

    # -- helpers for tests ------------------------------------------------------------
    def create_secret(self, secret_id: str) -> None:
        self.secrets.setdefault(secret_id, Secret(secret_id))

    def add_version(self, secret_id: str, value: str) -> int:
        secret = self.secrets[secret_id]
        secret.versions.append(Version(len(secret.versions) + 1, value.encode()))
        return len(secret.versions)

    def value(self, secret_id: str) -> str | None:
        """The newest enabled version's value, or None."""
        enabled = [v for v in self.secrets[secret_id].versions if v.state == "ENABLED"]
        return enabled[-1].data.decode() if enabled and enabled[-1].data is not None else None

    def version_count(self, secret_id: str) -> int:
        return len(self.secrets[secret_id].versions)

    # -- the API ------------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        match = _ROUTE.fullmatch(request.path)
        if not match:
            return google_error(404, f"Method not found: {request.method} {request.path}")
        project, secret_id = match["project"], match["secret"]
        version, verb = match["version"], match["verb"]
        if project not in (self.project, self.project_number) or secret_id in self.denied:
            permission = {
                "access": "versions.access",
                "addVersion": "versions.add",
                None: "versions.get" if version else "secrets.get",
            }.get(verb, "versions.enable")
            return _error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'secretmanager.{permission}' denied for resource "
                f"'projects/{project}/secrets/{secret_id}' (or it may not exist).",
            )
        self._ints = any("enum-encoding=int" in v for vs in request.query.values() for v in vs)
        if not re.fullmatch(_SECRET_ID, secret_id):
            return _error(400, "INVALID_ARGUMENT", f"Invalid secret id: {secret_id!r}")
        with self._state:
            secret = self.secrets.get(secret_id)
            if secret is None:
                return _error(404, "NOT_FOUND", f"Secret [{self._name(secret_id)}] not found.")
            if version is None:
                return self._on_secret(secret, request, verb)
            found = self._version(secret, version)
            if isinstance(found, Reply):
                return found
            return self._on_version(secret, found, request, verb)

    def _on_secret(self, secret: Secret, request: RecordedRequest, verb: str | None) -> Reply:
        listing = request.path.endswith("/versions")
        if request.method == "GET" and verb is None and not listing:
            return Reply(200, self._secret_json(secret))
        if request.method == "POST" and verb == "addVersion" and not listing:
            return self._add(secret, request)
        if request.method == "GET" and verb is None and listing:
            versions = sorted(secret.versions, key=lambda v: -v.number)
            body = {"versions": [self._version_json(secret, v) for v in versions]}
            return Reply(200, {**body, "totalSize": len(versions)} if versions else {})
        return google_error(404, f"Method not found: {request.method} {request.path}")

    def _on_version(
        self, secret: Secret, found: Version, request: RecordedRequest, verb: str | None
    ) -> Reply:
        if request.method == "GET" and verb is None:
            return Reply(200, self._version_json(secret, found))
        if request.method == "GET" and verb == "access":
            return self._access(secret, found)
        if request.method == "POST" and verb in ("disable", "enable", "destroy"):
            if found.state == "DESTROYED":
                return _error(
                    FAILED_PRECONDITION, "FAILED_PRECONDITION", "The version is destroyed."
                )
            found.state = {"disable": "DISABLED", "enable": "ENABLED"}.get(verb, "DESTROYED")
            if verb == "destroy":
                found.data = None
            return Reply(200, self._version_json(secret, found))
        return google_error(404, f"Method not found: {request.method} {request.path}")

    def _name(self, secret_id: str) -> str:
        return f"projects/{self.project_number}/secrets/{secret_id}"

    def _secret_json(self, secret: Secret) -> dict[str, Any]:
        return {
            "name": self._name(secret.secret_id),
            "replication": {"automatic": {}},
            "createTime": secret.create_time,
            "etag": f'"{len(secret.versions)}"',
        }

    def _version_json(self, secret: Secret, version: Version) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": f"{self._name(secret.secret_id)}/versions/{version.number}",
            "createTime": version.create_time,
            "state": VERSION_STATES[version.state] if self._ints else version.state,
            "replicationStatus": {"automatic": {}},
            "etag": f'"{version.number}"',
            "clientSpecifiedPayloadChecksum": True,
        }
        if version.state == "DESTROYED":
            body["destroyTime"] = version.create_time
        return body

    def _version(self, secret: Secret, version: str) -> Version | Reply:
        if version == "latest":
            if not secret.versions:
                return _error(
                    404,
                    "NOT_FOUND",
                    f"Secret [{self._name(secret.secret_id)}] not found or has no versions.",
                )
            return secret.versions[-1]
        if not version.isdigit() or int(version) < 1:
            return _error(400, "INVALID_ARGUMENT", f"Invalid version id: {version!r}")
        if int(version) > len(secret.versions):
            return _error(
                404,
                "NOT_FOUND",
                f"Secret Version [{self._name(secret.secret_id)}/versions/{version}] not found.",
            )
        return secret.versions[int(version) - 1]

    def _access(self, secret: Secret, version: Version) -> Reply:
        self.accesses[secret.secret_id] += 1
        name = f"{self._name(secret.secret_id)}/versions/{version.number}"
        if version.state != "ENABLED" or version.data is None:
            return _error(
                FAILED_PRECONDITION,
                "FAILED_PRECONDITION",
                f"Secret Version [{name}] is in {version.state} state.",
            )
        checksum = str(google_crc32c.value(version.data))
        payload = {"data": base64.b64encode(version.data).decode(), "dataCrc32c": checksum}
        return Reply(200, {"name": name, "payload": payload})

    def _add(self, secret: Secret, request: RecordedRequest) -> Reply:
        payload = (request.json or {}).get("payload") or {}
        try:
            data = base64.b64decode(payload.get("data", ""), validate=True)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "payload.data is not base64.")
        if not data:
            return _error(400, "INVALID_ARGUMENT", "Secret Payload cannot be empty.")
        if len(data) > MAX_PAYLOAD:
            return _error(400, "INVALID_ARGUMENT", "Secret Payload exceeds 64 KiB.")
        checksum = payload.get("dataCrc32c")
        if checksum is not None and int(checksum) != google_crc32c.value(data):
            return _error(400, "INVALID_ARGUMENT", "Checksum mismatch: data corrupted in transit.")
        version = Version(len(secret.versions) + 1, data)
        secret.versions.append(version)
        return Reply(200, self._version_json(secret, version))
