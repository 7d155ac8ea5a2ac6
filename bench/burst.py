"""A burst of links on Google Cloud, simulated: 100 links saved in 60 s, with every stage
taking 30, 60, 90 or 120 s, delivered as Pub/Sub pushes to functions at their instance limit
(tests/pushsim.py: push delivery, concurrency 1, refused pushes sitting out a 10-600 s
doubling back-off while instances idle, dead-lettered after the last delivery).

Before: the poller publishes every pending link it finds. After: it admits links only while
fewer than limits.json's `admission.in_flight` jobs are at work (svp.runtime.room). Figures
are the mean and worst over `--seeds` runs (arrival moments, poll offset and delivery jitter
vary); beside them, the capacity arithmetic of terraform/README.md. The sizes come from
limits.json and Terraform's defaults (terraform/variables.tf, terraform/modules/stage).
Usage: python bench/burst.py [--seeds 10] [--links 100]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests.pushsim import Delivery, simulate  # noqa: E402

STAGE_TIMES = (30, 60, 90, 120)


def _default(path: Path, variable: str) -> str:
    text = path.read_text()
    found = re.search(rf'variable "{variable}" {{.*?default\s*=\s*"?([\w.]+)"?', text, re.S)
    assert found, f"{variable} has no default in {path}"
    return found.group(1)


def sizes() -> tuple[Delivery, int]:
    admission = json.loads((ROOT / "shared" / "svp" / "limits.json").read_text())["admission"]
    stage = ROOT / "terraform" / "modules" / "stage" / "variables.tf"
    delivery = Delivery(
        instances=int(_default(ROOT / "terraform" / "variables.tf", "max_instances")),
        concurrency=int(admission["concurrency"]),
        min_backoff=float(_default(stage, "retry_minimum_backoff").rstrip("s")),
        max_backoff=float(_default(stage, "retry_maximum_backoff").rstrip("s")),
        max_deliveries=int(_default(ROOT / "terraform" / "variables.tf", "max_delivery_attempts")),
    )
    return delivery, int(admission["in_flight"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--links", type=int, default=100)
    args = parser.parse_args()
    delivery, in_flight = sizes()
    print(
        f"{args.links} links in 60 s; {delivery.instances} instances x concurrency "
        f"{delivery.concurrency} per stage; {delivery.max_deliveries} deliveries, "
        f"{delivery.min_backoff:.0f}-{delivery.max_backoff:.0f} s back-off; admission: "
        f"{in_flight} at work; {args.seeds} seeds"
    )
    print(
        "| stage time | admission | drain (mean) | arithmetic | dead-lettered unrun (mean / max) |"
    )
    print("|---|---|---|---|---|")
    unrun = total = 0
    for seconds in STAGE_TIMES:
        for admission in (None, in_flight):
            runs = [
                simulate(
                    links=args.links,
                    stage_seconds=seconds,
                    delivery=delivery,
                    admission=admission,
                    seed=seed,
                )
                for seed in range(args.seeds)
            ]
            lost = [run.dead_lettered_unrun for run in runs]
            drain = statistics.mean(run.drain_seconds for run in runs) / 60
            if admission is None:
                # Every stage busy all the time: links x stage time / instances (+ 3 stages).
                ideal = (args.links * seconds / delivery.instances + 3 * seconds) / 60
                label = "none (before)"
            else:
                # One link through 4 stage times (transcriber and ocr side by side), in_flight
                # at a time, plus half a poll's wait for each freed place.
                ideal = args.links / admission * (4 * seconds + 30) / 60
                label = f"{admission} at work (after)"
                unrun += sum(lost)
                total += args.links * len(runs)
            print(
                f"| {seconds} s | {label} | {drain:.0f} min | {ideal:.0f} min | "
                f"{statistics.mean(lost):.1f} / {max(lost)} |"
            )
    print(f"burst: dead-lettered without running {unrun} of {total} links")
    return 0 if unrun == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
