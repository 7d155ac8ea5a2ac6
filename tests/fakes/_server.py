"""Shared machinery for the HTTP fakes: a stdlib server in a daemon thread, a request
log and a queue of injected failures.

A fake subclasses :class:`FakeServer` and implements :meth:`FakeServer.handle`, which
turns a :class:`RecordedRequest` into a :class:`Reply`. Everything else (binding a free
port on 127.0.0.1, keep-alive HTTP/1.1, JSON encoding, logging every request, serving
``fail_next`` replies first) lives here.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # URL-decoded, without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    json: Any = None  # parsed body when it was JSON, else None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def query_value(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    """What the fake answers: a dict/list body is sent as JSON, str as text, bytes raw."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        if self.body is None:
            return b"", "application/json"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


@dataclass
class Fault:
    """What a fault plan (:attr:`FakeServer.fault_plan`) does to one request, after waiting
    ``delay`` seconds: ``reply`` answers ``reply`` instead of handling it; ``drop`` closes the
    connection without an answer; ``reply_after`` and ``drop_after`` handle the request (its
    effect is applied) and then answer ``reply`` or close the connection, as a server that
    failed after writing."""

    kind: Literal["none", "reply", "drop", "reply_after", "drop_after"] = "none"
    reply: Reply | None = None
    delay: float = 0.0


DROP = Reply(0)  # sentinel: close the connection without answering


class FailureQueue:
    """Replies to serve instead of the real answer, one per incoming request."""

    def __init__(self) -> None:
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()

    def push(self, reply: Reply, times: int = 1) -> None:
        with self._lock:
            self._queue.extend(reply for _ in range(times))

    def pop(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; the fake's own request log is the record

    def _dispatch(self) -> None:
        request = self._read_request()
        reply = self.server.fake.receive(request)
        if reply is DROP:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body, content_type = reply.encode()
        self.send_response(reply.status)
        headers = {"Content-Type": content_type, **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        parsed: Any = None
        if body and "json" in (self.headers.get("Content-Type") or ""):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        return RecordedRequest(
            method=self.command,
            path=unquote(url.path),
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (a killed worker) is not the fake's problem.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeServer:
    """Base class: a real HTTP server on 127.0.0.1:<free port>.

    Use as a context manager (``with FakeX() as fake: fake.base_url``) or call
    :meth:`start` / :meth:`stop` from a pytest fixture.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.failures = FailureQueue()
        self.delays: dict[str, float] = {}  # path part -> seconds to wait before answering
        # Called with every request; a Fault it returns is applied (see Fault).
        self.fault_plan: Callable[[RecordedRequest], Fault | None] | None = None
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # quick shutdown()
                name=f"{type(self).__name__}-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash, no API version)."""
        return f"http://127.0.0.1:{self.port}"

    # -- request log -----------------------------------------------------------------

    def requests_to(self, path_part: str, method: str | None = None) -> list[RecordedRequest]:
        """Logged requests whose path contains ``path_part`` (and match ``method``)."""
        with self._log_lock:
            return [
                r
                for r in self.requests
                if path_part in r.path and (method is None or r.method == method.upper())
            ]

    def clear_log(self) -> None:
        with self._log_lock:
            self.requests.clear()

    # -- dispatch ----------------------------------------------------------------------

    def slow_down(self, path_part: str, seconds: float) -> None:
        """Answer requests whose path contains `path_part` only after `seconds` (a slow peer)."""
        self.delays[path_part] = seconds

    def receive(self, request: RecordedRequest) -> Reply:
        with self._log_lock:
            self.requests.append(request)
        for part, seconds in list(self.delays.items()):
            if part in request.path:
                time.sleep(seconds)
        injected = self.failures.pop()
        if injected is not None:
            return injected
        fault = (self.fault_plan(request) if self.fault_plan else None) or Fault()
        time.sleep(fault.delay)
        if fault.kind == "reply" and fault.reply is not None:
            return fault.reply
        if fault.kind == "drop":
            return DROP
        try:
            reply = self.handle(request)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: make it loud, not a hang
            trace = traceback.format_exc()
            return Reply(500, {"error": f"{type(self).__name__} crashed: {exc!r}", "trace": trace})
        if fault.kind == "reply_after" and fault.reply is not None:
            return fault.reply
        return DROP if fault.kind == "drop_after" else reply

    def handle(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError


def google_error(status: int, message: str | None = None) -> Reply:
    """A Google API error body: ``{"error": {"code", "message", "status"}}``."""
    rpc_status = GOOGLE_STATUS.get(status, "UNKNOWN")
    text = message or f"Injected {status} {rpc_status} from the fake"
    return Reply(status, {"error": {"code": status, "message": text, "status": rpc_status}})


GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
