"""What a person sees when `svp` is given something it cannot use: one line on stderr, in
words, naming what they typed, and the exit code of README's table; no traceback, no JSON log
line without -v, and no job made for input refused up front."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svp.reasons import plain

ROOT = Path(__file__).resolve().parents[1]


def svp(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "svp.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    """The only line on stderr (a failure is said once, in words)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and '"severity"' not in result.stderr
    return lines[0]


def no_jobs(cwd: Path) -> None:
    listing = svp("jobs", cwd=cwd)
    assert listing.returncode == 0 and listing.stdout.startswith("no jobs"), listing.stdout


def test_a_missing_file_or_a_folder_is_refused_before_any_job(env, tmp_path):
    missing = svp("process", str(tmp_path / "nope.mp4"), "--tag", "cooking", cwd=tmp_path)
    assert missing.returncode == 2
    assert one_line(missing) == f"svp: no such file: {tmp_path / 'nope.mp4'}"
    relative = svp("process", "clips/dinner.mov", "--tag", "cooking", cwd=tmp_path)
    assert (relative.returncode, one_line(relative)) == (2, "svp: no such file: clips/dinner.mov")
    folder = svp("process", str(tmp_path), "--tag", "cooking", cwd=tmp_path)
    assert folder.returncode == 2
    assert one_line(folder) == f"svp: {tmp_path} is a folder, not a video or image file"
    no_jobs(tmp_path)


def test_a_file_over_the_size_limit_is_refused_without_being_copied(env, tmp_path):
    huge = tmp_path / "huge.mp4"
    with open(huge, "wb") as out:  # sparse: 3 GB long, nothing written
        out.truncate(3 * 1024**3)
    result = svp("process", str(huge), "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 1
    assert one_line(result) == (
        f"svp: {huge} is 3,072 MB, over the 100 MB limit (SVP_MAX_MB): nothing was copied"
    )
    no_jobs(tmp_path)
    held = sum(p.stat().st_blocks * 512 for p in (tmp_path / ".svp").rglob("*") if p.is_file())
    assert held < 1024 * 1024, f".svp holds {held} bytes"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "svp: --schema: no such file: schema.json"),
        ('{"name": {"type": "title"},', "svp: --schema: schema.json is not valid JSON (line 1,"),
        (
            '{"name": {"type": "title"}, "rating": {"type": "stars"}}',
            "svp: --schema: 'rating' has type 'stars', which Notion does not have; "
            "the summary fills title, rich_text,",
        ),
        ("[1, 2]", "svp: --schema: schema.json must hold a JSON object"),
    ],
)
def test_a_schema_file_that_cannot_be_used_is_named(env, tmp_path, clips, content, message):
    if content is not None:
        (tmp_path / "schema.json").write_text(content)
    args = ("process", str(clips / "pasta.mp4"), "--tag", "x", "--schema", "schema.json")
    result = svp(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result).startswith(message)
    no_jobs(tmp_path)


def test_register_and_run_share_one_code_and_message_without_notion(env, tmp_path):
    no_tag = svp("register", "content-db", "0123456789abcdef0123456789abcdef", cwd=tmp_path)
    assert no_tag.returncode == 2
    assert "needs --tag TAG" in one_line(no_tag)
    results = [
        svp("register", "link-db", "0123456789abcdef0123456789abcdef", cwd=tmp_path),
        svp(
            "register", "content-db", "0123456789abcdef0123456789abcdef", "--tag", "x", cwd=tmp_path
        ),
        svp("run", "--once", cwd=tmp_path),
    ]
    for result in results:
        assert result.returncode == 2
        assert one_line(result).startswith("svp: NOTION_TOKEN is not set: ")


def test_jobs_json_into_head_ends_quietly(env, tmp_path, runtime):
    from svp.runtime import jobs

    for n in range(300):  # far more than a pipe's buffer
        job = jobs.new_job(f"cli-{n:04d}", {"url": f"https://x.example/{n}", "tag": "t"}, {}, 0)
        runtime.state.create(jobs.JOBS, job["job_id"], job)
    result = subprocess.run(
        f"{sys.executable} -m svp.cli jobs --json --limit 300 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
        timeout=60,
    )
    assert result.stdout == "[\n"
    assert result.stderr == ""


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def failing_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_retries_show_as_progress_and_the_failure_is_said_once(env, tmp_path, failing_site):
    url = f"{failing_site}/clip.mp4"
    result = svp("process", url, "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and '"severity"' not in result.stderr
    retries = [line for line in lines if "↻" in line]
    said = "↻ downloader: the site (127.0.0.1) is failing (server error), attempt"
    # attempts 2 and 3 of SVP_MAX_ATTEMPTS=3, each once, with the wait when it was seen
    assert [r.strip().removesuffix(" in 0 s") for r in retries] == [
        f"{said} 2 of 3",
        f"{said} 3 of 3",
    ]
    failures = [line for line in lines if line.startswith("svp:")]
    assert failures == [
        "svp: failed: downloader: the site (127.0.0.1) is failing (server error) "
        "(gave up after 3 attempts) (svp jobs shows the details)"
    ]


def test_verbose_shows_the_json_log_lines(env, tmp_path, failing_site):
    env_max = {"SVP_MAX_ATTEMPTS": "1"}
    os.environ.update(env_max)
    result = svp("-v", "process", f"{failing_site}/clip.mp4", "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 1
    assert '"severity": "ERROR"' in result.stderr


def test_plain_words_name_the_site_typed_not_the_proxy():
    raw = (
        "gave up after 5 attempts: the site is unreachable or failing, will retry: Unable to "
        "download webpage: HTTPConnectionPool(host='127.0.0.1', port=44387): Read timed out."
    )
    said = plain(raw, "https://www.tiktok.com/@chef/video/1")
    assert said == "the site (www.tiktok.com) is not answering (gave up after 5 attempts)"
    assert plain("the video is private: ERROR: [TikTok] 1: private", "") == (
        "the video is private: ERROR: [TikTok] 1: private"
    )


def test_ctrl_c_releases_the_job_and_exits_130(env, tmp_path, clips):
    process = subprocess.Popen(
        [sys.executable, "-m", "svp.cli", "process", str(clips / "pasta.mp4"), "--tag", "cooking"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # wait until the transcriber or the OCR stage runs
        seen.append(line)
        if line.strip().startswith("… "):
            break
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == 130
    assert time.monotonic() - started < 10
    assert "Traceback" not in rest
    assert "svp: stopped by Ctrl-C during " in rest, [*seen, rest]
    listed = json.loads(svp("jobs", "--json", cwd=tmp_path).stdout)
    assert [job["status"] for job in listed] == ["failed"]
    assert listed[0]["error"].startswith("stopped by Ctrl-C during ")
    running = [s for s, r in listed[0]["stages"].items() if r["state"] in ("running", "leased")]
    assert running == []


def test_a_video_cut_short_makes_a_page_marked_for_review_saying_what_is_missing(
    env, tmp_path, clips
):
    whole = (clips / "pasta.mp4").read_bytes()
    cut = tmp_path / "pasta-cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    result = svp("process", str(cut), "--tag", "cooking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = re.search(r"the file ends at 0:0(\d) of 0:12", result.stdout)
    assert said and 3 <= int(said.group(1)) <= 9, result.stdout
    assert "> ⚠️ Needs review: the file ends at" in result.stdout
    assert re.search(r"^svp: needs review: the file ends at 0:0\d of 0:12", result.stderr, re.M)

    whole_run = svp("process", str(clips / "pasta.mp4"), "--tag", "cooking", cwd=tmp_path)
    assert whole_run.returncode == 0 and "the file ends at" not in whole_run.stdout


def test_without_v_a_worker_says_each_failed_job_once_in_words(capsys):
    import logging

    from svp.log import log_context, setup_human_logging

    setup_human_logging()
    runner = logging.getLogger("svp.runner")
    url = "https://www.tiktok.com/@chef/video/1"
    reason = (
        "gave up after 5 attempts: HTTPConnectionPool(host='127.0.0.1', port=1): Read timed out."
    )
    with log_context(job_id="j1", stage="downloader", url=url):
        try:
            raise TimeoutError("read timed out")
        except TimeoutError:
            runner.exception("giving up after %d attempts", 5)
        runner.error("job failed: %s", reason, extra={"event": "job.failed", "reason": reason})
    assert capsys.readouterr().err.splitlines() == [
        "svp: job j1 failed in downloader: the site (www.tiktok.com) is not answering "
        "(gave up after 5 attempts)"
    ]
