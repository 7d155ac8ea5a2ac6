"""The Cloud Run execution environment of the functions that start children.

The downloader, transcriber and ocr run yt-dlp, gallery-dl, ffmpeg and ffprobe under the
supervisor (svp.media.supervisor), whose confinement needs what the second generation
environment documents ("full Linux compatibility, including support for all system calls,
namespaces, and cgroups"); the first (gVisor) has no Landlock. A service that names no
environment may get either. `google_cloudfunctions2_function` has no field for it (the
Functions v2 ServiceConfig carries none), so Terraform declares the wish (the `svp_cloud`
output's `execution_environments`) and `svp cloud setup` sets it on each function's Cloud Run
service through the Cloud Run Admin API v2, which documents functions made with the Functions
v2 API as manageable through it as well.

Read, change one field, write back: the whole Service goes back in the PATCH (with its etag,
so a concurrent change makes it fail rather than be lost), never a partial body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from svp.cloud.target import Target

ENUM = {"gen1": "EXECUTION_ENVIRONMENT_GEN1", "gen2": "EXECUTION_ENVIRONMENT_GEN2"}
_NAMES = {value: key for key, value in ENUM.items()}
# Output only, or set by Cloud Run: not sent back.
_OUTPUT_ONLY = (
    "uid",
    "generation",
    "createTime",
    "updateTime",
    "deleteTime",
    "expireTime",
    "creator",
    "lastModifier",
    "observedGeneration",
    "terminalCondition",
    "conditions",
    "latestReadyRevision",
    "latestCreatedRevision",
    "trafficStatuses",
    "uri",
    "urls",
    "reconciling",
    "satisfiesPzs",
)


class ExecutionError(Exception):
    """The environment could not be read or set; the message says why, in words."""


@dataclass(frozen=True)
class Outcome:
    function: str
    wanted: str
    was: str = ""  # gen1, gen2, or "unspecified" (Cloud Run picks either)
    changed: bool = False
    error: str = ""  # why it could not be read or set


def service_of(session: Any, base: str, target: Target, stage: str) -> str:
    """The Cloud Run service (projects/P/locations/R/services/S) behind a stage's function."""
    name = f"projects/{target.project}/locations/{target.region}/functions/"
    name += target.function_name(stage)
    response = session.get(f"{base}/v2/{name}", timeout=60)
    if response.status_code != 200:
        raise ExecutionError(f"{name}: Cloud Functions answered {_reason(response)}")
    service = (response.json().get("serviceConfig") or {}).get("service")
    if not service:
        raise ExecutionError(f"{name} has no Cloud Run service yet (is it deployed?)")
    return service


def environment(service: dict[str, Any]) -> str:
    """gen1, gen2, or "unspecified" for a Service as the Cloud Run Admin API v2 gives it."""
    value = (service.get("template") or {}).get("executionEnvironment", "")
    return _NAMES.get(value, "unspecified")


def current(session: Any, base: str, service: str) -> dict[str, Any]:
    response = session.get(f"{base}/v2/{service}", timeout=60)
    if response.status_code != 200:
        raise ExecutionError(f"{service}: Cloud Run answered {_reason(response)}")
    return response.json()


def ensure(
    session: Any, base: str, service: str, wanted: str, wait_seconds: float = 300
) -> tuple[str, bool]:
    """Set `wanted` (gen1 or gen2) on `service` unless it has it; (what it was, changed)."""
    body = current(session, base, service)
    was = environment(body)
    if was == wanted:
        return was, False
    for field in _OUTPUT_ONLY:
        body.pop(field, None)
    template = dict(body.get("template") or {})
    # A revision name already taken would refuse the update: Cloud Run names the new one.
    template.pop("revision", None)
    template["executionEnvironment"] = ENUM[wanted]
    body["template"] = template
    response = session.patch(f"{base}/v2/{service}", json=body, timeout=60)
    if response.status_code != 200:
        raise ExecutionError(f"{service}: Cloud Run refused the update: {_reason(response)}")
    _wait(session, base, response.json(), wait_seconds)
    return was, True


def _wait(session: Any, base: str, operation: dict[str, Any], seconds: float) -> None:
    """Until the long-running operation is done; its error, if any, as an ExecutionError."""
    deadline = time.monotonic() + seconds
    while not operation.get("done"):
        if time.monotonic() > deadline:
            raise ExecutionError(f"{operation.get('name')} still running after {seconds:.0f} s")
        time.sleep(1)
        response = session.get(f"{base}/v2/{operation['name']}", timeout=60)
        if response.status_code != 200:
            raise ExecutionError(f"{operation['name']}: {_reason(response)}")
        operation = response.json()
    if error := operation.get("error"):
        raise ExecutionError(f"the new revision failed: {error.get('message', error)}")


def apply(functions: tuple[Any, str], run: tuple[Any, str], target: Target) -> list[Outcome]:
    """Each stage in `target.execution_environments` brought to its environment. `functions`
    and `run`: (session, base URL) of the Cloud Functions v2 and Cloud Run Admin v2 APIs."""
    outcomes = []
    for stage, wanted in sorted(target.execution_environments.items()):
        function = target.function_name(stage)
        try:
            was, changed = ensure(*run, service_of(*functions, target, stage), wanted)
        except ExecutionError as exc:  # the next function may still be set
            outcomes.append(Outcome(function, wanted, error=str(exc)))
            continue
        outcomes.append(Outcome(function, wanted, was, changed))
    return outcomes


def describe(functions: tuple[Any, str], run: tuple[Any, str], target: Target) -> dict[str, str]:
    """Function name -> its environment, for the stages that want one ("?" and why, when it
    cannot be read)."""
    seen = {}
    for stage in sorted(target.execution_environments):
        try:
            service = service_of(*functions, target, stage)
            seen[target.function_name(stage)] = environment(current(*run, service))
        except ExecutionError as exc:
            seen[target.function_name(stage)] = f"? ({exc})"
    return seen


def _reason(response: Any) -> str:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    detail = error.get("message") or (response.text or "")[:200]
    return f"HTTP {response.status_code} {error.get('status', '')}: {detail}".replace("  ", " ")
