"""The local data folder stays bounded: one copy of a local file (none once its page is
written), no input kept for a failed job, artifacts of ended jobs expire after SVP_KEEP_DAYS,
`svp clean` removes them at once, and `svp jobs` says what the folder holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from svp.config import load_settings
from svp.disk import expire
from svp.runtime import jobs
from svp.wiring import build_runtime

ROOT = Path(__file__).resolve().parents[1]


def svp(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "svp.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared"), **env},
    )


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_local_file_leaves_no_copy_and_its_page_stays(env, tmp_path, clips):
    result = svp("process", str(clips / "pasta.mp4"), "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    artifacts = files(tmp_path / ".svp" / "artifacts")
    assert not [f for f in artifacts if f.endswith(".mp4")], artifacts  # no input/, no media
    assert [f for f in artifacts if "/writer/" in f and f.endswith("page.md")]
    assert len(list((tmp_path / ".svp" / "output").glob("*.md"))) == 1


def test_a_failed_job_keeps_no_input(env, tmp_path, clips):
    (tmp_path / "broken.mp4").write_bytes((clips / "not-media.mp4").read_bytes())
    result = svp("process", str(tmp_path / "broken.mp4"), "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 1
    leftovers = (
        files(tmp_path / ".svp" / "artifacts") if (tmp_path / ".svp/artifacts").exists() else []
    )
    assert not [f for f in leftovers if "input/" in f or "/media" in f], leftovers


def _ended_job(runtime, job_id: str, days_ago: float, status: str = "done") -> Path:
    doc = jobs.new_job(job_id, {"url": "https://x.example/1", "tag": "t"}, {}, 0)
    doc.update(status=status, updated_at=jobs.iso(time.time() - days_ago * 86400))
    runtime.state.create(jobs.JOBS, job_id, doc)
    folder = runtime.settings.data_dir / "artifacts" / "jobs" / job_id / "downloader"
    folder.mkdir(parents=True)
    (folder / "media.mp4").write_bytes(b"\0" * 200_000)
    (folder / "info.json").write_text("{}")
    return folder.parent


def test_artifacts_of_ended_jobs_expire_after_keep_days(env, monkeypatch):
    monkeypatch.setenv("SVP_KEEP_DAYS", "3")
    runtime = build_runtime(load_settings(dotenv=None))
    old = _ended_job(runtime, "old", days_ago=4)
    recent = _ended_job(runtime, "recent", days_ago=1)
    failed = _ended_job(runtime, "failed-recently", days_ago=1, status="failed")
    running = _ended_job(runtime, "running", days_ago=30, status="summarizing")
    freed = expire(runtime)
    assert freed.jobs == 1 and freed.bytes >= 200_000 * 2
    assert not old.exists()
    assert (recent / "downloader" / "media.mp4").exists()
    assert files(failed) == ["downloader/info.json"]  # failed for good: its input goes now
    assert (running / "downloader" / "media.mp4").exists()  # never while it runs
    assert runtime.state.get(jobs.JOBS, "old") is not None  # the record stays for svp jobs


def test_svp_clean_and_svp_jobs_say_what_the_folder_holds(env, tmp_path, runtime):
    _ended_job(runtime, "yesterday", days_ago=1)
    listing = svp("jobs", cwd=tmp_path)
    assert listing.returncode == 0
    last = listing.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{tmp_path / '.svp'} holds ") and "artifacts 2" in last, last
    assert "removed after 7 days (SVP_KEEP_DAYS), or by `svp clean`" in last

    kept = svp("clean", cwd=tmp_path)  # default: 7 days: yesterday's job stays
    assert kept.returncode == 0 and kept.stdout.startswith("removed the artifacts of 0 ended")
    cleaned = svp("clean", "--days", "0", cwd=tmp_path)
    assert cleaned.returncode == 0
    assert cleaned.stdout.startswith("removed the artifacts of 1 ended job(s), 2"), cleaned.stdout
    assert not (tmp_path / ".svp" / "artifacts" / "jobs" / "yesterday").exists()


def test_a_bad_keep_days_is_named(env, tmp_path):
    result = svp("jobs", cwd=tmp_path, SVP_KEEP_DAYS="soon")
    assert result.returncode == 2 and "SVP_KEEP_DAYS" in result.stderr
