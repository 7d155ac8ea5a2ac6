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
        if request.method != "POST" or not match:
            return google_error(404, f"Method not found: {request.method} {request.path}")
        key = request.header("x-goog-api-key") or request.query_value("key")
        if not key:
            return google_error(403, "Method doesn't allow unregistered callers.")
        if self.api_key is not None and key != self.api_key:
            return google_error(400, "API key not valid. Please pass a valid API key.")
        body = request.json
        problem = _invalid(body)
        if problem:
            return google_error(400, problem)
        return Reply(200, self._answer(match.group(2), body))

    def _answer(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.responder(body)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_tokens = _tokens(json.dumps(body.get("contents")))
        output_tokens = _tokens(text)
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": self.finish_reason,
                    "index": 0,
                }
            ],
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
    config = body.get("generationConfig") or {}
    has_schema = "responseSchema" in config
    has_json_schema = "responseJsonSchema" in config
    if has_schema and has_json_schema:
        return "responseSchema and responseJsonSchema cannot both be set."
    if (has_schema or has_json_schema) and config.get("responseMimeType") != "application/json":
        return "A response schema requires responseMimeType: application/json."
    return None


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)
