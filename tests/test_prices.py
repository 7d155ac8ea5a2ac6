"""The one price table: defaults priced from it, with a date and a source per row."""

from __future__ import annotations

import pytest

from svp.config import Settings
from svp.summary import cost, prices
from svp.summary.openai_compat import DEFAULT_MODEL


def _job(model: str, minutes: float = 0.0) -> dict:
    return {
        "stages": {
            "transcriber": {"output": {"engine": "openai", "minutes": minutes}},
            "summarizer": {
                "output": {
                    "engine": "gemini",
                    "model": model,
                    "usage": {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
                }
            },
        }
    }


def test_every_default_model_has_a_dated_sourced_price():
    settings = Settings()
    assert prices.AS_OF
    for model in (settings.gemini_model, DEFAULT_MODEL, settings.transcribe_model):
        row = prices.price_of(model)
        assert row is not None, model
        assert row.source.startswith("https://"), model


def test_gpt_transcribe_is_priced_at_its_published_0_0045_per_minute():
    estimate = cost.estimate(_job("", minutes=10), Settings())
    assert estimate["transcription"]["usd"] == pytest.approx(0.045)


def test_the_llm_is_priced_by_the_model_the_summary_names():
    default = cost.estimate(_job(Settings().gemini_model), Settings())
    row = prices.price_of(Settings().gemini_model)
    assert default["llm"]["usd"] == pytest.approx(row.input + row.output)
    openai = cost.estimate(_job(DEFAULT_MODEL), Settings())
    assert openai["llm"]["usd"] == pytest.approx(0.20 + 1.20)


def test_an_unknown_model_costs_nothing_and_is_named():
    estimate = cost.estimate(_job("my-local-llama"), Settings())
    assert estimate["llm"]["usd"] == 0 and estimate["unpriced"] == ["my-local-llama"]
    overridden = cost.estimate(
        _job("my-local-llama"), Settings(price_input_per_mtok=1, price_output_per_mtok=2)
    )
    assert overridden["llm"]["usd"] == pytest.approx(3) and overridden["unpriced"] == []
