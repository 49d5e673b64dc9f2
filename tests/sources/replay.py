"""A tiny HTTP server that answers each path with a recorded body (tests/fixtures/<source>/), for real CCXT."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class Replay:
    """``routes``: path -> (HTTP status, fixture file); ``requests`` lists the paths (with query) asked for."""

    def __init__(self, source: str, routes: dict[str, tuple[int, str]]) -> None:
        self.source = source
        self.routes = dict(routes)
        self.requests: list[str] = []
        self.url = ""

    def body(self, name: str) -> bytes:
        return json.dumps(json.loads((FIXTURES / self.source / name).read_text())).encode()


@contextmanager
def replay(source: str, routes: dict[str, tuple[int, str]]) -> Iterator[Replay]:
    state = Replay(source, routes)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests.append(self.path)
            status, name = state.routes.get(urlsplit(self.path).path, (404, ""))
            body = state.body(name) if name else b'{"message":"NotFound"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
