"""Serving the app on 127.0.0.1 with werkzeug (`svp serve`, the browser test)."""

from __future__ import annotations

import logging
import socket

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("svp.api.serve")


class QuietHandler(WSGIRequestHandler):
    """Access log lines without the query string: the OAuth callback's carries a code."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.info("%s %s %s", self.command, path, code, extra={"event": "http.request"})


def make(app: Flask, port: int) -> BaseWSGIServer:
    """A threaded server bound to 127.0.0.1 only (port 0: any free port). A port in use
    raises OSError (werkzeug alone would exit the process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        # werkzeug duplicates the descriptor; this one is closed on leaving the block.
        return make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=QuietHandler, fd=sock.fileno()
        )


def serve(app: Flask, port: int) -> None:
    server = make(app, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
