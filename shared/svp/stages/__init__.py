"""The pipeline's stages. Each module exposes `run(ctx) -> output`; the poller exposes `poll`.

Modules are imported on first use so that a function loads only its own stage's libraries.
"""

from __future__ import annotations

import importlib

from svp.runtime.runner import StageWork
from svp.topology import PIPELINE


def load_work(stage: str) -> StageWork:
    if stage not in PIPELINE:
        raise ValueError(f"unknown stage {stage!r}")
    return importlib.import_module(f"svp.stages.{stage}").run
