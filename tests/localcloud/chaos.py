"""Randomized faults against the local cloud: every link must still end, with one page.

The same promises as tests/chaos.py (the embedded default), kept by the deployed shape: each
function from its own requirements on Google's emulators, Pub/Sub pushing to it. A scenario,
every choice drawn from one seed, saves a few short clips as links (several URL forms, two
tags) while:
- functions are killed (SIGKILL) at random moments and started again, as Cloud Run replaces
  an instance;
- page creation in Notion is held past the writer's timeout for a while: Cloud Run answers 504
  to Pub/Sub and the writer runs on, and may still write, while Pub/Sub redelivers;
- messages are delivered twice (a stage's input published again for a live job);
- Notion answers 429 (Retry-After), 5xx before or after applying a write, slowly, or drops the
  connection; the LLM is down, answers garbage, is slow or flaky;
- links done are set back to pending, as a person would.
Then the faults stop and the scheduler keeps polling until every link has ended (or a time
limit). The verdict, from the fake Notion's state, Firestore and Pub/Sub's dead-letter
subscriptions: every link `done` with its page or `failed` with a reason; one page per
(database, video), each pointed at by a link of its video; every dead letter's job ended; no
function exited on its own.

Used by tests/test_local_cloud.py (a few seeds) and bench/cloud_chaos.py (`make cloud-chaos`).
"""

from __future__ import annotations

import functools
import http.server
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.chaos import (
    CLIPS,
    CONTENT_SCHEMA,
    LINK_SCHEMA,
    LLM_MODES,
    NOTION_FAULTS,
    TAGS,
    Verdict,
    _Faults,
    _llm,
    _MediaHandler,
    _shows,
    check_links,
    misbehave,
    save_links,
)
from tests.fakes._server import Fault, RecordedRequest
from tests.fakes.gemini import FakeGemini
from tests.fakes.notion import FakeNotion
from tests.fakes.openai import FakeOpenAI
from tests.fakes.vision import FakeVision
from tests.localcloud.cloud import BUCKET, PREFIX, PROJECT, LocalCloud

# Every function's time limit × this: the writer gets 6 s, the downloader 27 s.
TIME_SCALE = 0.05
SETTLE_S = 150.0
KILLABLE = ("poller", "downloader", "transcriber", "ocr", "summarizer", "writer")


@dataclass(frozen=True)
class CloudScenario:
    seed: int
    links: tuple[tuple[str, str, str], ...]  # (clip, URL form, tag)
    duration: float
    kills: tuple[tuple[float, str], ...]  # (when, function)
    overrun: tuple[float, float] | None  # page creation held past the writer's timeout
    duplicates: tuple[tuple[float, str], ...]  # (when, stage): its input delivered again
    notion_fault_rate: float
    notion_faults: tuple[str, ...]
    llm: str
    set_back: tuple[tuple[float, int], ...]

    @classmethod
    def draw(cls, seed: int) -> CloudScenario:
        rng = random.Random(seed)
        duration = rng.uniform(20, 40)
        links = tuple(
            (
                rng.choice(CLIPS),
                rng.choice(("plain", "tracking", "fragment", "upper", "redirect")),
                rng.choice(TAGS) if rng.random() < 0.3 else TAGS[0],
            )
            for _ in range(rng.randint(2, 5))
        )
        start = rng.uniform(3, duration / 2)
        return cls(
            seed=seed,
            links=links,
            duration=duration,
            kills=tuple(
                sorted(
                    (rng.uniform(2, duration), rng.choice(KILLABLE))
                    for _ in range(rng.randint(0, 4))
                )
            ),
            overrun=(start, start + rng.uniform(5, 15)) if rng.random() < 0.5 else None,
            duplicates=tuple(
                sorted(
                    (rng.uniform(3, duration), rng.choice(("downloader", "ocr", "writer")))
                    for _ in range(rng.choice((0, 1, 3)))
                )
            ),
            notion_fault_rate=rng.choice((0.0, 0.05, 0.15)),
            notion_faults=tuple(rng.sample(NOTION_FAULTS, rng.randint(1, len(NOTION_FAULTS)))),
            llm=rng.choice(LLM_MODES),
            set_back=tuple(
                (rng.uniform(10, duration), rng.randrange(len(links)))
                for _ in range(rng.choice((0, 0, 1)))
            ),
        )

    def tally(self) -> Counter:
        """What the scenario did, for the table of bench/chaos.py --cloud."""
        return Counter(
            {
                "links": len(self.links),
                "function kills": len(self.kills),
                "writer held past its timeout": self.overrun is not None,
                "duplicate deliveries": len(self.duplicates),
                "Notion faults on": self.notion_fault_rate > 0,
                "LLM not ok": self.llm != "ok",
                "links set back to pending": len(self.set_back),
            }
        )

    def describe(self) -> str:
        kills = "/".join(f for _, f in self.kills) or "none"
        return (
            f"seed {self.seed}: {len(self.links)} links, kills {kills}, "
            f"{'writer overrun, ' if self.overrun else ''}{len(self.duplicates)} duplicates, "
            f"Notion faults {self.notion_fault_rate:.0%} {'/'.join(self.notion_faults)}, "
            f"LLM {self.llm}, {len(self.set_back)} set back"
        )


class _NotionFaults(_Faults):
    """The chaos suite's Notion faults, plus page creation held past the writer's timeout
    during the scenario's overrun window."""

    def __init__(self, scenario: CloudScenario, writer_timeout: float):
        super().__init__(scenario)  # type: ignore[arg-type] - the same fault fields
        self.window: tuple[float, float] | None = None
        self.hold = writer_timeout + 2

    def __call__(self, request: RecordedRequest) -> Fault | None:
        creating = (request.method, request.path) == ("POST", "/v1/pages")
        held = self.window is not None and self.window[0] <= time.monotonic() <= self.window[1]
        if self.on and creating and held:
            return Fault(delay=self.hold)
        return super().__call__(request)


def read_clip_name(image: bytes) -> str:
    import io

    import pytesseract
    from PIL import Image

    return pytesseract.image_to_string(Image.open(io.BytesIO(image))).strip()


def run(scenario: CloudScenario, clips: Path, workdir: Path) -> Verdict:
    started = time.monotonic()
    verdict = Verdict(scenario, rerun="python bench/chaos.py --cloud")
    handler = functools.partial(_MediaHandler, directory=str(clips))
    media = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{media.server_address[1]}"
    llm_rng = random.Random(scenario.seed * 104729)
    with (
        FakeNotion() as notion,
        FakeGemini(_llm(scenario.llm, llm_rng)) as gemini,
        FakeOpenAI() as openai,
        FakeVision(read_clip_name) as vision,
    ):
        misbehave(gemini, scenario.llm, llm_rng)
        _, links_db = notion.add_database("Links", LINK_SCHEMA)
        content = {tag: notion.add_database(tag.title(), CONTENT_SCHEMA)[1] for tag in TAGS}
        cloud = LocalCloud(
            workdir,
            notion=notion,
            gemini=gemini,
            openai=openai,
            vision=vision,
            variables={
                "link_databases": links_db,
                "content_databases": ",".join(f"{t}={s}" for t, s in content.items()),
                "max_delivery_attempts": 5,
            },
            knobs=_knobs(base),
            time_scale=TIME_SCALE,
            poll_every=2.0,
            backoff=(1.0, 5.0),
        )
        with cloud:
            faults = _NotionFaults(scenario, cloud.functions["writer"].timeout)
            rows = save_links(notion, links_db, base, scenario.links)
            notion.fault_plan = faults
            _play(scenario, cloud, notion, rows, faults)
            faults.on = False
            gemini.failures.clear()
            gemini.fault_plan = None
            for name in cloud.crashed():
                verdict.violate("function crashed", cloud.functions[name].tail())
                cloud.restart(name)
            _settle(notion, rows)
            check_links(verdict, notion, rows, content)
            _check_dead_letters(verdict, cloud)
            if not verdict.ok:
                verdict.logs = "\n".join(
                    f"--- {n} ---\n{f.tail(40)}" for n, f in cloud.functions.items()
                )
    media.shutdown()
    verdict.seconds = time.monotonic() - started
    return verdict


def _knobs(media: str) -> dict[str, str]:
    """Test settings beside Terraform's: the media server, short leases and retries."""
    return {
        "SVP_ALLOWED_HOSTS": "127.0.0.1",
        "SVP_LEASE_SECONDS": "2",
        "SVP_NOTION_RETRY_SECONDS": "0.05",
        "SVP_LLM_TIMEOUT": "2",
        "SVP_LLM_ATTEMPTS": "2",
        "SVP_LLM_RETRY_SECONDS": "0.1",
    }


def _play(
    scenario: CloudScenario,
    cloud: LocalCloud,
    notion: FakeNotion,
    rows: list[str],
    faults: _NotionFaults,
) -> None:
    t0 = time.monotonic()
    if scenario.overrun:
        faults.window = (t0 + scenario.overrun[0], t0 + scenario.overrun[1])
    events: list[tuple[float, str, Any]] = sorted(
        [(t, "kill", f) for t, f in scenario.kills]
        + [(t, "duplicate", s) for t, s in scenario.duplicates]
        + [(t, "set_back", i) for t, i in scenario.set_back]
    )
    rng = random.Random(scenario.seed)
    for when, what, arg in events:
        time.sleep(max(0.0, t0 + when - time.monotonic()))
        if what == "kill":
            cloud.restart(arg)
        elif what == "duplicate":
            _deliver_again(cloud, arg, rng)
        elif _shows(notion, rows[arg]) in ("done", "failed"):
            notion.edit_page(rows[arg], {"status": "pending"})
    time.sleep(max(0.0, t0 + scenario.duration - time.monotonic()))


def _runtime():
    from svp.config import Settings
    from svp.wiring import build_runtime

    return build_runtime(
        Settings(backend="gcp", project=PROJECT, bucket=BUCKET, topic_prefix=PREFIX)
    )


def _deliver_again(cloud: LocalCloud, stage: str, rng: random.Random) -> None:
    """Publish `stage`'s input again for a job that has one: a duplicate delivery."""
    from svp.runtime import jobs
    from svp.runtime.runner import message_after
    from svp.topology import UPSTREAM

    runtime = _runtime()
    upstream = UPSTREAM[stage]
    ready = [
        job
        for job in runtime.state.list(jobs.JOBS, limit=50)
        if upstream == "poller" or job["stages"].get(upstream, {}).get("state") == "done"
    ]
    if ready:
        runtime.publish_from(upstream, message_after(rng.choice(ready), upstream))


def _settle(notion: FakeNotion, rows: list[str]) -> None:
    """Wait for every link to end, then for the sweeps of pages made late (the killed writers'
    time runs out, then a poll trashes what they made)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        shown = [_shows(notion, row) for row in rows]
        if all(s.startswith(("done", "failed")) for s in shown):
            time.sleep(4)  # a late writer or a status still on its way shows up now
            break
        time.sleep(1)
    while time.monotonic() < deadline and _sweeps_due():
        time.sleep(1)


def _sweeps_due() -> bool:
    from svp.ports import Span
    from svp.runtime import videos

    return bool(_runtime().state.list(videos.VIDEOS, span=Span("sweep_at"), limit=1))


def _check_dead_letters(verdict: Verdict, cloud: LocalCloud) -> None:
    from svp.runtime import jobs
    from svp.topology import PIPELINE

    state = _runtime().state
    for stage in PIPELINE:
        for attributes in cloud.dead_letters(stage):
            job_id = attributes.get("job_id", "")
            job = state.get(jobs.JOBS, job_id)
            if job is None or not jobs.is_terminal(job):
                verdict.violate(
                    "dead letter of a live job", f"{stage}: {job_id} is {job and job['status']}"
                )
            elif "CloudPubSubDeadLetterSourceSubscription" not in attributes:
                verdict.violate("dead letter without its source", f"{stage}: {job_id}")


def run_seed(seed: int, clips: Path) -> Verdict:
    with tempfile.TemporaryDirectory(prefix=f"svp-cloud-chaos-{seed}-") as tmp:
        return run(CloudScenario.draw(seed), clips, Path(tmp))
