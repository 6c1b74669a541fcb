"""Shared fixtures: paths of the hand-written format fixtures and a bounded local HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PATENTSVIEW_API_KEY", raising=False)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


class LocalServer:
    """A threaded ``http.server`` on an ephemeral 127.0.0.1 port. ``route(method, path, headers, body)`` returns
    ``(status, headers, body_bytes)``; every request is recorded in ``requests``."""

    def __init__(self, route: Callable[[str, str, dict, bytes], tuple[int, dict, bytes]]) -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append({"method": self.command, "path": self.path, "headers": hdrs, "body": body})
                status, out_headers, payload = route(self.command, self.path, hdrs, body)
                self.send_response(status)
                for k, v in out_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def local_server():
    servers: list[LocalServer] = []

    def start(route) -> LocalServer:
        s = LocalServer(route)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
