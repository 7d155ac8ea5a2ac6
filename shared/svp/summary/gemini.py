"""Gemini through google-genai, answering in JSON shaped by the target schema.

The schema goes as `response_json_schema` with `response_mime_type="application/json"`; the
instructions as `system_instruction`; a repair as a second user turn after the model's own
answer (an empty answer is not sent back: Gemini answers 400 to an empty text part). The
temperature is Gemini's default: the Gemini 3 guide warns that lowering it "may lead to
unexpected behavior, looping, or degraded performance"
(https://ai.google.dev/gemini-api/docs/gemini-3). String `format`s are not sent: the
structured-output page does not list `email`, and the value checks (svp.summary.validate)
hold anyway. The model id is `SVP_LLM_MODEL`, else `SVP_GEMINI_MODEL`; a 404 for it is
`ModelUnavailable`, a configuration error. `GOOGLE_GEMINI_BASE_URL` points the SDK elsewhere
(tests). The SDK's own retries stay off: `Provider.retrying` honours
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
        self.model_setting = "SVP_LLM_MODEL" if self.settings.llm_model else "SVP_GEMINI_MODEL"
        options = types.HttpOptions(timeout=int(self.settings.llm_timeout_seconds * 1000))
        if self.settings.gemini_base_url:
            options.base_url = self.settings.gemini_base_url
        # Keep the client: a collected Client closes its transport.
        self._client = genai.Client(api_key=self.settings.gemini_api_key, http_options=options)

    def missing_model(self, exc: BaseException) -> bool:
        from google.genai import errors

        return isinstance(exc, errors.APIError) and exc.code == 404

    def ask(self, system: str, turns: Turns, schema: dict[str, Any]) -> Answer:
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_json_schema=without_formats(schema),
        )
        contents = [
            types.Content(role="model" if role == "model" else "user", parts=[types.Part(text=t)])
            for role, t in turns
            if t  # never an empty part: Gemini refuses it (400)
        ]
        response = self.retrying(
            lambda: self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            ),
            judge,
        )
        usage = response.usage_metadata
        return Answer(
            finish_reason=finish_reason(response),
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


def finish_reason(response: Any) -> str:
    """Why the model stopped (STOP, MAX_TOKENS, SAFETY...), or why the prompt was blocked."""
    for candidate in getattr(response, "candidates", None) or []:
        reason = getattr(candidate, "finish_reason", None)
        if reason is not None:
            return str(getattr(reason, "name", reason))
    feedback = getattr(response, "prompt_feedback", None)
    blocked = getattr(feedback, "block_reason", None)
    return f"prompt blocked: {getattr(blocked, 'name', blocked)}" if blocked else ""


def without_formats(schema: Any) -> Any:
    """The schema without string `format`s (email, date): not documented for Gemini."""
    if isinstance(schema, dict):
        return {
            key: without_formats(value)
            for key, value in schema.items()
            if not (key == "format" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [without_formats(item) for item in schema]
    return schema


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
