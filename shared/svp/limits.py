"""How long each stage may run: one table (limits.json) read here and by Terraform.

A stage's *deadline* is its function's timeout plus a margin: past it, Google Cloud has killed
the request, so a stage still marked running is dead for sure. Its *lease* is shorter
(SVP_LEASE_SECONDS) and renewed by a heartbeat while the worker lives, so a crashed worker is
noticed in about a lease rather than a whole deadline.

SVP_LIMITS_SCALE multiplies every time here (tests and the local cloud shrink a 540 s function
to seconds with it; Terraform deploys the table as it is and never sets it).
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import Any


@cache
def table() -> dict[str, Any]:
    return json.loads((resources.files("svp") / "limits.json").read_text())


def scale() -> float:
    return float(os.environ.get("SVP_LIMITS_SCALE") or 1)


def timeout_seconds(function: str) -> float:
    """How long the platform lets one request of `function` run."""
    return int(table()["functions"][function]["timeout_seconds"]) * scale()


def margin_seconds() -> float:
    return int(table()["margin_seconds"]) * scale()


def deadline_seconds(stage: str) -> float:
    """Seconds after a claim when the stage's worker is certainly gone."""
    return timeout_seconds(stage) + margin_seconds()


def longest_deadline_seconds() -> int:
    return max(deadline_seconds(name) for name in table()["functions"])
