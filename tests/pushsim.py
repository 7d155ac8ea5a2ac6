"""A simulation of Pub/Sub push delivery to Cloud Run functions, for sizing a burst of links.

The model (event by event, in simulated seconds):
- Links are saved in Notion at random moments of `arrive_over` seconds; the poller (Cloud
  Scheduler, every `poll_every` seconds from a random offset) publishes each pending link it
  finds, or, with admission, only while fewer than `admission` jobs are at work.
- Each stage is a function with `instances` instances of concurrency 1 behind a push
  subscription. A published message is pushed at once; a push that finds every instance busy
  is refused (429) and counts as a delivery; it is pushed again after the retry policy's
  back-off (min_backoff doubling per delivery, capped at max_backoff), and after
  `max_deliveries` deliveries it is dead-lettered (each back-off jittered by `jitter`).
  Meanwhile instances that free up stay idle until some message's back-off ends: nothing
  tells Pub/Sub they are free.
- A stage runs `stage_seconds` and publishes its output: downloader -> transcriber and ocr ->
  (both done) summarizer -> writer. A dead-lettered message fails its link.
Not modelled: Cloud Run holding a request a few seconds for an instance before refusing it,
Pub/Sub's push flow control, cold starts, stage failures (each would only add refusals).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

NEXT = {"downloader": ("transcriber", "ocr"), "summarizer": ("writer",), "writer": ()}
JOINED = ("transcriber", "ocr")  # both done: the summarizer's message
STAGES = ("downloader", "transcriber", "ocr", "summarizer", "writer")


@dataclass(frozen=True)
class Delivery:
    """Pub/Sub's retry policy and Cloud Run's limits (Terraform's defaults)."""

    instances: int = 3
    concurrency: int = 1
    min_backoff: float = 10.0
    max_backoff: float = 600.0
    max_deliveries: int = 15
    # Pub/Sub does not push exactly on time: each back-off is stretched or shrunk by up to
    # this fraction (without it, messages published together retry in lockstep).
    jitter: float = 0.1

    def backoff(self, delivered: int, rng: random.Random) -> float:
        """Seconds before the next push of a message refused at its `delivered`-th delivery."""
        base = min(self.max_backoff, self.min_backoff * 2 ** (delivered - 1))
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class Burst:
    links: int
    done: int = 0
    failed: int = 0
    dead_lettered_unrun: int = 0  # a stage's message dead-lettered before that stage ever ran
    refused: int = 0
    drain_seconds: float = 0.0
    ran: set[tuple[int, str]] = field(default_factory=set)


def simulate(
    *,
    links: int = 100,
    arrive_over: float = 60.0,
    stage_seconds: float = 30.0,
    delivery: Delivery = Delivery(),
    admission: int | None = None,
    poll_every: float = 60.0,
    seed: int = 0,
) -> Burst:
    """One burst of `links`; `admission` None: the poller publishes every pending link."""
    sim = _Simulation(delivery, admission, poll_every, stage_seconds, random.Random(seed))
    for link in range(links):
        sim.at(sim.rng.uniform(0, arrive_over), "arrive", link)
    sim.at(sim.rng.uniform(0, poll_every), "poll")
    return sim.run(Burst(links))


class _Simulation:
    def __init__(
        self,
        delivery: Delivery,
        admission: int | None,
        poll_every: float,
        stage_seconds: float,
        rng: random.Random,
    ):
        self.delivery = delivery
        self.admission = admission
        self.poll_every = poll_every
        self.stage_seconds = stage_seconds
        self.rng = rng
        self.events: list[tuple[float, int, str, tuple]] = []
        self.order = itertools.count()
        self.pending: list[int] = []  # links shown pending in Notion, oldest first
        self.busy = dict.fromkeys(STAGES, 0)
        self.joined: dict[int, set[str]] = {}
        self.ended: set[int] = set()
        self.at_work = 0

    def at(self, t: float, kind: str, *payload: object) -> None:
        heapq.heappush(self.events, (t, next(self.order), kind, payload))

    def run(self, burst: Burst) -> Burst:
        self.burst = burst
        handlers = {"arrive": self.arrive, "poll": self.poll, "push": self.push}
        handlers["finish"] = self.finish
        while self.events:
            t, _, kind, payload = heapq.heappop(self.events)
            handlers[kind](t, *payload)
        return burst

    def arrive(self, t: float, link: int) -> None:
        self.pending.append(link)

    def poll(self, t: float) -> None:
        room = len(self.pending)
        if self.admission is not None:
            room = max(0, self.admission - self.at_work)
        for link in self.pending[:room]:
            self.at_work += 1
            self.at(t, "push", link, "downloader", 1)
        del self.pending[:room]
        if self.pending or len(self.ended) + self.at_work < self.burst.links:
            self.at(t + self.poll_every, "poll")

    def push(self, t: float, link: int, stage: str, delivered: int) -> None:
        if link in self.ended:
            return
        if self.busy[stage] < self.delivery.instances * self.delivery.concurrency:
            self.busy[stage] += 1
            self.burst.ran.add((link, stage))
            self.at(t + self.stage_seconds, "finish", link, stage)
            return
        self.burst.refused += 1
        if delivered >= self.delivery.max_deliveries:
            self.burst.dead_lettered_unrun += (link, stage) not in self.burst.ran
            self.end(link, t, ok=False)
        else:
            retry = t + self.delivery.backoff(delivered, self.rng)
            self.at(retry, "push", link, stage, delivered + 1)

    def finish(self, t: float, link: int, stage: str) -> None:
        self.busy[stage] -= 1
        if link in self.ended:
            return
        if stage in JOINED:
            self.joined.setdefault(link, set()).add(stage)
            nexts: tuple[str, ...] = ("summarizer",) if self.joined[link] == set(JOINED) else ()
        else:
            nexts = NEXT[stage]
        if stage == "writer":
            self.end(link, t, ok=True)
        for following in nexts:
            self.at(t, "push", link, following, 1)

    def end(self, link: int, t: float, ok: bool) -> None:
        if link in self.ended:
            return
        self.ended.add(link)
        self.at_work -= 1
        self.burst.done += ok
        self.burst.failed += not ok
        self.burst.drain_seconds = max(self.burst.drain_seconds, t)
