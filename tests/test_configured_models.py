"""check_configured_models: the configured models looked up through the real SDKs."""

from __future__ import annotations

from svp.summary.models import check_configured_models
from tests.summary_helpers import settings_with


def test_served_defaults_have_no_problems(monkeypatch, env, fake_gemini, fake_openai):
    settings = settings_with(
        monkeypatch,
        GEMINI_API_KEY="k",
        GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url,
        OPENAI_API_KEY="sk",
        OPENAI_BASE_URL=fake_openai.base_url + "/v1",
    )
    assert check_configured_models(settings) == []
    (got,) = fake_gemini.requests
    assert got.method == "GET" and got.path.endswith(f"/models/{settings.gemini_model}")
    assert fake_openai.requests[-1].path == "/v1/models/gpt-transcribe"


def test_a_retired_gemini_model_is_named_with_its_setting(monkeypatch, env, fake_gemini):
    settings = settings_with(
        monkeypatch,
        GEMINI_API_KEY="k",
        GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url,
        SVP_GEMINI_MODEL="gemini-2.5-flash",
    )
    (problem,) = check_configured_models(settings)
    assert problem.startswith("the model gemini-2.5-flash is not available: set SVP_GEMINI_MODEL")


def test_openai_models_missing_or_shutting_down_are_named(monkeypatch, env, fake_openai):
    settings = settings_with(
        monkeypatch,
        SVP_LLM_PROVIDER="openai",
        SVP_LLM_BASE_URL=fake_openai.base_url + "/v1",
        SVP_LLM_API_KEY="k",
        SVP_LLM_MODEL="gpt-4.1-mini",
        OPENAI_API_KEY="sk",
        OPENAI_BASE_URL=fake_openai.base_url + "/v1",
        SVP_TRANSCRIBE_MODEL="gpt-9-transcribe",
    )
    chat, speech = check_configured_models(settings)
    assert chat == (
        "the model gpt-4.1-mini shuts down on 2027-01-14: set SVP_LLM_MODEL to a current model"
    )
    assert speech.startswith(
        "the model gpt-9-transcribe is not available: set SVP_TRANSCRIBE_MODEL"
    )


def test_an_unreachable_provider_is_said_to_be_unchecked(monkeypatch, env, fake_gemini):
    settings = settings_with(
        monkeypatch, GEMINI_API_KEY="k", GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url
    )
    fake_gemini.fail_next(503)
    (problem,) = check_configured_models(settings)
    assert "could not be checked" in problem and "SVP_GEMINI_MODEL" in problem
