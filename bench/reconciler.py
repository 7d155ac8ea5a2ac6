"""The reconciler's cost per poll with 1,000 open jobs of which 10 need action, on Google's
Firestore emulator (the Google Cloud CLI's component: `gcloud emulators firestore start`).

The jobs: 990 at work (a stage running under a live lease, their status shown in Notion),
5 whose worker died (a lease that ran out, the oldest 9 minutes ago), 5 that ended with a
status Notion has not confirmed yet. One poll's reconciler pass is measured: Firestore
document reads and writes (counted the way Firestore bills them: a read per document a query
returns or a transaction reads, a write per document stored) and its duration. The emulator
has no network latency: on Firestore each transaction costs another 20-60 ms, so the counts
are what to compare. Every stuck job must be handled by that one pass.

`--before` measures the reconciler this branch started from (`git merge-base HEAD main`,
exported to a temporary folder) on the same data.
Usage: python bench/reconciler.py [--before] [--open 1000] [--need 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def _code_before() -> Path:
    """The application as this branch found it."""
    base = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="svp-before-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base, "shared"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    print(f"code before: {base[:10]} (exported to {folder})", file=sys.stderr)
    return folder / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true", help="the reconciler before this branch")
    parser.add_argument("--open", type=int, default=1000, help="open jobs")
    parser.add_argument("--need", type=int, default=10, help="of which need action")
    args = parser.parse_args()
    shared = _code_before() if args.before else ROOT / "shared"
    sys.path[:0] = [str(shared), str(ROOT)]

    from svp.adapters.firestore_state import FirestoreStateStore
    from svp.notion.status import LinkStatus
    from svp.runtime import jobs
    from svp.runtime.context import Runtime
    from svp.runtime.reconciler import reconcile
    from tests.counting_store import CountingStore
    from tests.emulators import _free_port, start_firestore_emulator

    port = _free_port()
    emulator = start_firestore_emulator(port)
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        store = CountingStore(FirestoreStateStore(f"bench-{uuid.uuid4().hex[:8]}"))
        published: list[str] = []
        bus = SimpleNamespace(publish=lambda topic, data, attrs: published.append(topic) or "1")
        settings = SimpleNamespace(max_attempts=5, topic_prefix="svp-", lease_seconds=60)
        runtime = Runtime(
            settings,  # type: ignore[arg-type]
            state=lambda: store,
            blobs=lambda: None,  # type: ignore[arg-type,return-value]
            bus=lambda: bus,  # type: ignore[arg-type,return-value]
            dead_letters=lambda: None,  # type: ignore[arg-type,return-value]
        )
        now = time.time()
        stuck, unshown = _seed(store, jobs, now, args.open, args.need)
        store.reset()
        # No Notion behind the status sink: a status is marked shown (the outbox's writes).
        status = LinkStatus(store, lambda user: None)
        started = time.monotonic()
        report = reconcile(runtime, status, now=now)
        seconds = time.monotonic() - started
        after = {key: store.inner.get(jobs.JOBS, key) for key in stuck + unshown}
    finally:
        emulator.stop()
        if args.before:
            shutil.rmtree(shared.parent, ignore_errors=True)

    handled = sum(after[key]["stages"]["downloader"]["state"] != "running" for key in stuck)
    shown = sum(jobs.synced(after[key]) for key in unshown)
    oldest = stuck[0]
    print(
        f"queries: {store.queries}, transactions: {store.transactions} "
        f"(Firestore bills their reads; each holds a lock and a commit round trip), "
        f"republished: {len(published)}"
    )
    print(
        f"stuck jobs handled: {handled} of {len(stuck)} (the oldest, 9 minutes late: "
        f"{'yes' if after[oldest]['stages']['downloader']['state'] != 'running' else 'NO'}); "
        f"unshown statuses sent: {shown} of {len(unshown)}; re-driven {len(report.redriven)}"
    )
    label = "before" if args.before else "after"
    print(f"reconciler ({label}): {args.open} open, {args.need} need action: "
          f"{store.reads} reads, {store.writes} writes, {seconds:.2f} s per poll")  # fmt: skip
    return 0 if handled == len(stuck) and shown == len(unshown) else 1


def _seed(store, jobs, now: float, total: int, need: int) -> tuple[list[str], list[str]]:
    """`total` open jobs; `need` of them need action (half stuck, half unshown), created
    before the others, so a reconciler reading the newest first meets them last."""

    def running(key: str, at: float, lease: float) -> dict:
        link = {"url": f"https://www.tiktok.com/@a/video/{key}", "tag": "cooking"}
        doc = jobs.new_job(key, link, {"tag": "cooking"}, at)
        doc["published"] = True
        doc = jobs.claim(
            doc, "downloader", now=at, token="t", lease=lease, deadline=600, worker="w"
        )[0]
        return jobs.mark_sent(doc, doc["notion"]["want"], now=at)[0]

    stuck = [f"stuck{n}" for n in range(need // 2)]
    unshown = [f"unshown{n}" for n in range(need - len(stuck))]
    for n, key in enumerate(stuck):
        store.put(jobs.JOBS, key, running(key, now - 600 + n, lease=60))
    for n, key in enumerate(unshown):
        doc = running(key, now - 500 + n, lease=600)
        done = jobs.complete(doc, "downloader", "t", {}, now=now - 500 + n)[0]
        store.put(jobs.JOBS, key, jobs.fail(done, None, "gone", now=now - 500 + n)[0])
    for n in range(total - need):
        key = f"busy{n:04d}"
        store.put(jobs.JOBS, key, running(key, now - 300 + n * 0.1, lease=3600))
    return stuck, unshown


if __name__ == "__main__":
    sys.exit(main())
