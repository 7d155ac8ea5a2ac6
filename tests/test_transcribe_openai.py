"""The OpenAI transcription engine against FakeOpenAI through the real SDK: the language it
names, how its failures are classified, and how long it may take."""

from __future__ import annotations

from pathlib import Path

import pytest

from svp import limits
from svp.errors import PermanentError, TransientError
from svp.media import transcribe
from tests.summary_helpers import settings_with


@pytest.fixture
def engine(monkeypatch, env, fake_openai, tmp_path):
    monkeypatch.setattr(transcribe, "_openai_clients", {})
    settings = settings_with(
        monkeypatch, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url + "/v1"
    )
    audio = tmp_path / "piece.flac"
    audio.write_bytes(b"fLaC" + bytes(64))
    run = transcribe.openai_engine(settings)
    return lambda: run(audio)


def test_gpt_transcribe_languages_are_read(engine, fake_openai):
    spanish = {"text": "Hola a todos", "languages": ["es"]}
    fake_openai.transcriber = lambda name, audio, form: spanish
    heard = engine()
    assert heard.text == "Hola a todos" and heard.language == "es"
    assert fake_openai.uploads[-1]["model"].text == "gpt-transcribe"


def test_no_language_detected_is_an_empty_language(engine, fake_openai):
    fake_openai.transcriber = lambda name, audio, form: {"text": "mmm", "languages": []}
    assert engine().language == ""


@pytest.mark.parametrize("status", [400, 403, 413, 422])
def test_refusals_are_permanent_and_not_retried(engine, fake_openai, status):
    fake_openai.fail_next(status, message=f"refused {status}")
    with pytest.raises(PermanentError, match=f"HTTP {status}"):
        engine()
    assert len(fake_openai.requests_to("/audio/transcriptions")) == 1


def test_insufficient_quota_is_permanent_with_a_reason_to_act_on(engine, fake_openai):
    fake_openai.fail_next(
        429,
        times=3,
        retry_after=0.01,
        code="insufficient_quota",
        message="You exceeded your current quota, please check your plan and billing details.",
    )
    with pytest.raises(PermanentError, match="no transcription quota left"):
        engine()


@pytest.mark.parametrize("status", [429, 500, 503, 409])
def test_rate_limits_conflicts_and_outages_are_transient(engine, fake_openai, status):
    fake_openai.fail_next(status, times=3, retry_after=0.01)
    with pytest.raises(TransientError, match="unavailable"):
        engine()
    assert len(fake_openai.requests_to("/audio/transcriptions")) == 3  # the SDK's retries


def test_a_connection_error_is_transient(monkeypatch, env, tmp_path):
    monkeypatch.setattr(transcribe, "_openai_clients", {})
    settings = settings_with(
        monkeypatch, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://127.0.0.1:9/v1"
    )
    audio = tmp_path / "piece.flac"
    audio.write_bytes(b"fLaC")
    monkeypatch.setattr(transcribe, "OPENAI_RETRIES", 0, raising=False)
    with pytest.raises(TransientError):
        transcribe.openai_engine(settings)(Path(audio))


def test_timeouts_times_attempts_fit_the_transcribers_time_limit(monkeypatch, env):
    monkeypatch.setattr(transcribe, "_openai_clients", {})
    client = transcribe.openai_client(settings_with(monkeypatch, OPENAI_API_KEY="sk"))
    attempts = client.max_retries + 1
    backoff = 8.0 * client.max_retries  # the SDK waits at most 8 s between attempts
    assert client.timeout * attempts + backoff < limits.timeout_seconds("transcriber")


def test_a_scaled_time_limit_still_gives_each_request_time(monkeypatch, env, fake_openai, tmp_path):
    """The local cloud shrinks every limit (SVP_LIMITS_SCALE=0.05: the transcriber gets 27 s):
    a transcription is still heard, not failed for a timeout below zero."""
    monkeypatch.setenv("SVP_LIMITS_SCALE", "0.05")
    monkeypatch.setattr(transcribe, "_openai_clients", {})
    settings = settings_with(
        monkeypatch, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url + "/v1"
    )
    fake_openai.transcriber = lambda name, audio, form: {"text": "Stir the soup."}
    audio = tmp_path / "piece.flac"
    audio.write_bytes(b"fLaC" + bytes(64))
    assert transcribe.openai_engine(settings)(audio).text == "Stir the soup."
    assert transcribe.openai_timeout_seconds() * 3 < limits.timeout_seconds("transcriber")
