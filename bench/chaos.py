"""Randomized fault injection over many seeds: a table of cases and violations by kind.
Every failing seed is printed with how to rerun it.

Against `svp run` workers (tests/chaos.py), or with --cloud against the local cloud: every
function from its own requirements on Google's emulators (tests/localcloud/chaos.py).

Usage: python bench/chaos.py [--cloud] [--seeds N] [--first S] [--seed S] [--jobs J]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from tests.chaos import Verdict, make_clips  # noqa: E402

KINDS = (
    "link not ended",
    "duplicate page",
    "page without its link",
    "link at a wrong page",
    "dead letter of a live job",
    "dead letter without its source",
    "worker crashed",
    "function crashed",
    "clean run crashed",
    "the suite itself failed",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--seed", type=int, help="run this one seed, with its logs")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run side by side")
    parser.add_argument("--cloud", action="store_true", help="against the local cloud")
    args = parser.parse_args()
    clips = make_clips(Path(tempfile.gettempdir()) / "svp-chaos-clips")
    if args.seed is not None:
        verdict = run_seed(args.seed, clips, args.cloud)
        print(verdict.report())
        print(verdict.logs)
        return 0 if verdict.ok else 1
    seeds = range(args.first, args.first + args.seeds)
    started = time.monotonic()
    verdicts: list[Verdict] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = pool.map(run_seed, seeds, [clips] * len(seeds), [args.cloud] * len(seeds))
        for verdict in runs:
            verdicts.append(verdict)
            mark = "ok" if verdict.ok else "VIOLATED"
            print(f"{mark:8} {verdict.scenario.describe()} ({verdict.seconds:.0f} s)", flush=True)
            if not verdict.ok:
                print(verdict.report(), flush=True)
    print_table(verdicts, time.monotonic() - started)
    return 0 if all(v.ok for v in verdicts) else 1


def run_seed(seed: int, clips: Path, cloud: bool) -> Verdict:
    """One seed's verdict; a seed whose harness broke (an emulator that would not start) is
    reported as such, with its traceback, and the other seeds run on."""
    if cloud:
        from tests.localcloud.chaos import CloudScenario as Scenario
        from tests.localcloud.chaos import run_seed as run
    else:
        from tests.chaos import Scenario
        from tests.chaos import run_seed as run
    try:
        return run(seed, clips)
    except BaseException as exc:  # pytest.fail raises a BaseException
        if isinstance(exc, KeyboardInterrupt):
            raise
        rerun = "python bench/chaos.py" + (" --cloud" if cloud else "")
        verdict = Verdict(Scenario.draw(seed), rerun=rerun)
        verdict.violate("the suite itself failed", traceback.format_exc(limit=8))
        return verdict


def print_table(verdicts: list[Verdict], seconds: float) -> None:
    kinds: Counter = Counter()
    for verdict in verdicts:
        kinds.update(verdict.kinds)
    violated = sum(1 for v in verdicts if not v.ok)
    print(
        f"\n{len(verdicts)} scenarios in {seconds / 60:.1f} min: "
        f"{len(verdicts) - violated} kept every promise, {violated} violated one"
    )
    faults = Counter()
    for verdict in verdicts:
        faults.update(verdict.scenario.tally())
    print("\n| what the scenarios did | count |\n|---|---|")
    for name, count in faults.items():
        print(f"| {name} | {count} |")
    print("\n| violation | scenarios | occurrences |\n|---|---|---|")
    for kind in KINDS:
        hit = sum(1 for v in verdicts if v.kinds.get(kind))
        print(f"| {kind} | {hit} | {kinds.get(kind, 0)} |")


if __name__ == "__main__":
    sys.exit(main())
