"""A burst of links on the local cloud (tests/localcloud/burst.py, bench/burst.py in small):
more links than limits.json admits at once, saved within a (scaled) minute, every stage taking
a set time. The poller holds the rest pending in Notion, so no function refuses a push, nothing
is dead-lettered without its stage having run, and every link ends done."""

from __future__ import annotations

import pytest

from tests.localcloud.burst import Burst, make_burst_clip, run

pytestmark = pytest.mark.slow


def test_a_burst_of_links_ends_every_link_done_and_dead_letters_nothing(tmp_path):
    burst = Burst(links=6, stage_seconds=30, scale=0.05)
    outcome = run(burst, make_burst_clip(tmp_path / "clips"), tmp_path / "cloud", log=print)
    assert outcome.ended == {"done": 6}, outcome
    assert outcome.dead_letters == [], outcome
    pipeline = ("downloader", "transcriber", "ocr", "summarizer", "writer")
    assert {name: outcome.refused[name] for name in pipeline} == dict.fromkeys(pipeline, 0)
    assert not outcome.crashed
    # Each stage took its set time (30 s, scaled), measured from the job documents.
    assert all(outcome.stage_means[stage] >= 30 for stage in pipeline), outcome.stage_means
