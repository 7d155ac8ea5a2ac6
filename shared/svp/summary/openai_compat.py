"""An OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, a llama.cpp server, Groq...).

Configured apart from the transcription endpoint: `SVP_LLM_BASE_URL` (for example
`http://localhost:11434/v1`), `SVP_LLM_MODEL`, `SVP_LLM_API_KEY` (`OPENAI_API_KEY` is used only
when no base URL is set, i.e. for OpenAI itself: a key is never sent to another host).

The schema goes as a JSON-schema response format. `SVP_LLM_RESPONSE_FORMAT` says how:
`strict` (default: `json_schema` with `strict: true` and the strict variant of the schema),
`json_schema` (not strict), or `json_object` (JSON mode, the schema in the instructions). A
server that answers 400 to a format steps down this ladder once per step, with a note; one
that refuses `temperature` (reasoning models: GPT-5 and later take only the default) gets the
request again without it, and the process remembers it for that endpoint and model, so later
summaries do not pay that 400 again. A 404 `model_not_found` is `ModelUnavailable` (set
SVP_LLM_MODEL). 409 is retried, as the SDK itself does (`_should_retry`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from svp.config import Settings
from svp.retrying import Verdict, retry_after
from svp.summary.json_schema import strictly
from svp.summary.llm import RETRY_STATUS, Answer, Provider, Rejected, Turns, transport_errors

# 409 (a conflict, e.g. a concurrent request on the same resource): the openai SDK retries it.
OPENAI_RETRY_STATUS = (*RETRY_STATUS, 409)

# Used when SVP_LLM_MODEL is not set: OpenAI's cost-sensitive tier, no shutdown announced in the
# SDK's chat_model.py (openai 3.63; gpt-4.1-mini shuts down 2027-01-14). Price: svp.summary.prices.
DEFAULT_MODEL = "gpt-5.6-luna"
FORMATS = ("strict", "json_schema", "json_object")
SCHEMA_NAME = "notion_entry"


# (base URL, model) pairs that refused `temperature`, for the life of the process: a provider
# is made per summary, the model's rules are not.
_no_temperature: set[tuple[str, str]] = set()
_no_temperature_lock = threading.Lock()


def refuses_temperature(base_url: str, model: str) -> bool:
    with _no_temperature_lock:
        return (base_url, model) in _no_temperature


def _remember_no_temperature(base_url: str, model: str) -> None:
    with _no_temperature_lock:
        _no_temperature.add((base_url, model))


def api_key(settings: Settings) -> str:
    if settings.llm_api_key:
        return settings.llm_api_key
    return "" if settings.llm_base_url else settings.openai_api_key


@dataclass
class OpenAICompatProvider(Provider):
    def __post_init__(self) -> None:
        import openai

        self.engine = "openai"
        self.model = self.settings.llm_model or DEFAULT_MODEL
        where = self.settings.llm_base_url or "api.openai.com"
        self.label = f"the OpenAI-compatible LLM ({self.model} at {where})"
        self.format = self.settings.llm_response_format
        self.model_setting = "SVP_LLM_MODEL"
        self._where = where
        self.temperature: float | None = None if refuses_temperature(where, self.model) else 0.2
        # Local servers accept any key; the SDK insists on one.
        self._client = openai.OpenAI(
            api_key=api_key(self.settings) or "not-needed",
            base_url=self.settings.llm_base_url or None,
            timeout=self.settings.llm_timeout_seconds,
            max_retries=0,  # ours: Provider.retrying
        )

    def missing_model(self, exc: BaseException) -> bool:
        import openai

        if not isinstance(exc, openai.NotFoundError):
            return False
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body)
        code = error.get("code") if isinstance(error, dict) else None
        return code == "model_not_found" or "model" in _message(exc).lower()

    def request(self, system: str, turns: Turns, schema: dict[str, Any]) -> dict[str, Any]:
        """The chat.completions.create arguments for the current format."""
        if self.format == "json_object":
            system += (
                "\nAnswer with only a JSON object that follows this JSON schema:\n"
                + json.dumps(schema, ensure_ascii=False)
            )
            response_format: dict[str, Any] = {"type": "json_object"}
        else:
            strict = self.format == "strict"
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": SCHEMA_NAME,
                    "schema": strictly(schema) if strict else schema,
                    "strict": strict,
                },
            }
        messages = [{"role": "system", "content": system}] + [
            {"role": "assistant" if role == "model" else "user", "content": text}
            for role, text in turns
        ]
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": response_format,
        }
        if self.temperature is not None:
            arguments["temperature"] = self.temperature
        return arguments

    def ask(self, system: str, turns: Turns, schema: dict[str, Any]) -> Answer:
        while True:
            try:
                completion = self.retrying(
                    lambda: self._client.chat.completions.create(
                        **self.request(system, turns, schema)
                    ),
                    judge,
                )
                break
            except Rejected as exc:
                if not self._step_down(exc):
                    raise
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        text = message.content if message else None
        if message is not None and getattr(message, "refusal", None):
            text = None
            self.notes.append(f"{self.label} refused: {message.refusal}")
        usage = completion.usage
        return Answer(
            text=text,
            input_tokens=(usage.prompt_tokens or 0) if usage else 0,
            output_tokens=(usage.completion_tokens or 0) if usage else 0,
        )

    def _step_down(self, exc: Rejected) -> bool:
        """After a 400: drop temperature, or take a simpler response format. False: give up."""
        cause = exc.__cause__
        status = getattr(cause, "status_code", None)
        message = str(exc).lower()
        if status != 400:
            return False
        if "temperature" in message and self.temperature is not None:
            self.temperature = None
            _remember_no_temperature(self._where, self.model)
            self.notes.append(f"{self.label} refused temperature: sent without it")
            return True
        position = FORMATS.index(self.format)
        if position + 1 < len(FORMATS) and any(
            word in message for word in ("response_format", "json_schema", "schema", "strict")
        ):
            self.format = FORMATS[position + 1]
            self.notes.append(
                f"{self.label} refused the response format ({exc}); asked again with {self.format}"
            )
            return True
        return False


def judge(exc: Exception) -> Verdict:
    import openai

    if isinstance(exc, openai.APIStatusError):
        what = f"HTTP {exc.status_code}: {_message(exc)}"
        if exc.status_code not in OPENAI_RETRY_STATUS:
            return Verdict(False, what)
        return Verdict(True, what, retry_after(exc.response.headers))
    if isinstance(exc, (openai.APIConnectionError, *transport_errors())):
        return Verdict(True, f"{type(exc).__name__}: {exc}")
    return Verdict(False, f"{type(exc).__name__}: {exc}")


def _message(exc: Any) -> str:
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    error = body.get("error", body)
    text = error.get("message") if isinstance(error, dict) else None
    return str(text or exc)[:300]
