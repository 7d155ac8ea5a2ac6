"""Model listings of the LLM APIs, the call `svp cloud setup` checks a key with, added to
FakeGemini and FakeOpenAI (which keep answering everything else as before).

* Gemini: ``GET /{v1,v1beta}/models?pageSize=N[&pageToken=T]`` with ``x-goog-api-key``
  answers ``{"models": [{"name": "models/...", ...}], "nextPageToken"?}``; no key is 403
  PERMISSION_DENIED, a wrong one 400 INVALID_ARGUMENT "API key not valid", as the API does.
* OpenAI: ``GET /v1/models`` with ``Authorization: Bearer`` answers
  ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``; a wrong
  key is 401 ``invalid_api_key``.
"""

from __future__ import annotations

import re

from ._server import RecordedRequest, Reply, google_error
from .gemini import FakeGemini
from .openai import FakeOpenAI, _error

GEMINI_MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004")
OPENAI_MODELS = ("gpt-transcribe", "gpt-4o-mini")
_GEMINI_LIST = re.compile(r"/(v1|v1beta)/models/?")


class FakeGeminiWithModels(FakeGemini):
    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "GET" or not _GEMINI_LIST.fullmatch(request.path):
            return super().handle(request)
        key = request.header("x-goog-api-key") or request.query_value("key")
        if not key:
            return google_error(403, "Method doesn't allow unregistered callers.")
        if self.api_key is not None and key != self.api_key:
            return google_error(400, "API key not valid. Please pass a valid API key.")
        size = int(request.query_value("pageSize") or 50)
        start = int(request.query_value("pageToken") or 0)
        page = GEMINI_MODELS[start : start + size]
        body: dict = {
            "models": [
                {
                    "name": f"models/{m}",
                    "displayName": m,
                    "supportedGenerationMethods": ["generateContent"],
                }
                for m in page
            ]
        }
        if start + size < len(GEMINI_MODELS):
            body["nextPageToken"] = str(start + size)
        return Reply(200, body)


class FakeOpenAIWithModels(FakeOpenAI):
    def handle(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path.rstrip("/")) != ("GET", "/v1/models"):
            return super().handle(request)
        key = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        if not key or (self.api_key is not None and key != self.api_key):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for m in OPENAI_MODELS
        ]
        return Reply(200, {"object": "list", "data": data})
