"""Tiny in-test HTTP servers for the edges we cannot reach (Ollama, an OTLP collector).

Usage::

    class FakeOllama(StubHandler):
        def do_POST(self) -> None:
            self.reply(200, b'{"response": "hi", "done": true}')

    with serving(FakeOllama) as url:      # http://127.0.0.1:<free port>, in a thread
        ...
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubHandler(BaseHTTPRequestHandler):
    """A request handler that answers in one call and keeps the test output quiet."""

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StubServer:
    """A threaded HTTP server on a free port of ``host`` (loopback); ``start``/``stop`` or ``serving``.

    Another ``host`` (this machine's address toward a cluster's pods) lets pods reach it.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer((host, 0), handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` until the block ends; yields the base URL."""
    server = StubServer(handler)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
