"""FakeGemini: ``models.generateContent`` of the Gemini API, as google-genai calls it.

    with FakeGemini(responder=lambda req: {"title": "Pasta"}) as gemini:
        client = genai.Client(api_key="k",
                              http_options=types.HttpOptions(base_url=gemini.base_url))
        client.models.generate_content(model="gemini-test", contents="hi", config=...)

Wire facts (google-genai 3.6.1, checked against this fake):

* ``POST {base_url}/{version}/models/{model}:generateContent`` with the key in the
  ``x-goog-api-key`` header. With a custom ``base_url`` the SDK uses version ``v1``
  (its default for the Gemini API); ``GOOGLE_GENAI_API_VERSION=beta`` gives ``v1beta``.
  Both are served.
* The body is camelCase: ``{"contents": [{"role": "user", "parts": [{"text": ...}]}],
  "generationConfig": {...}, "systemInstruction": {...}}``.
* ``GenerateContentConfig(response_mime_type="application/json", response_json_schema=S)``
  sends ``generationConfig.responseMimeType`` and ``generationConfig.responseJsonSchema``
  (``S`` unchanged). ``response_schema=S`` instead sends ``generationConfig.responseSchema``
  with types upper-cased (``"OBJECT"``). The fake rejects both at once, or either without
  ``responseMimeType: application/json`` (400 INVALID_ARGUMENT).
* ``models.get`` is ``GET {base_url}/{version}/models/{model}``: the model's metadata, or 404.

Documented rules the fake enforces (each with its source beside it in the code): a model the
API does not serve answers 404 NOT_FOUND, on generateContent and on models.get (the model
list, and the retired ones on the deprecations page); a part without data, an empty text
part or a content without parts answers 400 INVALID_ARGUMENT.

* Errors are ``{"error": {"code", "message", "status"}}``; the SDK raises
  ``google.genai.errors.ClientError`` (4xx, 429 included) / ``ServerError`` (5xx). It does
  not retry unless ``HttpOptions(retry_options=HttpRetryOptions(...))`` is given, and then
  with exponential back-off that ignores Retry-After / RetryInfo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply, google_error

__all__ = ["FakeGemini", "GeminiResponder"]

GeminiResponder = Callable[[dict[str, Any]], str | dict[str, Any] | list[Any]]

_ROUTE = re.compile(r"/(v1|v1beta)/models/([^/:]+):generateContent")
_MODEL = re.compile(r"/(v1|v1beta)/models/([^/:]+)")

# The text models the Gemini API serves (https://ai.google.dev/gemini-api/docs/models, read
# 2026-12-06, and the aliases "Latest release of Gemini Flash / Flash-Lite / Pro" named in
# google-genai 3.6.1's _gaos/types/interactions/model.py). gemini-2.5-flash, -2.5-pro and
# -2.0-flash are shut down (https://ai.google.dev/gemini-api/docs/deprecations): not here.
MODELS = frozenset(
    {
        "gemini-flash-latest",
        "gemini-flash-lite-latest",
        "gemini-pro-latest",
        "gemini-3.8-flash",
        "gemini-3.7-flash",
        "gemini-3.6-flash",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-flash-lite",
        "gemini-3.1-pro-preview",
        "gemini-3-flash-preview",
    }
)


def _empty_object(request_json: dict[str, Any]) -> str:
    return "{}"


class FakeGemini(FakeServer):
    """Answers ``generateContent`` with whatever ``responder(request_json)`` returns: a str
    becomes ``candidates[0].content.parts[0].text``; a dict/list is sent as its JSON text."""

    def __init__(
        self,
        responder: GeminiResponder = _empty_object,
        api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.responder = responder
        self.api_key = api_key  # None: any non-empty key is accepted
        self.finish_reason = "STOP"
        self.models: set[str] = set(MODELS)  # add a name to serve it too
        self.answer_text = True  # False: a candidate without text (as after SAFETY, MAX_TOKENS)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """JSON bodies of the generateContent requests received (failed ones included)."""
        return [r.json for r in self.requests if _ROUTE.fullmatch(r.path)]

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with a Google error (429 RESOURCE_EXHAUSTED,
        503 UNAVAILABLE, ...). ``retry_after`` adds a RetryInfo detail and a Retry-After
        header."""
        reply = google_error(status, message)
        if retry_after is not None:
            reply.body["error"]["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                }
            ]
            reply.headers["Retry-After"] = str(retry_after)
        self.failures.push(reply, times)

    def handle(self, request: RecordedRequest) -> Reply:
        match = _ROUTE.fullmatch(request.path)
        got = _MODEL.fullmatch(request.path) if request.method == "GET" else None
        if not got and (request.method != "POST" or not match):
            return google_error(404, f"Method not found: {request.method} {request.path}")
        key = request.header("x-goog-api-key") or request.query_value("key")
        if not key:
            return google_error(403, "Method doesn't allow unregistered callers.")
        if self.api_key is not None and key != self.api_key:
            return google_error(400, "API key not valid. Please pass a valid API key.")
        found = match or got
        assert found is not None
        version, model = found.group(1), found.group(2)
        # https://ai.google.dev/gemini-api/docs/troubleshooting (404 NOT_FOUND: the requested
        # resource wasn't found); a shut-down model "is completely turned off, and the endpoint
        # is no longer available" (https://ai.google.dev/gemini-api/docs/deprecations).
        if model not in self.models:
            return google_error(
                404,
                f"models/{model} is not found for API version {version}, or is not supported "
                "for generateContent. Call ListModels to see the list of available models and "
                "their supported methods.",
            )
        if got:
            return Reply(200, _model(model))
        body = request.json
        problem = _invalid(body)
        if problem:
            return google_error(400, problem)
        return Reply(200, self._answer(model, body))

    def _answer(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.responder(body)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_tokens = _tokens(json.dumps(body.get("contents")))
        output_tokens = _tokens(text) if self.answer_text else 0
        candidate: dict[str, Any] = {"finishReason": self.finish_reason, "index": 0}
        if self.answer_text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        return {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": model,
            "responseId": f"fake-{len(self.requests)}",
        }


def _invalid(body: Any) -> str | None:
    """Why the real API would answer 400 INVALID_ARGUMENT, or None."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    if not body.get("contents"):
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, content in enumerate(body["contents"]):
        problem = _invalid_content(i, content)
        if problem:
            return problem
    config = body.get("generationConfig") or {}
    has_schema = "responseSchema" in config
    has_json_schema = "responseJsonSchema" in config
    if has_schema and has_json_schema:
        return "responseSchema and responseJsonSchema cannot both be set."
    if (has_schema or has_json_schema) and config.get("responseMimeType") != "application/json":
        return "A response schema requires responseMimeType: application/json."
    return None


def _invalid_content(i: int, content: Any) -> str | None:
    """A Content needs parts, and each Part exactly one kind of data, non-empty text
    (https://ai.google.dev/api/caching#Content, #Part: "parts[]: ordered Parts that
    constitute a single message"; a Part's data is a required oneof). The API's answers, as
    recorded in proxies (zuisong/gemini-openai-proxy#83):
    "contents.parts must not be empty", "Unable to submit request because it has an empty
    text parameter"."""
    parts = content.get("parts") if isinstance(content, dict) else None
    if not parts:
        return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
    for j, part in enumerate(parts):
        data = [k for k in part or {} if k not in ("thought", "thoughtSignature", "partMetadata")]
        if not data:
            return (
                f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof field "
                "'data' must have one initialized field"
            )
        if "text" in part and not part["text"]:
            return (
                "Unable to submit request because it has an empty text parameter. Add a value "
                "to the parameter and try again."
            )
    return None


def _model(model: str) -> dict[str, Any]:
    """models.get's answer (https://ai.google.dev/api/models#Model)."""
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)
