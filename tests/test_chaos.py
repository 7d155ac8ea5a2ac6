"""A few seeds of the randomized fault suite (tests/chaos.py) against real `svp run` workers;
`make chaos` (bench/chaos.py) runs hundreds and prints the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import Scenario, make_clips, run

# Seeds whose scenarios between them kill workers, run two workers on one data folder, make
# Notion answer 429, 5xx before and after writing, slowly and by dropping connections, have
# the LLM fail, answer garbage or answer too slowly, and set links back to pending.
SEEDS = (5, 6, 10)


@pytest.fixture(scope="module")
def chaos_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clips(tmp_path_factory.mktemp("chaos-clips"))


def test_the_seeds_cover_every_kind_of_fault():
    scenarios = [Scenario.draw(seed) for seed in SEEDS]
    assert any(s.workers == 2 for s in scenarios)
    assert sum(len(s.kill_times) for s in scenarios) >= 3
    assert {"drop", "5xx", "429"} <= {f for s in scenarios for f in s.notion_faults}
    assert {"flaky", "slow"} <= {s.llm for s in scenarios}
    assert any(s.set_back for s in scenarios)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_every_link_ends_with_exactly_one_page_under_faults(seed, chaos_clips, tmp_path):
    verdict = run(Scenario.draw(seed), chaos_clips, tmp_path)
    assert verdict.ok, f"{verdict.report()}\n{verdict.logs}"
