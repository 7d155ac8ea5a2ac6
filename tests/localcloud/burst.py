"""A burst of links on the local cloud: many links saved within a minute, every stage taking a
set time per link, on functions sized as Terraform deploys them (var.max_instances, Cloud Run's
429 past it) with limits.json's admission.

The stage time is a knob of the fakes, never of the product: the media server answers the
downloader's fetch of the clip after it, fake OpenAI the transcription, fake Vision the text
reading, fake Gemini the summary and fake Notion the page creation. Every time is scaled by one
factor (`scale`): the functions' limits (SVP_LIMITS_SCALE), the poll period, the push
subscriptions' back-off and the stage times, so that a burst of hours drains in minutes; the
outcome is reported back in unscaled seconds.

The verdict comes from what an operator sees: every link's row in Notion, each stage's
dead-letter subscription, and the job documents in Firestore (a stage that ran has
`attempts` > 0), so a dead letter whose stage never started is a link dead-lettered without
running. Used by bench/burst.py and tests/test_local_cloud_burst.py.
"""

from __future__ import annotations

import contextlib
import http.server
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tests.chaos import CONTENT_SCHEMA, LINK_SCHEMA, _llm
from tests.clipgen import make_clip
from tests.fakes._server import Fault, RecordedRequest
from tests.fakes.gemini import FakeGemini
from tests.fakes.notion import FakeNotion
from tests.fakes.openai import FakeOpenAI
from tests.fakes.vision import FakeVision
from tests.localcloud.cloud import BUCKET, PREFIX, PROJECT, LocalCloud

# How much of its function's timeout a stage's set time may take: the writer's 120 s limit
# leaves no room for a 120 s page creation and its Notion calls (rate-limited in real time,
# which scaling magnifies), so it is held to 60 s (printed beside the table).
STAGE_SHARE = 0.5
# Cloud Vision requests the ocr stage makes for the burst's clip (its text, then the picture's
# check for text): each answers after half the stage's set time.
VISION_CALLS = 2
# Leases are the product's 60 s, scaled but never below this: a heartbeat every lease/2 must
# survive the CPU noise of eight processes and two Java emulators on a small machine.
MIN_LEASE_S = 10.0
ENDED = ("done", "failed")


@dataclass(frozen=True)
class Burst:
    links: int = 100
    spread: float = 60.0  # seconds (unscaled) within which the links are saved
    stage_seconds: float = 30.0  # each stage's time per link (unscaled)
    scale: float = 0.1
    settle: float = 36_000.0  # unscaled seconds to wait for every link to end
    backoff: tuple[float, float] = (10.0, 600.0)  # the push retry policy (unscaled)

    def stage_time(self, stage: str) -> float:
        """The stage's set time (unscaled), held under its function's timeout."""
        from svp import limits

        timeout = int(limits.table()["functions"][stage]["timeout_seconds"])
        return min(self.stage_seconds, STAGE_SHARE * timeout)


@dataclass
class Outcome:
    burst: Burst
    ended: dict[str, int] = field(default_factory=dict)  # status shown -> links
    unended: int = 0
    dead_letters: list[tuple[str, str, bool]] = field(default_factory=list)  # stage, job, ran
    refused: dict[str, int] = field(default_factory=dict)  # function -> 429s
    overruns: dict[str, int] = field(default_factory=dict)  # function -> 504s
    drain: float = 0.0  # unscaled: first link saved -> last link ended
    stage_means: dict[str, float] = field(default_factory=dict)  # unscaled, measured
    crashed: list[str] = field(default_factory=list)  # functions found exited, started again
    # Links that showed an end and then something else: (row, the status writes it got).
    regressed: list[tuple[str, list[str]]] = field(default_factory=list)
    kept: Path | None = None  # the logs, kept when something went wrong
    calls: dict[str, int] = field(default_factory=dict)  # delayed calls per fake, all links
    wall: float = 0.0  # real seconds of the whole run

    @property
    def unrun(self) -> int:
        return sum(1 for _, _, ran in self.dead_letters if not ran)

    @property
    def done(self) -> int:
        return sum(n for status, n in self.ended.items() if status.startswith("done"))


class _SlowMedia(http.server.SimpleHTTPRequestHandler):
    """/clips/<n>.mp4 serves the one clip under as many URLs (one video each), answering the
    first fetch of each after the downloader's set time (yt-dlp fetches it twice)."""

    delay = 0.0
    clip = Path()
    fetches = 0
    seen: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        if not self.path.startswith("/clips/"):
            self.send_error(404)
            return
        data = self.clip.read_bytes()
        type(self).fetches += 1
        if self.path not in self.seen:
            self.seen.add(self.path)
            time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # a downloader killed mid-fetch
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(self.clip.stat().st_size))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def make_burst_clip(folder: Path) -> Path:
    """A short clip with speech (one transcription call) and one line of text on screen."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "burst.mp4"
    if not out.exists():
        make_clip(
            out,
            speech_text="Stir the soup.",
            overlays=[(0, 2.0, "Clip B")],
            duration=2.0,
            size=(360, 640),
        )
    return out


def _after(method: str, path: str, seconds: float) -> Callable[[RecordedRequest], Fault | None]:
    def plan(request: RecordedRequest) -> Fault | None:
        if request.method == method and path in request.path:
            return Fault(delay=seconds)
        return None

    return plan


def run(burst: Burst, clip: Path, workdir: Path, log: Callable[[str], None] = print) -> Outcome:
    """Saves `burst.links` links within `burst.spread`, waits for all to end, and tallies."""
    started = time.monotonic()
    s = burst.scale
    outcome = Outcome(burst)
    delay = burst.stage_time("downloader") * s
    handler = type("Media", (_SlowMedia,), {"delay": delay, "clip": clip, "seen": set()})
    media = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{media.server_address[1]}"
    with (
        FakeNotion() as notion,
        FakeGemini(_llm("ok", random.Random(0))) as gemini,
        FakeOpenAI(transcriber=lambda *_: "Stir the soup.") as openai,
        FakeVision(lambda _image: "Clip B") as vision,
    ):
        openai.fault_plan = _after(
            "POST", "/audio/transcriptions", burst.stage_time("transcriber") * s
        )
        vision_delay = burst.stage_time("ocr") * s / VISION_CALLS
        vision.fault_plan = _after("POST", "images:annotate", vision_delay)
        gemini.fault_plan = _after("POST", ":generateContent", burst.stage_time("summarizer") * s)
        writer_delay = burst.stage_time("writer") * s
        notion.fault_plan = lambda r: (
            Fault(delay=writer_delay) if (r.method, r.path) == ("POST", "/v1/pages") else None
        )
        _, links_db = notion.add_database("Links", LINK_SCHEMA)
        _, recipes = notion.add_database("Cooking", CONTENT_SCHEMA)
        cloud = LocalCloud(
            workdir,
            notion=notion,
            gemini=gemini,
            openai=openai,
            vision=vision,
            variables={"link_databases": links_db, "content_databases": f"cooking={recipes}"},
            knobs=_knobs(base, burst),
            time_scale=s,
            poll_every=60.0 * s,
            # Pub/Sub's least minimum back-off is 1 s.
            backoff=(max(1.0, burst.backoff[0] * s), max(1.0, burst.backoff[1] * s)),
        )
        with cloud:
            up = time.monotonic() - started
            log(f"  local cloud up in {up:.0f} s; saving {burst.links} links")
            rows, first_saved = _save(notion, links_db, base, burst)
            last_end = _settle(notion, rows, burst, cloud, outcome, log)
            outcome.drain = (last_end - first_saved) / s
            for row in rows:
                shown = _shows(notion, row)
                key = shown if shown in ("done", "done (needs review)", "failed") else "other"
                if shown.startswith(ENDED):
                    outcome.ended[key] = outcome.ended.get(key, 0) + 1
                else:
                    outcome.unended += 1
                    outcome.regressed.append((row, _status_writes(notion, row)))
            _tally(outcome, cloud, s)
            outcome.calls = {
                "media": handler.fetches,
                "openai": len(openai.requests_to("/audio/transcriptions", "POST")),
                "vision": len(vision.requests_to("images:annotate", "POST")),
                "gemini": len(gemini.requests_to(":generateContent", "POST")),
                "notion pages": sum(
                    (r.method, r.path) == ("POST", "/v1/pages") for r in notion.requests
                ),
            }
        outcome.wall = time.monotonic() - started
    media.shutdown()
    return outcome


def _knobs(media: str, burst: Burst) -> dict[str, str]:
    """Beside Terraform's settings: the media server, a lease no shorter than MIN_LEASE_S, an
    LLM timeout (60 s, scaled) past the summarizer's set time, which the model takes."""
    lease = max(MIN_LEASE_S, 60.0 * burst.scale)
    llm = (burst.stage_time("summarizer") + 60.0) * burst.scale
    return {
        "SVP_ALLOWED_HOSTS": media.removeprefix("http://"),
        "SVP_LEASE_SECONDS": f"{lease:g}",
        "SVP_LLM_TIMEOUT": f"{llm:g}",
        "SVP_NOTION_RETRY_SECONDS": "0.1",
    }


def _save(notion: FakeNotion, links_db: str, base: str, burst: Burst) -> tuple[list[str], float]:
    """The links saved evenly within the spread, as a person importing a backlog would."""
    gap = burst.spread * burst.scale / max(1, burst.links - 1)
    rows: list[str] = []
    first = time.time()
    for n in range(burst.links):
        time.sleep(max(0.0, first + n * gap - time.time()))
        row = notion.add_page(
            links_db,
            {"Name": f"Link {n}", "url": f"{base}/clips/{n}.mp4", "tag": "cooking"},
        )
        notion.edit_page(row, {"status": "pending"})
        rows.append(row)
    return rows, first


def _shows(notion: FakeNotion, row: str) -> str:
    return notion.plain(notion.page(row), "status") or ""


def _status_writes(notion: FakeNotion, row: str) -> list[str]:
    """The statuses written to a link's row, in the order Notion received them."""
    written = []
    for request in notion.requests:
        if request.method == "PATCH" and row.replace("-", "") in request.path.replace("-", ""):
            status = ((request.json or {}).get("properties") or {}).get("status") or {}
            name = (status.get("select") or status.get("status") or {}).get("name")
            if name:
                written.append(name)
    return written


def _settle(
    notion: FakeNotion,
    rows: list[str],
    burst: Burst,
    cloud: LocalCloud,
    outcome: Outcome,
    log: Callable[[str], None],
) -> float:
    """Waits until every row shows an end (or the settle time): when the last one did. A
    function that exited (killed from outside: the machine is shared) is started again, as
    Cloud Run replaces an instance, and named in the outcome."""
    deadline = time.time() + burst.settle * burst.scale
    ended_at: dict[str, float] = {}
    shown_progress = 0.0
    while time.time() < deadline and len(ended_at) < len(rows):
        for row in rows:
            if row not in ended_at and _shows(notion, row).startswith(ENDED):
                ended_at[row] = time.time()
        for name in cloud.crashed():
            log(f"  {name} exited: started again")
            outcome.crashed.append(name)
            cloud.restart(name)
        if time.time() - shown_progress > 30:
            log(f"  {time.strftime('%H:%M:%S')} {len(ended_at)} of {len(rows)} links ended")
            shown_progress = time.time()
        time.sleep(0.5)
    return max(ended_at.values(), default=time.time())


def _tally(outcome: Outcome, cloud: LocalCloud, scale: float) -> None:
    from svp.config import Settings
    from svp.runtime import jobs
    from svp.topology import PIPELINE
    from svp.wiring import build_runtime

    state = build_runtime(
        Settings(backend="gcp", project=PROJECT, bucket=BUCKET, topic_prefix=PREFIX)
    ).state
    for stage in PIPELINE:
        for attributes in cloud.dead_letters(stage):
            job = state.get(jobs.JOBS, attributes.get("job_id", "")) or {}
            ran = (job.get("stages", {}).get(stage, {}).get("attempts") or 0) > 0
            outcome.dead_letters.append((stage, attributes.get("job_id", ""), ran))
    durations: dict[str, list[float]] = {stage: [] for stage in PIPELINE}
    for job in state.list(jobs.JOBS, limit=10_000):
        for stage, record in job["stages"].items():
            if record.get("duration_ms") is not None and stage in durations:
                durations[stage].append(record["duration_ms"] / 1000 / scale)
    outcome.stage_means = {s: statistics.mean(d) for s, d in durations.items() if d}
    for name, function in cloud.functions.items():
        outcome.refused[name] = function.front.refused
        outcome.overruns[name] = function.front.overruns
    outcome.crashed += cloud.crashed()


def run_in_tmp(burst: Burst, clips: Path, log: Callable[[str], None] = print) -> Outcome:
    """`run` in a temporary folder, removed unless something went wrong (its logs are kept)."""
    work = Path(tempfile.mkdtemp(prefix="svp-burst-"))
    outcome = None
    try:
        outcome = run(burst, make_burst_clip(clips), work, log)
        if outcome.unended or outcome.unrun or outcome.regressed:
            outcome.kept = work
        return outcome
    finally:
        if outcome is not None and outcome.kept is None:
            shutil.rmtree(work, ignore_errors=True)
