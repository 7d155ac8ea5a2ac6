"""The egress proxy that enforces the URL guard's policy (svp.media.urlguard) on every
connection a download makes.

Checking the submitted URL before handing it to yt-dlp is not enough: yt-dlp follows redirects
inside each of its request handlers (urllib, requests, and curl_cffi for browser
impersonation), extractors make requests of their own (APIs, subtitles, thumbnails), and libcurl
resolves and connects in C, out of reach of any Python socket hook. Checking
``info["webpage_url"]`` or the format URL afterwards sees only the end of the chain, after the
requests were made. Checking a name and letting the client resolve it again later is open to
DNS rebinding.

So every connection goes through :class:`EgressProxy`, a small forward proxy on 127.0.0.1
started for that download: yt-dlp's ``proxy`` option (honoured by all its request handlers,
impersonated ones included, for every request and every redirect hop) and gallery-dl's
``--proxy``. For each plain-HTTP request and each ``CONNECT`` tunnel the proxy parses the
target, applies :func:`check_host`, resolves the name itself, checks every address, and
connects to an address it checked. A redirect is a new request through the proxy, so it is
checked again; a name that resolves to 127.0.0.1 is refused when it is used. TLS stays end to
end (``CONNECT``), so impersonation and certificate checks are unchanged. The proxy speaks
HTTP/1.1 with ``Connection: close`` to keep one request per connection. Refusals, including
requests it cannot parse, are answered 403 with the reason, logged and recorded, so the
download can fail with the reason instead of a generic proxy error.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from svp.errors import TransientError
from svp.media.urlguard import (
    Connector,
    Policy,
    Refused,
    Resolver,
    Target,
    check_host,
    check_url,
    shown_url,
    system_resolve,
)

log = logging.getLogger("svp.urlguard")


_HEAD_LIMIT = 64 * 1024
_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te"}


@dataclass
class EgressProxy:
    """A forward proxy on 127.0.0.1 that lets through only what `policy` allows.

    Use as a context manager; `url` is what to give clients as their proxy; `refusals` lists the
    reasons of every refused request, in order. `resolve` and `connect` are the two ways out to
    the network (tests point both at loopback).
    """

    policy: Policy
    resolve: Resolver = system_resolve
    connect: Connector = socket.create_connection
    timeout: float = 30.0
    refusals: list[str] = field(default_factory=list)
    url: str = ""

    def __enter__(self) -> EgressProxy:
        guard = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                guard._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # Each client connection carries one request (plain HTTP) or one tunnel (CONNECT).
    def _handle(self, client: socket.socket) -> None:
        client.settimeout(self.timeout)
        try:
            try:
                head, rest = _read_head(client)
            except ValueError as exc:  # a head over the limit
                self._refuse(client, f"refused: a request the proxy cannot read ({exc})")
                _drain(client)
                return
            if head is None:
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, _, remainder = request_line.partition(" ")
            target, _, version = remainder.rpartition(" ")
            if method.upper() == "CONNECT":
                self._tunnel(client, target)
            else:
                self._forward(client, method, target, version, header_lines, rest)
        except OSError as exc:  # the client or the upstream went away
            log.debug("egress proxy: %s", exc)
        finally:
            client.close()

    def _refuse(self, client: socket.socket, reason: str, status: str = "403 Forbidden") -> None:
        if status.startswith("403"):
            self.refusals.append(reason)
            log.warning("egress refused: %s", reason)
        body = reason.encode()
        client.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    def _connect(
        self, client: socket.socket, checked: Callable[[], Target]
    ) -> socket.socket | None:
        try:
            target = checked()
        except Refused as exc:
            self._refuse(client, exc.reason)
            return None
        except (ValueError, UnicodeError) as exc:  # a target no parser makes sense of
            self._refuse(client, f"not a supported link: the proxy cannot parse it ({exc})")
            return None
        except TransientError as exc:
            self._refuse(client, exc.reason, "502 Bad Gateway")
            return None
        error: OSError | None = None
        for address in target.addresses:
            try:
                return self.connect((address, target.port), self.timeout)
            except OSError as exc:
                error = exc
        self._refuse(client, f"could not connect to {target.host}: {error}", "502 Bad Gateway")
        return None

    def _tunnel(self, client: socket.socket, authority: str) -> None:
        def checked() -> Target:
            host, port = _split_authority(authority, 443)
            return check_host(host, port, self.policy, self.resolve, scheme="https")

        upstream = self._connect(client, checked)
        if upstream is None:
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(client, upstream, self.timeout)

    def _forward(
        self,
        client: socket.socket,
        method: str,
        target: str,
        version: str,
        header_lines: list[str],
        rest: bytes,
    ) -> None:
        try:
            parts = urlsplit(target)
            http = parts.scheme.lower() == "http" and bool(parts.hostname)
        except ValueError as exc:
            self._refuse(client, f"not a supported link: {shown_url(target)} ({exc})")
            return
        if not http:
            self._refuse(client, f"refused: {shown_url(target)} is not an http(s) request")
            return
        upstream = self._connect(
            client, lambda: check_url(target, self.policy, self.resolve, first=False)
        )
        if upstream is None:
            return
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = [
            h for h in header_lines if h and h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
        ]
        head = "\r\n".join(
            [f"{method} {path} {version or 'HTTP/1.1'}", *headers, "Connection: close"]
        )
        with upstream:
            upstream.sendall(head.encode("latin-1") + b"\r\n\r\n" + rest)
            response, body = _read_head(upstream)
            if response is None:
                return
            lines = response.decode("latin-1").split("\r\n")
            kept = [lines[0]] + [
                h for h in lines[1:] if h and h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
            ]
            client.sendall(
                "\r\n".join([*kept, "Connection: close"]).encode("latin-1") + b"\r\n\r\n" + body
            )
            _relay(client, upstream, self.timeout)


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?", authority.strip())
    if not match:
        raise ValueError(f"{shown_url(authority)} is not a host:port")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host, port


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(8192)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > _HEAD_LIMIT:
            raise ValueError("request head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _drain(sock: socket.socket, limit: int = 1 << 20) -> None:
    """Read what the client is still sending (briefly), so that it gets the answer rather than
    a reset for closing on unread data."""
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(1.0)
    with contextlib.suppress(OSError):
        while limit > 0 and (chunk := sock.recv(65536)):
            limit -= len(chunk)


def _relay(a: socket.socket, b: socket.socket, timeout: float) -> None:
    """Copy bytes both ways until one side closes or nothing moves for `timeout` seconds."""
    selector = selectors.DefaultSelector()
    selector.register(a, selectors.EVENT_READ, b)
    selector.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            events = selector.select(timeout)
            if not events:
                return
            for key, _ in events:
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                data = source.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    finally:
        selector.close()
