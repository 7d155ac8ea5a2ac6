"""The summarizer against fake Gemini and OpenAI-compatible servers, through the real SDKs."""

from __future__ import annotations

import json
import time

import pytest

from svp.notion.properties import encode_properties
from svp.summary import llm
from svp.summary.providers import choose, resolve
from svp.summary.summarize import summarize
from tests.summary_helpers import THREE_PLACES, pasta, seed_schema, settings_with, three_cafes

GOOD_PASTA = {
    "name": "Tomato pasta",
    "ingredients": ["spaghetti", "garlic", "basil", "tomatoes"],
    "steps": "Boil the spaghetti for 10 minutes, then add the garlic and basil.",
    "video_link": "https://invented.example/by-the-model",
    "_summary": "A quick tomato pasta with garlic and basil.",
}


@pytest.fixture
def waits(monkeypatch):
    """The retry waits the providers asked for (they still sleep them)."""
    seen: list[float] = []

    def sleep(seconds: float) -> None:
        seen.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(llm, "sleep", sleep)
    return seen


@pytest.fixture
def gemini(monkeypatch, env, fake_gemini):
    """Settings that send the summary to the fake Gemini, with quick retries."""
    return settings_with(
        monkeypatch,
        GEMINI_API_KEY="test-key",
        GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url,
        SVP_GEMINI_MODEL="gemini-3.8-flash",
        SVP_LLM_ATTEMPTS="3",
        SVP_LLM_RETRY_SECONDS="0.01",
    )


@pytest.fixture
def openai_llm(monkeypatch, env, fake_openai):
    """Settings that send the summary to the fake OpenAI-compatible server (a local one: it
    serves "local-model")."""
    fake_openai.models["local-model"] = None
    return settings_with(
        monkeypatch,
        SVP_LLM_BASE_URL=fake_openai.base_url + "/v1",
        SVP_LLM_MODEL="local-model",
        SVP_LLM_API_KEY="llm-key",
        SVP_LLM_ATTEMPTS="3",
        SVP_LLM_RETRY_SECONDS="0.01",
    )


def answers(*replies):
    """A responder giving these replies in turn (the last one again after that)."""
    queue = list(replies)

    def respond(request):
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


def user_text(request: dict) -> str:
    return request["contents"][0]["parts"][0]["text"]


# -- Gemini --------------------------------------------------------------------------------


def test_gemini_request_carries_the_schema_and_a_good_answer_becomes_properties(
    gemini, fake_gemini
):
    fake_gemini.responder = answers(GOOD_PASTA)
    schema = seed_schema("cooking")
    summary = summarize(pasta(), schema, gemini, user_prompt="Name the pasta shape.")

    (call,) = fake_gemini.requests_to(":generateContent")
    assert call.path == "/v1/models/gemini-3.8-flash:generateContent"
    assert call.headers["x-goog-api-key"] == "test-key"
    config = call.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["ingredients"]["type"] == "array"
    assert config["responseJsonSchema"]["required"] == ["name"]
    system = call.json["systemInstruction"]["parts"][0]["text"]
    assert "The database owner adds: Name the pasta shape." in system
    assert "## Transcript (language: en, source: speech)" in user_text(call.json)

    assert summary["engine"] == "gemini" and summary["model"] == "gemini-3.8-flash"
    assert summary["needs_review"] is False and summary["notes"] == []
    assert summary["summary"] == "A quick tomato pasta with garlic and basil."
    (item,) = summary["items"]
    assert item == summary["items"][0]
    assert item["video_link"] == pasta().url  # the link, not the model's guess
    assert encode_properties(schema, item) == {
        "name": {"title": [{"type": "text", "text": {"content": "Tomato pasta"}}]},
        "video_link": {"url": pasta().url},
        "ingredients": {
            "multi_select": [
                {"name": "spaghetti"},
                {"name": "garlic"},
                {"name": "basil"},
                {"name": "tomatoes"},
            ]
        },
        "steps": {"rich_text": [{"type": "text", "text": {"content": GOOD_PASTA["steps"]}}]},
    }
    (evidence,) = summary["evidence"]
    assert evidence["steps"] == "transcript at 0:02"
    assert evidence["video_link"] == "the video's link"
    assert "tomatoes" not in evidence["ingredients"] and "not found" in evidence["ingredients"]
    assert summary["usage"]["input_tokens"] > 0 and summary["usage"]["output_tokens"] > 0


def test_gemini_invalid_json_gets_one_repair_showing_the_error(gemini, fake_gemini):
    fake_gemini.responder = answers('{"name": "Tomato pasta", "steps": ', GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), gemini)

    first, repair = fake_gemini.requests_to(":generateContent")
    turns = repair.json["contents"]
    assert [t["role"] for t in turns] == ["user", "model", "user"]
    assert turns[1]["parts"][0]["text"] == '{"name": "Tomato pasta", "steps": '
    assert "could not be used: the answer is not valid JSON" in turns[2]["parts"][0]["text"]
    assert repair.json["generationConfig"] == first.json["generationConfig"]
    assert summary["engine"] == "gemini" and summary["needs_review"] is False
    assert summary["items"][0]["name"] == "Tomato pasta"
    assert summary["notes"][0].startswith("Gemini's answer needed a repair: the answer is not")
    assert summary["notes"][-1] == "the repair fixed the answer"


def test_gemini_second_failure_ends_in_the_extractive_summary_for_review(gemini, fake_gemini):
    fake_gemini.responder = answers("Sure! Here is your recipe: tomato pasta.")
    summary = summarize(pasta(), seed_schema("cooking"), gemini)

    assert len(fake_gemini.requests_to(":generateContent")) == 2  # the answer and one repair
    assert summary["engine"] == "extractive" and summary["needs_review"] is True
    assert summary["notes"][0].startswith("Gemini failed: the answer is not valid JSON")
    assert "the repair failed too" in summary["notes"][0]
    assert summary["items"][0]["name"] == "Tomato pasta in 15 minutes 🍅"
    assert summary["usage"]["input_tokens"] > 0  # the failed calls still cost tokens


def test_gemini_values_still_invalid_after_the_repair_are_dropped_with_a_note(gemini, fake_gemini):
    bad = {"name": "Grão", "is_popup": "perhaps", "website": "ask at the counter"}
    fake_gemini.responder = answers(bad)
    summary = summarize(three_cafes(), seed_schema("places"), gemini)

    assert len(fake_gemini.requests_to(":generateContent")) == 2
    assert summary["engine"] == "gemini" and summary["needs_review"] is True
    assert summary["items"] == [{"name": "Grão", "video_link": three_cafes().url}]
    assert summary["notes"][-1] == (
        'dropped after the repair: is_popup: "perhaps" (not yes or no); '
        'website: "ask at the counter" (not an http(s) URL)'
    )


def test_gemini_503_storm_ends_in_a_page_for_review(gemini, fake_gemini, waits):
    fake_gemini.fail_next(503, times=10)
    summary = summarize(pasta(), seed_schema("cooking"), gemini)

    assert len(fake_gemini.requests_to(":generateContent")) == 3  # SVP_LLM_ATTEMPTS
    assert len(waits) == 2 and all(w < 0.1 for w in waits)  # exponential from 0.01 s
    assert summary["engine"] == "extractive" and summary["needs_review"] is True
    assert summary["notes"][0].startswith("Gemini failed (HTTP 503 UNAVAILABLE")
    assert "after 3 attempts" in summary["notes"][0]
    # The link is never lost: the extractive page keeps the spoken steps, numbered.
    assert summary["items"][0]["steps"] == (
        "1. Boil the spaghetti for 10 minutes, then add the garlic and basil."
    )


def test_gemini_429_retry_delay_is_honoured(gemini, fake_gemini, waits):
    fake_gemini.fail_next(429, times=1, retry_after=0.3)
    fake_gemini.responder = answers(GOOD_PASTA)
    started = time.monotonic()
    summary = summarize(pasta(), seed_schema("cooking"), gemini)

    assert waits == [0.3]  # RetryInfo's retryDelay, not the 0.01 s back-off
    assert time.monotonic() - started >= 0.3
    assert summary["engine"] == "gemini" and summary["needs_review"] is False


def test_a_retry_delay_beyond_the_limit_falls_back_at_once(monkeypatch, gemini, fake_gemini, waits):
    settings = settings_with(monkeypatch, SVP_LLM_RETRY_MAX_SECONDS="1")
    fake_gemini.fail_next(429, times=1, retry_after=3600)
    summary = summarize(pasta(), seed_schema("cooking"), settings)

    assert waits == [] and len(fake_gemini.requests_to(":generateContent")) == 1
    assert "asked to wait 3600 s, more than SVP_LLM_RETRY_MAX_SECONDS=1" in summary["notes"][0]
    assert summary["engine"] == "extractive"


def test_gemini_rejected_key_falls_back_without_retrying(gemini, fake_gemini, waits):
    fake_gemini.fail_next(400, message="API key not valid. Please pass a valid API key.")
    summary = summarize(pasta(), seed_schema("cooking"), gemini)
    assert waits == [] and len(fake_gemini.requests_to(":generateContent")) == 1
    assert "HTTP 400 INVALID_ARGUMENT: API key not valid" in summary["notes"][0]


def test_three_places_in_one_video_yield_three_items_with_many(gemini, fake_gemini):
    fake_gemini.responder = answers(THREE_PLACES)
    schema = seed_schema("places")
    summary = summarize(three_cafes(), schema, gemini, many=True)

    (call,) = fake_gemini.requests_to(":generateContent")
    sent = call.json["generationConfig"]["responseJsonSchema"]
    assert sent["required"] == ["items"] and sent["properties"]["items"]["type"] == "array"
    assert "one entry per distinct item" in call.json["systemInstruction"]["parts"][0]["text"]

    assert [item["name"] for item in summary["items"]] == ["Café Alfama", "Fábrica Coffee", "Grão"]
    assert summary["items"][2]["is_popup"] is True  # "yes" coerced
    assert all(item["video_link"] == three_cafes().url for item in summary["items"])
    assert len(summary["evidence"]) == 3
    assert summary["evidence"][0]["name"] == "on-screen text at 0:01"
    assert summary["evidence"][1]["address"] == "transcript at 0:04"
    assert summary["evidence"][2]["hours"] == "transcript at 0:08"
    assert summary["summary"] == "Three cafés in Lisbon."
    for item in summary["items"]:
        assert encode_properties(schema, item)["name"]["title"][0]["text"]["content"]


def test_output_language_from_configuration_and_from_the_database(monkeypatch, gemini, fake_gemini):
    fake_gemini.responder = answers(GOOD_PASTA)
    settings = settings_with(monkeypatch, SVP_OUTPUT_LANGUAGE="French")
    summarize(pasta(), seed_schema("cooking"), settings)
    summarize(pasta(), seed_schema("cooking"), settings, language="Portuguese")
    first, second = (c.json["systemInstruction"]["parts"][0]["text"] for c in fake_gemini.requests)
    assert "Write every text value in French" in first
    assert "Write every text value in Portuguese" in second  # the database's setting wins


# -- OpenAI-compatible ---------------------------------------------------------------------


def test_openai_request_carries_a_strict_json_schema_and_a_good_answer_becomes_properties(
    openai_llm, fake_openai
):
    fake_openai.chat_responder = answers(GOOD_PASTA)
    schema = seed_schema("cooking")
    summary = summarize(pasta(), schema, openai_llm)

    (call,) = fake_openai.requests_to("/chat/completions")
    assert call.headers["authorization"] == "Bearer llm-key"
    body = call.json
    assert body["model"] == "local-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "## On-screen text\nTomato Pasta" in body["messages"][1]["content"]
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    sent = response_format["json_schema"]["schema"]
    assert sent["additionalProperties"] is False
    assert sent["required"] == ["name", "video_link", "ingredients", "steps", "_summary"]
    assert sent["properties"]["ingredients"]["type"] == ["array", "null"]

    assert summary["engine"] == "openai" and summary["model"] == "local-model"
    assert summary["needs_review"] is False
    properties = encode_properties(schema, summary["items"][0])
    assert properties["name"]["title"][0]["text"]["content"] == "Tomato pasta"
    assert len(properties["ingredients"]["multi_select"]) == 4


def test_openai_nulls_from_strict_mode_are_simply_absent(openai_llm, fake_openai):
    fake_openai.chat_responder = answers(
        {
            "name": "Tomato pasta",
            "video_link": None,
            "ingredients": None,
            "steps": None,
            "_summary": None,
        }
    )
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)
    assert summary["items"] == [{"name": "Tomato pasta", "video_link": pasta().url}]
    assert summary["needs_review"] is False


def test_openai_invalid_json_gets_one_repair(openai_llm, fake_openai):
    fake_openai.chat_responder = answers("```json\n{'name': 'Pasta'}\n```", GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)

    _, repair = fake_openai.requests_to("/chat/completions")
    roles = [m["role"] for m in repair.json["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "not valid JSON" in repair.json["messages"][3]["content"]
    assert summary["engine"] == "openai" and summary["needs_review"] is False


def test_openai_second_failure_and_503_storm_end_in_review(openai_llm, fake_openai, waits):
    fake_openai.chat_responder = answers([1, 2, 3])
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)
    assert len(fake_openai.requests_to("/chat/completions")) == 2
    assert summary["engine"] == "extractive" and summary["needs_review"] is True
    assert "must be a JSON object, not list" in summary["notes"][0]

    fake_openai.clear_log()
    fake_openai.fail_next(503, times=10)
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)
    assert len(fake_openai.requests_to("/chat/completions")) == 3
    assert summary["engine"] == "extractive" and summary["needs_review"] is True
    assert summary["notes"][0].startswith(
        "the OpenAI-compatible LLM (local-model at http://127.0.0.1:"
    )
    assert (
        "failed (HTTP 503: Injected 503 from FakeOpenAI., after 3 attempts)" in summary["notes"][0]
    )


def test_openai_429_retry_after_is_honoured(openai_llm, fake_openai, waits):
    fake_openai.fail_next(429, times=1, retry_after=0.25)
    fake_openai.chat_responder = answers(GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)
    assert waits == [0.25]
    assert summary["engine"] == "openai"


def test_openai_server_refusing_strict_schemas_steps_down(openai_llm, fake_openai):
    fake_openai.fail_next(400, message="response_format json_schema strict is not supported")
    fake_openai.chat_responder = answers(GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), openai_llm)

    refused, accepted = fake_openai.requests_to("/chat/completions")
    assert refused.json["response_format"]["json_schema"]["strict"] is True
    assert accepted.json["response_format"]["json_schema"]["strict"] is False
    assert "additionalProperties" not in accepted.json["response_format"]["json_schema"]["schema"]
    assert summary["engine"] == "openai" and summary["needs_review"] is False
    assert "refused the response format" in summary["notes"][0]


def test_openai_json_object_mode_puts_the_schema_in_the_instructions(
    monkeypatch, openai_llm, fake_openai
):
    settings = settings_with(monkeypatch, SVP_LLM_RESPONSE_FORMAT="json_object")
    fake_openai.chat_responder = answers(THREE_PLACES)
    summary = summarize(three_cafes(), seed_schema("places"), settings, many=True)
    (call,) = fake_openai.requests_to("/chat/completions")
    assert call.json["response_format"] == {"type": "json_object"}
    system = call.json["messages"][0]["content"]
    schema = json.loads(system.split("follows this JSON schema:\n", 1)[1])
    assert schema["required"] == ["items"]
    assert len(summary["items"]) == 3


# -- choosing the provider -----------------------------------------------------------------


def test_provider_choice(monkeypatch, env):
    assert resolve(settings_with(monkeypatch)) == "extractive"
    assert choose(settings_with(monkeypatch))[1].startswith("no LLM configured")
    assert resolve(settings_with(monkeypatch, SVP_LLM_BASE_URL="http://127.0.0.1:1/v1")) == (
        "openai"
    )
    assert resolve(settings_with(monkeypatch, GEMINI_API_KEY="k")) == "gemini"  # Gemini first
    assert resolve(settings_with(monkeypatch, SVP_LLM_PROVIDER="openai")) == "openai"
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("SVP_LLM_BASE_URL")
    provider, why = choose(settings_with(monkeypatch, SVP_LLM_PROVIDER="openai"))
    assert provider is None and "SVP_LLM_API_KEY" in why  # nowhere to send it, no key
    provider, _ = choose(settings_with(monkeypatch, OPENAI_API_KEY="sk-transcribe"))
    assert provider is not None and provider.engine == "openai"  # OpenAI itself
    provider, why = choose(settings_with(monkeypatch, SVP_LLM_PROVIDER="gemini"))
    assert provider is None and "GEMINI_API_KEY is not set" in why


def test_no_llm_configured_gives_the_extractive_summary(settings):
    summary = summarize(three_cafes(), seed_schema("places"), settings, many=True)
    assert summary["engine"] == "extractive" and summary["needs_review"] is True
    assert summary["notes"][0].startswith("no LLM configured")
    assert summary["notes"][-1] == "several items need an LLM: the fallback wrote one entry"
    assert summary["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert summary["evidence"][0]["name"] == "caption"


# -- Gemini as it is today: models, temperature, empty answers (issue 18) ------------------


def test_a_model_gemini_no_longer_serves_fails_the_summary_as_configuration(
    monkeypatch, gemini, fake_gemini, waits
):
    from svp.errors import PermanentError

    settings = settings_with(monkeypatch, SVP_GEMINI_MODEL="gemini-2.5-flash")  # shut down
    with pytest.raises(PermanentError) as failed:
        summarize(pasta(), seed_schema("cooking"), settings)
    assert failed.value.reason.startswith(
        "the model gemini-2.5-flash is not available: set SVP_GEMINI_MODEL"
    )
    assert waits == [] and len(fake_gemini.requests_to(":generateContent")) == 1


def test_the_default_gemini_model_is_one_gemini_serves(monkeypatch, env, fake_gemini):
    settings = settings_with(
        monkeypatch, GEMINI_API_KEY="k", GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url
    )
    fake_gemini.responder = answers(GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), settings)
    assert summary["engine"] == "gemini" and summary["model"] == settings.gemini_model


def test_gemini_keeps_its_default_temperature(gemini, fake_gemini):
    fake_gemini.responder = answers(GOOD_PASTA)
    summarize(pasta(), seed_schema("cooking"), gemini)
    (call,) = fake_gemini.requests_to(":generateContent")
    assert "temperature" not in call.json["generationConfig"]


def test_gemini_is_sent_no_string_formats_it_does_not_document(gemini, fake_gemini):
    from tests.summary_helpers import EVERY_TYPE

    summarize(pasta(), EVERY_TYPE, gemini)
    sent = json.dumps(fake_gemini.requests_to(":generateContent")[0].json["generationConfig"])
    assert '"format"' not in sent


def test_an_empty_answer_is_repaired_without_an_empty_part_and_names_the_finish_reason(
    gemini, fake_gemini
):
    fake_gemini.answer_text = False
    fake_gemini.finish_reason = "MAX_TOKENS"
    summary = summarize(pasta(), seed_schema("cooking"), gemini)

    _, repair = fake_gemini.requests_to(":generateContent")
    for turn in repair.json["contents"]:
        assert turn["parts"] and all(part.get("text") for part in turn["parts"])
    assert "MAX_TOKENS" in repair.json["contents"][-1]["parts"][0]["text"]
    assert summary["engine"] == "extractive"
    assert "HTTP 400" not in summary["notes"][0]
    assert "finish reason MAX_TOKENS" in summary["notes"][0]


def test_an_empty_answer_then_a_good_one_gives_the_page(gemini, fake_gemini):
    calls = []

    def respond(request):
        calls.append(request)
        fake_gemini.answer_text = len(calls) > 1  # the repair gets text
        return GOOD_PASTA

    fake_gemini.answer_text = False
    fake_gemini.finish_reason = "SAFETY"
    fake_gemini.responder = respond
    summary = summarize(pasta(), seed_schema("cooking"), gemini)
    assert summary["engine"] == "gemini" and summary["items"][0]["name"] == "Tomato pasta"
    assert "finish reason SAFETY" in summary["notes"][0]


# -- OpenAI as it is today (issue 18) ------------------------------------------------------


@pytest.fixture
def openai_itself(monkeypatch, env, fake_openai):
    """OpenAI's own API (the fake at its address), with the default model."""
    from svp.summary import openai_compat

    monkeypatch.setattr(openai_compat, "_no_temperature", set(), raising=False)
    return settings_with(
        monkeypatch,
        SVP_LLM_PROVIDER="openai",
        SVP_LLM_BASE_URL=fake_openai.base_url + "/v1",
        SVP_LLM_API_KEY="sk-test",
        SVP_LLM_ATTEMPTS="3",
        SVP_LLM_RETRY_SECONDS="0.01",
    )


def test_the_default_openai_model_is_served_and_a_refused_temperature_is_remembered(
    openai_itself, fake_openai
):
    fake_openai.chat_responder = answers(GOOD_PASTA)
    first = summarize(pasta(), seed_schema("cooking"), openai_itself)
    second = summarize(pasta(), seed_schema("cooking"), openai_itself)

    calls = fake_openai.requests_to("/chat/completions")
    # One 400 for the process, not one per summary: the second summary asks once.
    assert [("temperature" in c.json) for c in calls] == [True, False, False]
    assert first["engine"] == second["engine"] == "openai"
    assert first["model"] == "gpt-5.6-luna"
    assert not any("temperature" in note for note in second["notes"])


def test_an_openai_model_not_served_fails_the_summary_as_configuration(
    monkeypatch, openai_itself, fake_openai, waits
):
    from svp.errors import PermanentError

    settings = settings_with(monkeypatch, SVP_LLM_MODEL="gpt-4.1-mini-retired")
    with pytest.raises(PermanentError) as failed:
        summarize(pasta(), seed_schema("cooking"), settings)
    assert failed.value.reason.startswith(
        "the model gpt-4.1-mini-retired is not available: set SVP_LLM_MODEL"
    )
    assert waits == []


def test_openai_409_is_retried(openai_itself, fake_openai, waits):
    fake_openai.fail_next(409, message="Another request is in progress.")
    fake_openai.chat_responder = answers(GOOD_PASTA)
    summary = summarize(pasta(), seed_schema("cooking"), openai_itself)
    assert len(waits) == 1 and summary["engine"] == "openai"
