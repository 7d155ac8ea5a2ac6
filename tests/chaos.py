"""Randomized fault injection against real `svp run` workers: every link must still end.

A scenario (all its choices drawn from one seed) saves a few short clips in a fake Notion Link
Database, under several URL forms (a tracking parameter, a fragment, upper case, a redirect)
and two tags, then runs one or two `svp run` worker processes on one data folder while:
- workers are killed with SIGKILL at random moments and started again;
- the fake Notion answers 429 (with Retry-After), 5xx before or after applying a write, slowly,
  or drops the connection before or after applying it;
- the fake LLM is down, answers garbage, is slow, or fails now and then;
- links already done are set back to pending, as a person would.
Then faults stop, the workers are killed, and one clean `svp run --once` runs. The verdict
is read from the fake Notion's own state and the data folder:
- every link shows `done` with its page, or `failed` with a reason ("link not ended");
- one page per (database, video) ("duplicate page"), each pointed at by a link of its video
  ("page without its link"), and a done link points at its video's page in its tag's database
  ("link at a wrong page");
- every dead-lettered message's job has ended ("dead letter of a live job");
- no worker exited on its own ("worker crashed"), the clean run ended normally.

Used by tests/test_chaos.py (a few seeds) and bench/chaos.py (hundreds, with a table).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.clipgen import make_clip
from tests.fakes._server import Fault, RecordedRequest, Reply
from tests.fakes.gemini import FakeGemini
from tests.fakes.notion import FakeNotion

ROOT = Path(__file__).resolve().parents[1]
# The code the workers run (another checkout, to measure an older version the same way).
CODE = Path(os.environ.get("SVP_CHAOS_CODE") or ROOT)
CLIPS = ("A", "B", "C")
TAGS = ("cooking", "places")
LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": list(TAGS)},
    "status": {"type": "select", "options": ["pending"]},
    "processing_type": {"type": "select", "options": ["reprocess"]},
    "error": "rich_text",
    "result": "url",
    "updated_time": "date",
}
CONTENT_SCHEMA = {"name": "title", "video_link": "url", "steps": "rich_text"}
NOTION_FAULTS = ("429", "5xx", "5xx_after", "slow", "drop", "drop_after")
LLM_MODES = ("ok", "down", "garbage", "slow", "flaky")


@dataclass(frozen=True)
class Scenario:
    seed: int
    links: tuple[tuple[str, str, str], ...]  # (clip, URL form, tag)
    workers: int
    duration: float
    kill_times: tuple[float, ...]
    notion_fault_rate: float
    notion_faults: tuple[str, ...]
    llm: str
    set_back: tuple[tuple[float, int], ...]  # (when, link index): back to pending

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        rng = random.Random(seed)
        duration = rng.uniform(5, 10)
        links = tuple(
            (
                rng.choice(CLIPS),
                rng.choice(("plain", "tracking", "fragment", "upper", "redirect")),
                rng.choice(TAGS) if rng.random() < 0.3 else TAGS[0],
            )
            for _ in range(rng.randint(3, 6))
        )
        return cls(
            seed=seed,
            links=links,
            workers=rng.choice((1, 2)),
            duration=duration,
            kill_times=tuple(sorted(rng.uniform(0.5, duration) for _ in range(rng.randint(0, 4)))),
            notion_fault_rate=rng.choice((0.0, 0.05, 0.15, 0.3)),
            notion_faults=tuple(rng.sample(NOTION_FAULTS, rng.randint(1, len(NOTION_FAULTS)))),
            llm=rng.choice(LLM_MODES),
            set_back=tuple(
                (rng.uniform(2, duration), rng.randrange(len(links)))
                for _ in range(rng.choice((0, 0, 1, 2)))
            ),
        )

    def tally(self) -> Counter:
        """What the scenario did, for the table of bench/chaos.py."""
        return Counter(
            {
                "links": len(self.links),
                "worker kills": len(self.kill_times),
                "two workers": self.workers == 2,
                "Notion faults on": self.notion_fault_rate > 0,
                "LLM not ok": self.llm != "ok",
                "links set back to pending": len(self.set_back),
            }
        )

    def describe(self) -> str:
        return (
            f"seed {self.seed}: {len(self.links)} links, {self.workers} worker(s), "
            f"{len(self.kill_times)} kills, Notion faults {self.notion_fault_rate:.0%} "
            f"{'/'.join(self.notion_faults)}, LLM {self.llm}, {len(self.set_back)} set back"
        )


@dataclass
class Verdict:
    scenario: Any  # a Scenario, or a tests.localcloud.chaos.CloudScenario
    violations: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    logs: str = ""
    rerun: str = "python bench/chaos.py"

    def violate(self, kind: str, detail: str) -> None:
        self.kinds[kind] += 1
        self.violations.append(f"{kind}: {detail}")

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        lines = [f"chaos {self.scenario.describe()}: {len(self.violations)} violation(s)"]
        lines += [f"  - {v}" for v in self.violations]
        lines.append(f"  rerun: {self.rerun} --seed {self.scenario.seed}")
        return "\n".join(lines)


def make_clips(folder: Path) -> Path:
    """One short silent clip per video, each with its name on screen (made once)."""
    folder.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS:
        out = folder / f"{clip}.mp4"
        if not out.exists():
            make_clip(out, overlays=[(0, 1.5, f"Clip {clip}")], duration=1.5, size=(360, 640))
    return folder


class _MediaHandler(http.server.SimpleHTTPRequestHandler):
    """Serves /clips/X.mp4, and /go/X as a redirect to it (a short link)."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/go/"):
            self.send_response(302)
            self.send_header("Location", f"/clips/{path[4:]}.mp4")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.path = path.removeprefix("/clips")
        # A worker killed mid-download breaks the pipe: what the scenario is for, not an error.
        with contextlib.suppress(ConnectionError):
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _url(base: str, clip: str, form: str) -> str:
    return {
        "plain": f"{base}/clips/{clip}.mp4",
        "tracking": f"{base}/clips/{clip}.mp4?utm_source=chaos&fbclid=x",
        "fragment": f"{base}/clips/{clip}.mp4#t=1",
        "upper": f"{base.upper()}/clips/{clip}.mp4",
        "redirect": f"{base}/go/{clip}",
    }[form]


def clip_of(url: str) -> str | None:
    found = re.search(r"/(?:clips|go)/([A-Z])\b", url or "")
    return found.group(1) if found else None


class _Faults:
    """The fake Notion's misbehaviour, drawn per request from the scenario's seed."""

    def __init__(self, scenario: Scenario):
        self.rng = random.Random(scenario.seed * 7919)
        self.rate = scenario.notion_fault_rate
        self.kinds = scenario.notion_faults
        self.on = True
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Fault | None:
        with self.lock:
            if not self.on or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(self.kinds)
            wait = self.rng.uniform(0, 1)
        error = Reply(
            503,
            {"object": "error", "status": 503, "code": "service_unavailable", "message": "chaos"},
        )
        if kind == "429":
            limited = Reply(
                429,
                {"object": "error", "status": 429, "code": "rate_limited", "message": "chaos"},
                {"Retry-After": f"{wait:.1f}"},
            )
            return Fault("reply", limited)
        return {
            "5xx": Fault("reply", error),
            "5xx_after": Fault("reply_after", error),
            "slow": Fault(delay=wait * 2),
            "drop": Fault("drop"),
            "drop_after": Fault("drop_after"),
        }[kind]


def _llm(mode: str, rng: random.Random):
    lock = threading.Lock()

    def answer(body: dict[str, Any]) -> Any:
        text = json.dumps(body)
        clip = re.search(r"Clip ([A-Z])", text)
        name = f"Recipe {clip.group(1)}" if clip else "Recipe"
        with lock:
            roll = rng.random()
        if mode == "garbage" or (mode == "flaky" and roll < 0.3):
            return "Sure! Here is your JSON: {name: oops"
        if mode == "slow":
            time.sleep(3)
        return {"name": name, "steps": "Cook it."}

    return answer


def misbehave(gemini: FakeGemini, mode: str, rng: random.Random) -> None:
    """The LLM's failures of `mode` (its answers are `_llm`'s)."""
    if mode == "down":
        gemini.fail_next(503, times=10_000)
    elif mode == "flaky":
        error = Reply(503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "chaos"}})
        gemini.fault_plan = lambda r: Fault("reply", error) if rng.random() < 0.3 else None


def save_links(
    notion: FakeNotion, links_db: str, base: str, links: tuple[tuple[str, str, str], ...]
) -> list[str]:
    """Each (clip, URL form, tag) saved as a pending row of the Link Database: the row ids."""
    return [
        notion.add_page(
            links_db,
            {
                "Name": f"{clip} {form}",
                "url": _url(base, clip, form),
                "tag": tag,
                "status": "pending",
            },
        )
        for clip, form, tag in links
    ]


class _Worker:
    def __init__(self, command: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.out = open(log, "ab")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=CODE,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its children (yt-dlp, ffmpeg) die with it
        )
        self.killed = False

    def kill(self) -> None:
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.out.close()

    def crashed(self) -> bool:
        return not self.killed and self.process.poll() is not None


def run(scenario: Scenario, clips: Path, workdir: Path) -> Verdict:
    started = time.monotonic()
    verdict = Verdict(scenario)
    handler = functools.partial(_MediaHandler, directory=str(clips))
    media = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{media.server_address[1]}"
    faults = _Faults(scenario)
    llm_rng = random.Random(scenario.seed * 104729)
    with FakeNotion() as notion, FakeGemini(_llm(scenario.llm, llm_rng)) as gemini:
        misbehave(gemini, scenario.llm, llm_rng)
        data = workdir / "data"
        env = _environment(notion, gemini, data)
        links_db, content = _databases(notion, env)
        rows = save_links(notion, links_db, base, scenario.links)
        notion.fault_plan = faults
        command = [sys.executable, "-m", "svp.cli", "run"]
        workers = [
            _Worker(command, env, workdir / f"worker-{i}.log") for i in range(scenario.workers)
        ]
        events = sorted(
            [(t, "kill", 0) for t in scenario.kill_times]
            + [(t, "set_back", i) for t, i in scenario.set_back]
        )
        rng = random.Random(scenario.seed)
        t0 = time.monotonic()
        for when, what, index in events:
            time.sleep(max(0.0, t0 + when - time.monotonic()))
            if what == "kill":
                victim = rng.randrange(len(workers))
                workers[victim].kill()
                workers.append(_Worker(command, env, workdir / f"worker-{len(workers)}.log"))
                workers[victim] = workers.pop()
            elif _shows(notion, rows[index]) in ("done", "failed"):
                notion.edit_page(rows[index], {"status": "pending"})
        time.sleep(max(0.0, t0 + scenario.duration - time.monotonic()))
        for worker in workers:
            if worker.crashed():
                verdict.violate("worker crashed", _tail(worker.log))
        faults.on = False
        gemini.failures.clear()
        gemini.fault_plan = None
        for worker in workers:
            worker.kill()
        clean = subprocess.run(
            [*command, "--once"], env=env, cwd=CODE, capture_output=True, timeout=600
        )
        if clean.returncode not in (0, 1):
            verdict.violate("clean run crashed", clean.stderr.decode()[-2000:])
        check_links(verdict, notion, rows, content)
        _check_dead_letters(verdict, data)
        if not verdict.ok:
            verdict.logs = "\n".join(_tail(w.log, 40) for w in workers)
            verdict.logs += "\n--- clean run ---\n" + clean.stderr.decode()[-4000:]
    media.shutdown()
    verdict.seconds = time.monotonic() - started
    return verdict


def _environment(notion: FakeNotion, gemini: FakeGemini, data: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(CODE / "shared"),
        "SVP_DATA_DIR": str(data),
        "NOTION_TOKEN": notion.token,
        "NOTION_BASE_URL": notion.base_url,
        "GEMINI_API_KEY": "chaos",
        "GOOGLE_GEMINI_BASE_URL": gemini.base_url,
        "SVP_ALLOWED_HOSTS": "127.0.0.1",
        "SVP_OCR": "tesseract",
        "SVP_LEASE_SECONDS": "2",
        "SVP_POLL_INTERVAL": "1",
        "SVP_CONCURRENCY": "3",
        "SVP_RETRY_MIN_SECONDS": "0.2",
        "SVP_RETRY_MAX_SECONDS": "1",
        "SVP_NOTION_RETRY_SECONDS": "0.05",
        "SVP_LLM_TIMEOUT": "2",
        "SVP_LLM_ATTEMPTS": "2",
        "SVP_LLM_RETRY_SECONDS": "0.1",
    }


def _databases(notion: FakeNotion, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The Link Database and one Content Database per tag, registered in the data folder."""
    _, links = notion.add_database("Links", LINK_SCHEMA)
    content = {tag: notion.add_database(tag.title(), CONTENT_SCHEMA)[1] for tag in TAGS}
    mapping = ",".join(f"{tag}={source}" for tag, source in content.items())
    env.update(SVP_LINK_DATABASES=links, SVP_CONTENT_DATABASES=mapping)
    return links, content


def _shows(notion: FakeNotion, page: str) -> str:
    return notion.plain(notion.page(page), "status") or ""


def check_links(
    verdict: Verdict, notion: FakeNotion, rows: list[str], content: dict[str, str]
) -> None:
    """Every link ended, one page per (database, video), each page pointed at by its links."""
    pages = {tag: notion.pages_in(source) for tag, source in content.items()}
    url_of = {tag: {p["url"]: p for p in found} for tag, found in pages.items()}
    pointed: set[str] = set()
    for page_id, (clip, form, tag) in zip(rows, verdict.scenario.links, strict=True):
        shown = notion.page(page_id)
        status = notion.plain(shown, "status")
        result = notion.plain(shown, "result") or ""
        error = notion.plain(shown, "error") or ""
        if status == "failed" and error:
            continue
        if status not in ("done", "done (needs review)") or not result:
            verdict.violate("link not ended", f"{clip}/{form}/{tag} shows {status!r} {error!r}")
            continue
        page = url_of[tag].get(result)
        source = notion.plain(page, "video_link") if page else ""
        if page is None or clip_of(source) != clip:
            verdict.violate("link at a wrong page", f"{clip}/{form}/{tag} -> {result}")
            continue
        pointed.add(page["id"])
    for tag, found in pages.items():
        by_clip = Counter(clip_of(notion.plain(p, "video_link") or "") for p in found)
        for clip, count in by_clip.items():
            if count > 1:
                verdict.violate("duplicate page", f"{count} pages of {clip} in {tag}")
        for page in found:
            if page["id"] not in pointed:
                verdict.violate("page without its link", f"{page['url']} in {tag}")


def _check_dead_letters(verdict: Verdict, data: Path) -> None:
    import sqlite3

    queue, state = data / "queue.db", data / "state.db"
    if not queue.exists() or not state.exists():
        return
    with sqlite3.connect(queue) as q, sqlite3.connect(state) as s:
        for (attributes,) in q.execute("SELECT attributes FROM messages WHERE dead_at IS NOT NULL"):
            job_id = json.loads(attributes).get("job_id", "")
            row = s.execute(
                "SELECT json_extract(body, '$.status') FROM documents"
                " WHERE collection = 'jobs' AND key = ?",
                (job_id,),
            ).fetchone()
            if not row or row[0] not in ("done", "failed"):
                verdict.violate("dead letter of a live job", f"{job_id} is {row and row[0]}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_seed(seed: int, clips: Path) -> Verdict:
    with tempfile.TemporaryDirectory(prefix=f"svp-chaos-{seed}-") as tmp:
        return run(Scenario.draw(seed), clips, Path(tmp))
