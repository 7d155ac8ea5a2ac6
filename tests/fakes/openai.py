"""FakeOpenAI: audio transcriptions and chat completions, as the openai SDK calls them.

    with FakeOpenAI(transcriber=lambda name, audio, form: "hello") as fake:
        client = openai.OpenAI(api_key="k", base_url=fake.base_url + "/v1", max_retries=0)
        client.audio.transcriptions.create(model="gpt-transcribe", file=open(p, "rb"))

Wire facts (openai 3.57): ``Authorization: Bearer <key>``; a transcription is a
multipart form (``file`` with its filename, ``model``, and ``response_format`` /
``language`` / ``prompt`` only when given); chat is JSON. Errors are
``{"error": {"message", "type", "param", "code"}}``: 429 raises ``openai.RateLimitError``,
and the SDK retries (default ``max_retries=2``) honouring ``retry-after`` /
``retry-after-ms`` headers.

Documented rules the fake enforces, each with its source beside it in the code: the 25 MB
upload limit (413) and the accepted audio extensions (400); a model the API does not serve
answers 404 ``model_not_found``; reasoning models (GPT-5 and later) refuse a temperature other
than 1 (400 ``unsupported_value``); ``gpt-4o-transcribe`` models answer only ``json``;
``gpt-transcribe`` names the languages it heard as ``languages: [{"code"}]``, never
``language``. ``GET /v1/models/{id}`` (``client.models.retrieve``) answers the model with its
``shutdown_date``, or 404.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeOpenAI", "FormPart", "parse_multipart"]

# https://developers.openai.com/api/docs/guides/speech-to-text: "File uploads are currently
# limited to 25 MB", in the listed audio formats (the SDK's docstring of `file` lists them).
MAX_AUDIO_BYTES = 25 * 1024 * 1024
AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
TEXT_FORMATS = ("text", "srt", "vtt")

# Models served, with their announced shutdown dates (openai 3.63's types/shared/chat_model.py
# and types/audio_model.py, "Deprecated values"; https://developers.openai.com/api/docs/deprecations).
MODELS: dict[str, str | None] = {
    "gpt-6-luna": None,
    "gpt-6-sol": None,
    "gpt-5.6-luna": None,
    "gpt-5.6-terra": None,
    "gpt-5.6-sol": None,
    "gpt-5.5": None,
    "gpt-5.4": None,
    "gpt-5.4-mini": None,
    "gpt-5.4-nano": "2027-04-01",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-4o-mini": "2027-01-14",
    "gpt-transcribe": None,
    "whisper-1": "2027-02-26",
    "gpt-4o-transcribe": "2027-02-26",
    "gpt-4o-mini-transcribe": "2027-02-26",
}
# The SDK's docstring of audio.transcriptions.create: "For gpt-4o-transcribe and
# gpt-4o-mini-transcribe, the only supported format is json."
JSON_ONLY = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")


def _reasoning(model: str) -> bool:
    """GPT-5 and later reason; they take only the default temperature
    (https://developers.openai.com/api/docs/guides/reasoning; the 400 as recorded in
    johny-b/llmcomp#69: "Unsupported value: 'temperature' does not support 0 with this model.
    Only the default (1) value is supported.")."""
    return model.startswith(("gpt-5", "gpt-6", "o1", "o3", "o4"))


@dataclass
class FormPart:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode()


Transcriber = Callable[[str, bytes, dict[str, str]], str | dict[str, Any]]
ChatResponder = Callable[[dict[str, Any]], str | dict[str, Any] | list[Any]]


def _default_transcriber(filename: str, audio: bytes, form: dict[str, str]) -> str:
    return "fake transcript"


def _default_chat(request_json: dict[str, Any]) -> str:
    return "{}"


class FakeOpenAI(FakeServer):
    """``transcriber(filename, audio_bytes, form_fields) -> text`` (or a dict with ``text``
    and optionally ``language``/``duration``/``segments`` for verbose_json);
    ``chat_responder(request_json) -> content`` (a dict/list is sent as JSON text)."""

    def __init__(
        self,
        transcriber: Transcriber = _default_transcriber,
        chat_responder: ChatResponder = _default_chat,
        api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.transcriber = transcriber
        self.chat_responder = chat_responder
        self.api_key = api_key  # None: any non-empty key is accepted
        self.uploads: list[dict[str, FormPart]] = []  # parsed transcription forms
        # Served models -> announced shutdown date; add a name (a local server's) to serve it.
        self.models: dict[str, str | None] = dict(MODELS)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with an OpenAI error (429 rate limit, 500,
        503 overloaded, ...). ``retry_after`` sets the ``retry-after`` header (seconds)."""
        reply = _error(status, message or f"Injected {status} from FakeOpenAI.", code)
        if retry_after is not None:
            reply.headers["retry-after"] = str(retry_after)
        self.failures.push(reply, times)

    def handle(self, request: RecordedRequest) -> Reply:
        auth = request.header("authorization") or ""
        key = auth.removeprefix("Bearer ").strip()
        if not key or (self.api_key is not None and key != self.api_key):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        route = (request.method, request.path.rstrip("/"))
        if route == ("POST", "/v1/audio/transcriptions"):
            return self._transcribe(request)
        if route == ("POST", "/v1/chat/completions"):
            return self._chat(request)
        if request.method == "GET" and route[1].startswith("/v1/models/"):
            return self._model(route[1].removeprefix("/v1/models/"))
        return _error(404, f"Invalid URL ({request.method} {request.path})", None)

    def _missing(self, model: str) -> Reply | None:
        """404 for a model the API does not serve
        (https://developers.openai.com/api/docs/guides/error-codes: 404, the requested
        resource does not exist; code ``model_not_found``)."""
        if model in self.models:
            return None
        return _error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "model_not_found",
        )

    def _model(self, model: str) -> Reply:
        """``GET /v1/models/{model}`` (https://developers.openai.com/api/reference/resources/models)."""
        missing = self._missing(model)
        if missing:
            return missing
        return Reply(
            200,
            {
                "id": model,
                "object": "model",
                "created": 1_700_000_000,
                "owned_by": "system",
                "shutdown_date": self.models[model],
            },
        )

    # -- transcriptions ------------------------------------------------------------------

    def _transcribe(self, request: RecordedRequest) -> Reply:
        content_type = request.header("content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            return _error(400, "Expected a multipart/form-data body.", None)
        parts = parse_multipart(request.body, content_type)
        self.uploads.append(parts)
        upload = parts.get("file")
        if upload is None or "model" not in parts:
            missing = "file" if upload is None else "model"
            return _error(400, f"Missing required parameter: '{missing}'.", None, param=missing)
        if len(upload.data) > MAX_AUDIO_BYTES:
            return _error(413, f"Maximum content size limit ({MAX_AUDIO_BYTES}) exceeded.", None)
        filename = upload.filename or ""
        if filename.rsplit(".", 1)[-1].lower() not in AUDIO_EXTENSIONS:
            return _error(
                400, f"Invalid file format. Supported formats: {list(AUDIO_EXTENSIONS)}", None
            )
        form = {name: part.text for name, part in parts.items() if part.filename is None}
        model = form["model"]
        missing = self._missing(model)
        if missing:
            return missing
        response_format = form.get("response_format", "json")
        if model in JSON_ONLY and response_format != "json":
            return _error(
                400,
                f"response_format '{response_format}' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.",
                "unsupported_value",
                param="response_format",
            )
        answer = self.transcriber(filename, upload.data, form)
        result = answer if isinstance(answer, dict) else {"text": answer}
        if response_format in TEXT_FORMATS:
            return Reply(200, str(result["text"]))
        if response_format == "verbose_json":
            return Reply(200, _verbose(result, form))
        if model == "gpt-transcribe":
            # types/audio/transcription.py: "languages: The languages detected in the audio.
            # Returned by gpt-transcribe. An empty array indicates that no language could be
            # reliably detected." No `language` field.
            codes = result.get("languages")
            if codes is None:
                codes = [result["language"]] if result.get("language") else []
            return Reply(
                200,
                {
                    "text": result["text"],
                    "languages": [{"code": code} for code in codes],
                    "usage": {"type": "duration", "seconds": float(result.get("duration", 1.0))},
                },
            )
        return Reply(200, {"text": result["text"]})

    # -- chat ----------------------------------------------------------------------------------

    def _chat(self, request: RecordedRequest) -> Reply:
        body = request.json
        if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            return _error(400, "'model' and 'messages' are required.", None)
        if body.get("stream"):
            return _error(400, "FakeOpenAI does not stream.", None, param="stream")
        missing = self._missing(body["model"])
        if missing:
            return missing
        temperature = body.get("temperature")
        if _reasoning(body["model"]) and temperature not in (None, 1):
            return _error(
                400,
                f"Unsupported value: 'temperature' does not support {temperature} with this "
                "model. Only the default (1) value is supported.",
                "unsupported_value",
                param="temperature",
            )
        answer = self.chat_responder(body)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_tokens = _tokens(json.dumps(body["messages"]))
        completion_tokens = _tokens(content)
        return Reply(
            200,
            {
                "id": f"chatcmpl-fake{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": content,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "service_tier": "default",
                "system_fingerprint": None,
            },
        )


def parse_multipart(body: bytes, content_type: str) -> dict[str, FormPart]:
    """Parse a multipart/form-data body (stdlib ``cgi`` is deprecated)."""
    boundary = next(
        (p.split("=", 1)[1].strip('"') for p in content_type.split(";") if "boundary=" in p),
        None,
    )
    if not boundary:
        return {}
    parts: dict[str, FormPart] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = _part_headers(head.decode("utf-8", "replace"))
        disposition = _disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name:
            parts[name] = FormPart(
                name=name,
                data=data.removesuffix(b"\r\n"),
                filename=disposition.get("filename"),
                content_type=headers.get("content-type"),
            )
    return parts


def _part_headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if value:
            headers[name.strip().lower()] = value.strip()
    return headers


def _disposition(value: str) -> dict[str, str]:
    params = {}
    for item in value.split(";")[1:]:
        key, _, raw = item.strip().partition("=")
        params[key.lower()] = raw.strip('"')
    return params


def _verbose(result: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    text = str(result["text"])
    duration = float(result.get("duration", max(1.0, len(text.split()) * 0.4)))
    segments = result.get("segments") or [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": duration,
            "text": text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": -0.1,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
    ]
    return {
        "task": "transcribe",
        "language": result.get("language", form.get("language", "english")),
        "duration": duration,
        "text": text,
        "segments": segments,
    }


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", None),
    409: ("invalid_request_error", None),
    413: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),  # or insufficient_quota (fail_next(code=...))
    500: ("server_error", None),
    503: ("server_error", None),
}


def _error(status: int, message: str, code: str | None, param: str | None = None) -> Reply:
    error_type, default_code = _ERROR_TYPES.get(status, ("server_error", None))
    return Reply(
        status,
        {
            "error": {
                "message": message,
                "type": error_type,
                "param": param,
                "code": code or default_code,
            }
        },
    )


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)
