"""A burst of links on the local cloud: 100 links saved within 60 s, every stage taking 30, 60,
90 or 120 s per link, on functions sized by Terraform's defaults (var.max_instances, Cloud Run's
429 past it, the push subscriptions' 10-600 s back-off and 15 deliveries) with limits.json's
admission (`admission.in_flight` jobs at work at once; the poller leaves the rest pending).

Each run is tests/localcloud/burst.py: every function from its own requirements on Google's
Pub/Sub and Firestore emulators; the stage time is a delay of the fakes (the clip's server, fake
OpenAI, Vision, Gemini, Notion). Every time is scaled by `--scale` (functions' limits, poll
period, back-off, stage times) and reported unscaled. Per stage time it prints the drain
measured (first link saved -> last link ended), the capacity arithmetic beside it
(links x (downloader + max(transcriber, ocr) + summarizer + writer) / in_flight, with the set
and with the measured stage times), pushes refused (429), and the links dead-lettered without
their stage having run (a dead letter whose job's stage has no attempt in Firestore).

`--simulate` prints instead the simulation of the same burst (tests/pushsim.py), with and
without admission, over `--seeds` runs.

Usage: python bench/burst.py [--links 100] [--stage-times 30,60,90,120] [--scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from tests.localcloud.burst import Burst, Outcome, run_in_tmp  # noqa: E402
from tests.pushsim import Delivery, simulate  # noqa: E402

STAGE_TIMES = (30, 60, 90, 120)
STAGES = ("downloader", "transcriber", "ocr", "summarizer", "writer")


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


def arithmetic(links: int, stage: dict[str, float], in_flight: int) -> float:
    """Seconds to drain `links` with `in_flight` at work, each through the four steps."""
    one = (
        stage["downloader"]
        + max(stage["transcriber"], stage["ocr"])
        + stage["summarizer"]
        + stage["writer"]
    )
    return links * one / in_flight


def on_the_local_cloud(args: argparse.Namespace, delivery: Delivery, in_flight: int) -> int:
    print(
        f"burst on the local cloud: {args.links} links saved within 60 s; "
        f"{delivery.instances} instances x concurrency {delivery.concurrency} per function; "
        f"admission: {in_flight} at work; {delivery.max_deliveries} deliveries, "
        f"{delivery.min_backoff:.0f}-{delivery.max_backoff:.0f} s back-off; time scale "
        f"{args.scale} (every figure below unscaled)",
        flush=True,
    )
    outcomes: list[Outcome] = []
    clips = Path(tempfile.gettempdir()) / "svp-burst-clips"
    for seconds in args.stage_times:
        burst = Burst(
            links=args.links,
            stage_seconds=seconds,
            scale=args.scale,
            backoff=(delivery.min_backoff, delivery.max_backoff),
        )
        print(f"stage time {seconds:g} s: ...", flush=True)
        outcome = run_in_tmp(burst, clips, log=lambda line: print(line, flush=True))
        outcomes.append(outcome)
        print(f"  {_row(outcome, in_flight)}  ({outcome.wall:.0f} s of wall time)", flush=True)
        for row, written in outcome.regressed:
            print(f"  link {row} ended, then showed otherwise; statuses written: {written}")
        if outcome.kept:
            print(f"  logs kept in {outcome.kept}", flush=True)
    print()
    print(
        "| stage time T | per stage, set (measured), s: downloader / transcriber / ocr / "
        "summarizer / writer | drain measured | drain by arithmetic: set (measured) | "
        "pushes refused (429) | links done / failed / not ended | dead-lettered without running |"
    )
    print("|---|---|---|---|---|---|---|")
    for outcome in outcomes:
        print(_row(outcome, in_flight))
    print(
        f"arithmetic: links x (downloader + max(transcriber, ocr) + summarizer + writer) / "
        f"{in_flight} (admission.in_flight); a stage's set time is held to half its function's "
        "timeout (the writer's 120 s: 60 s)"
    )
    unrun = sum(o.unrun for o in outcomes)
    total = sum(o.burst.links for o in outcomes)
    unended = sum(o.unended for o in outcomes)
    crashed = [name for o in outcomes for name in o.crashed]
    if crashed:
        print(f"functions found exited and started again: {', '.join(crashed)}")
    print(f"burst: dead-lettered without running {unrun} of {total} links")
    return 0 if unrun == 0 and unended == 0 and not crashed else 1


def _row(outcome: Outcome, in_flight: int) -> str:
    burst = outcome.burst
    set_times = {stage: burst.stage_time(stage) for stage in STAGES}
    per_stage = " / ".join(
        f"{set_times[s]:.0f} ({outcome.stage_means.get(s, float('nan')):.0f})" for s in STAGES
    )
    by_set = arithmetic(burst.links, set_times, in_flight)
    measured = (
        arithmetic(burst.links, outcome.stage_means, in_flight)
        if set(STAGES) <= set(outcome.stage_means)
        else float("nan")
    )
    failed = outcome.ended.get("failed", 0)
    return (
        f"| {burst.stage_seconds:g} s | {per_stage} | {outcome.drain / 60:.0f} min | "
        f"{by_set / 60:.0f} ({measured / 60:.0f}) min | {sum(outcome.refused.values())} | "
        f"{outcome.done} / {failed} / {outcome.unended} | {outcome.unrun} |"
    )


def simulated(args: argparse.Namespace, delivery: Delivery, in_flight: int) -> int:
    print(
        f"simulated (tests/pushsim.py): {args.links} links in 60 s; {delivery.instances} "
        f"instances x concurrency {delivery.concurrency} per stage; {delivery.max_deliveries} "
        f"deliveries, {delivery.min_backoff:.0f}-{delivery.max_backoff:.0f} s back-off; "
        f"admission: {in_flight} at work; {args.seeds} seeds"
    )
    print(
        "| stage time | admission | drain (mean) | arithmetic | dead-lettered unrun (mean / max) |"
    )
    print("|---|---|---|---|---|")
    unrun = total = 0
    for seconds in args.stage_times:
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
                # One link through 4 stage times, in_flight at a time, plus half a poll's wait.
                ideal = args.links / admission * (4 * seconds + 30) / 60
                label = f"{admission} at work (after)"
                unrun += sum(lost)
                total += args.links * len(runs)
            print(
                f"| {seconds:g} s | {label} | {drain:.0f} min | {ideal:.0f} min | "
                f"{statistics.mean(lost):.1f} / {max(lost)} |"
            )
    print(f"burst: dead-lettered without running {unrun} of {total} links")
    return 0 if unrun == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument(
        "--stage-times",
        type=lambda v: [float(x) for x in v.split(",")],
        default=list(STAGE_TIMES),
        help="seconds per link of every stage, comma separated (default 30,60,90,120)",
    )
    parser.add_argument(
        "--scale", type=float, default=0.1, help="every time x this on the local cloud"
    )
    parser.add_argument("--simulate", action="store_true", help="the delivery model instead")
    parser.add_argument("--seeds", type=int, default=10, help="runs per row of --simulate")
    args = parser.parse_args()
    delivery, in_flight = sizes()
    started = time.monotonic()
    if args.simulate:
        return simulated(args, delivery, in_flight)
    code = on_the_local_cloud(args, delivery, in_flight)
    print(f"(bench wall time {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
