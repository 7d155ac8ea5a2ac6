"""What the local data folder (SVP_DATA_DIR) holds, and what leaves it.

- A local file's job keeps no copy of the file once its page is written (the person has the
  original), and a failed job's input is removed unless its messages wait in the dead-letter
  store (a replay needs them).
- The artifacts of a job that ended more than SVP_KEEP_DAYS ago are removed, and a job that
  failed for good loses its input at once (`expire`, run by `svp process`, each poll of
  `svp run` and `svp serve --worker`, and `svp clean`). Pages in output/ and the job
  records stay: they are the product and the history `svp jobs` shows.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from svp.runtime import jobs
from svp.runtime.context import Runtime

# A writer's temporary file (LocalBlobStore writes then renames) older than this was orphaned
# by a killed process.
PART_SECONDS = 3600
# The artifacts that hold the input itself: the downloaded or given media and images (at
# jobs/<job>/<stage>/..., an attempt's own folder below the stage's or not).
INPUT_GLOBS = ("input/**/*", "downloader/**/media*", "downloader/**/image-*")


@dataclass
class Freed:
    jobs: int = 0
    bytes: int = 0

    def add(self, path: Path) -> None:
        self.bytes += size_of(path)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _blocks(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except OSError:  # removed meanwhile (another worker on the same folder cleans too)
        return 0


def size_of(path: Path) -> int:
    """Bytes on disk (allocated blocks: a sparse file counts what it really takes)."""
    if path.is_file():
        return _blocks(path)
    return sum(_blocks(p) for p in path.rglob("*") if p.is_file())


def usage(data_dir: Path) -> dict[str, int]:
    """Bytes on disk by part: artifacts, output pages, the state and queue databases."""
    if not data_dir.exists():
        return {"artifacts": 0, "output": 0, "databases": 0, "total": 0}
    parts = {
        "artifacts": size_of(data_dir / "artifacts") if (data_dir / "artifacts").exists() else 0,
        "output": size_of(data_dir / "output") if (data_dir / "output").exists() else 0,
        "databases": sum(size_of(p) for p in data_dir.glob("*.db*")),
    }
    return {**parts, "total": size_of(data_dir)}


def _jobs_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "artifacts" / "jobs"


def drop_input(runtime: Runtime, job_id: str) -> Freed:
    freed = Freed()
    folder = _jobs_dir(runtime) / job_id
    for pattern in INPUT_GLOBS:
        for path in folder.glob(pattern):
            if path.is_file():
                freed.add(path)
    return freed


def after_process(runtime: Runtime, job: jobs.Doc) -> Freed:
    """`svp process`'s job ended: its input's copy goes unless a replay may need it."""
    if runtime.settings.uses_gcp or not job:
        return Freed()
    job_id = job["job_id"]
    if job.get("status") == "done" and job["link"].get("path"):
        return drop_input(runtime, job_id)
    if job.get("status") == "failed" and job_id not in runtime.dead_letters.job_ids():
        return drop_input(runtime, job_id)
    return Freed()


def _ended_at(job: jobs.Doc | None) -> float | None:
    """When the job ended (its last update), or None while it runs."""
    if job is None or not jobs.is_terminal(job):
        return None
    try:
        return datetime.fromisoformat(str(job.get("updated_at"))).timestamp()
    except ValueError:
        return 0.0


def expire(runtime: Runtime, keep_days: float | None = None, now: float | None = None) -> Freed:
    """Remove the artifacts of jobs that ended more than `keep_days` (SVP_KEEP_DAYS) ago,
    of jobs no record knows, and writers' orphaned temporary files. Local backend only."""
    freed = Freed()
    folder = _jobs_dir(runtime)
    if runtime.settings.uses_gcp or not folder.is_dir():
        return freed
    now = time.time() if now is None else now
    keep = (runtime.settings.keep_days if keep_days is None else keep_days) * 86400
    replayable = runtime.dead_letters.job_ids() or set()
    for job_dir in folder.iterdir():
        if not job_dir.is_dir():
            continue
        job = runtime.state.get(jobs.JOBS, job_dir.name)
        ended = _ended_at(job) if job is not None else _mtime(job_dir)
        if ended is not None and now - ended >= keep:
            freed.add(job_dir)
            freed.jobs += 1
        elif job and job["status"] == "failed" and job["job_id"] not in replayable:
            # Failed for good: its input serves nothing (a new try downloads it again).
            dropped = drop_input(runtime, job["job_id"])
            freed.bytes += dropped.bytes
    for part in folder.rglob(".part-*"):
        if now - (_mtime(part) or now) > PART_SECONDS:
            freed.add(part)
    return freed


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile
        return None


def human(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"
