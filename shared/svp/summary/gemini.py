"""Gemini through google-genai, answering in JSON shaped by the target schema."""

from __future__ import annotations

import json
from typing import Any

from svp.config import Settings
from svp.errors import TransientError
from svp.summary.content import Content
from svp.summary.json_schema import response_schema
from svp.summary.prompt import build_prompt
from svp.summary.targets import Schema


class ModelAnswerError(ValueError):
    """The model answered, but not with a JSON object."""


def summarize(
    content: Content, schema: Schema, settings: Settings, prompt: str = ""
) -> tuple[dict[str, Any], dict[str, int]]:
    from google import genai
    from google.genai import errors, types

    options = types.HttpOptions(
        retry_options=types.HttpRetryOptions(attempts=4, initial_delay=1.0, max_delay=30.0),
        timeout=120_000,
    )
    if settings.gemini_base_url:
        options.base_url = settings.gemini_base_url
    client = genai.Client(api_key=settings.gemini_api_key, http_options=options)
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_json_schema=response_schema(schema),
        temperature=0.2,
    )
    try:
        response = client.models.generate_content(
            model=settings.gemini_model, contents=build_prompt(content, prompt), config=config
        )
    except errors.ServerError as exc:
        raise TransientError(f"Gemini is unavailable: {exc}") from exc
    except errors.ClientError as exc:
        if exc.code == 429:
            raise TransientError(f"Gemini rate limit: {exc}") from exc
        raise
    try:
        values = json.loads(response.text or "")
    except json.JSONDecodeError as exc:
        raise ModelAnswerError(f"Gemini's answer is not JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise ModelAnswerError("Gemini's answer is not a JSON object")
    usage = response.usage_metadata
    tokens = {
        "input": (usage.prompt_token_count or 0) if usage else 0,
        "output": (usage.candidates_token_count or 0) if usage else 0,
    }
    return values, tokens
