"""Gemini through google-genai, answering in JSON shaped by the target schema.

The schema goes as `response_json_schema` with `response_mime_type="application/json"`; the
instructions as `system_instruction`; a repair as a second user turn after the model's own
answer. The model id is `SVP_LLM_MODEL`, else `SVP_GEMINI_MODEL`; `GOOGLE_GEMINI_BASE_URL`
points the SDK elsewhere (tests). The SDK's own retries stay off: `Provider.retrying` honours
the RetryInfo delay and Retry-After header that google-genai's HttpRetryOptions ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svp.retrying import Verdict, retry_after
from svp.retrying import retry_delay as parse_retry_delay
from svp.summary.llm import RETRY_STATUS, Answer, Provider, Turns, transport_errors


@dataclass
class GeminiProvider(Provider):
    def __post_init__(self) -> None:
        from google import genai
        from google.genai import types

        self.engine = "gemini"
        self.label = "Gemini"
        self.model = self.settings.llm_model or self.settings.gemini_model
        options = types.HttpOptions(timeout=int(self.settings.llm_timeout_seconds * 1000))
        if self.settings.gemini_base_url:
            options.base_url = self.settings.gemini_base_url
        # Keep the client: a collected Client closes its transport.
        self._client = genai.Client(api_key=self.settings.gemini_api_key, http_options=options)

    def ask(self, system: str, turns: Turns, schema: dict[str, Any]) -> Answer:
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_json_schema=schema,
            temperature=0.2,
        )
        contents = [
            types.Content(role="model" if role == "model" else "user", parts=[types.Part(text=t)])
            for role, t in turns
        ]
        response = self.retrying(
            lambda: self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            ),
            judge,
        )
        usage = response.usage_metadata
        return Answer(
            text=_text(response),
            input_tokens=(usage.prompt_token_count or 0) if usage else 0,
            output_tokens=(
                (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
                if usage
                else 0
            ),
        )


def _text(response: Any) -> str | None:
    """The answer's text; None when the model stopped without one (safety, length...)."""
    try:
        return response.text
    except (ValueError, AttributeError):
        return None


def judge(exc: Exception) -> Verdict:
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        what = f"HTTP {exc.code} {exc.status or ''}".strip()
        if exc.message:
            what += f": {exc.message[:200]}"
        if exc.code not in RETRY_STATUS:
            return Verdict(False, what)
        return Verdict(True, what, _requested_wait(exc))
    if isinstance(exc, transport_errors()):
        return Verdict(True, f"{type(exc).__name__}: {exc}")
    return Verdict(False, f"{type(exc).__name__}: {exc}")


def _requested_wait(exc: Any) -> float | None:
    """RetryInfo's retryDelay from the error body, else the Retry-After header."""
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            wait = parse_retry_delay(str(detail.get("retryDelay", "")))
            if wait is not None:
                return wait
    return retry_after(getattr(getattr(exc, "response", None), "headers", None))
