"""Local test servers for the pipeline tests (127.0.0.1 only, ephemeral ports, nothing leaves the machine).

* ``web``: a threaded ``http.server`` serving the fixture pages under ``fixtures/`` plus generated ones: a PDF
  datasheet, a slow page, a 404, a redirect loop, a huge page, a robots.txt-disallowed page, a flaky page
  (503 then 200), a VPM page, and a fake SearXNG ``/search?format=json`` endpoint with scripted results.
* ``llm``: a fake OpenAI-compatible ``/v1/chat/completions`` endpoint answering from a script
  (:mod:`fake_openai`); it records every request (body and headers).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fake_openai import CHAT_PATH, ChatHandler, serve

FIXTURES = Path(__file__).parent / "fixtures"
SLOW_SECONDS = 1.5
HUGE_BYTES = 3 * 1024 * 1024


def make_pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` in Helvetica (written by hand, xref offsets computed)."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for ln in lines:
        ops += [f"({esc(ln)}) Tj", "T*"]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


DATASHEET_LINES = [
    "FIXTURE DATASHEET Acme FS-100 Flow Sensor",
    "The FS-100 measures gas mass flow with a heated platinum sensing element.",
    "Operating pressure up to 10 bar and flow range 0.1 to 200 standard litres per minute.",
    "The Modbus interface reports diagnostics such as sensor contamination.",
]
VPM_PDF_LINES = ["FIXTURE VPM list", "Acme Pump P4: US 7,000,001; 8,000,002 B2", "Acme Lid: D600,001"]


class _Web(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: Counter = Counter()
    search_script: dict = {}

    def log_message(self, *a):  # keep pytest output clean
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/html; charset=utf-8", headers=None,
              length: bool = True):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def do_GET(self):  # noqa: N802
        u = urlsplit(self.path)
        path = u.path
        type(self).hits[path] += 1
        if path == "/robots.txt":
            return self._send(200, (FIXTURES / "robots.txt").read_bytes(), "text/plain")
        if path == "/search":
            q = parse_qs(u.query)
            if q.get("format") != ["json"]:
                return self._send(403, b"forbidden")
            query = q.get("q", [""])[0]
            urls = type(self).search_script.get(query, [])
            base = f"http://{self.headers['Host']}"
            res = {"query": query, "results": [{"url": base + p if p.startswith("/") else p, "title": f"hit {i}",
                                                "content": "fixture"} for i, p in enumerate(urls)]}
            return self._send(200, json.dumps(res).encode(), "application/json")
        if path.startswith("/products/"):
            f = FIXTURES / path.split("/")[-1]
            if f.is_file():
                return self._send(200, f.read_bytes())
        if path == "/docs/acme-fs-100-datasheet.pdf":
            return self._send(200, make_pdf(DATASHEET_LINES), "application/pdf")
        if path == "/vpm.html":
            return self._send(200, (FIXTURES / "vpm_page.html").read_bytes())
        if path == "/vpm.pdf":
            return self._send(200, make_pdf(VPM_PDF_LINES), "application/pdf")
        if path.startswith("/slow/"):
            time.sleep(SLOW_SECONDS)
            return self._send(200, b"<html><body><p>late</p></body></html>")
        if path.startswith("/loop/"):
            return self._send(302, b"", headers={"Location": path})
        if path.startswith("/huge/"):
            chunk = b"<p>" + b"acme fs-100 filler text " * 40 + b"</p>\n"
            body = b"<html><body>" + chunk * (HUGE_BYTES // len(chunk) + 1) + b"</body></html>"
            return self._send(200, body, length=False)
        if path.startswith("/private/"):
            return self._send(200, b"<html><body><p>secret acme fs-100 page</p></body></html>")
        if path.startswith("/flaky/"):
            if type(self).hits[path] == 1:
                return self._send(503, b"busy", headers={"Retry-After": "0"})
            return self._send(200, (FIXTURES / "product_v2.html").read_bytes())
        return self._send(404, b"not found")


class _LLM(ChatHandler):
    fail_products: set = set()

    def do_POST(self):  # noqa: N802
        req = self.read_json()
        type(self).requests.append({"path": self.path, "body": req, "headers": dict(self.headers)})
        if self.path != CHAT_PATH:
            return self.send_json(404, {"error": "no such route"})
        system = req["messages"][0]["content"]
        user = req["messages"][-1]["content"]
        product = user.split("\n", 1)[0].removeprefix("Product: ").strip()
        if product in type(self).fail_products:
            return self.send_json(500, {"error": "scripted failure"})
        if "bullet points, one per line" in system:
            if "garden" in user.lower():
                answer = "NONE"
            else:
                answer = f"- {product} is an industrial device.\n- {product} is an industrial device.\n" \
                         f"* Excerpt length {len(user.split())} words."
        elif "ONE paragraph" in system:
            bullets = [ln for ln in user.splitlines() if ln.startswith("- ")]
            answer = f"PARAGRAPH about {product} from {len(bullets)} bullets."
        elif "summarise patents" in system:
            answer = "SUMMARY " + " ".join(["word"] * 500)  # over budget on purpose: the client must cut it
        elif "Answer YES or NO" in system:
            answer = "NO" if "unrelated" in user else "YES"
        else:
            answer = "?"
        return self.send_completion(req, answer, id="x")


@pytest.fixture()
def web():
    """Base URL of the fixture web server; ``web.hits`` counts requests per path, ``web.search`` scripts SearXNG."""
    with serve(_Web, hits=Counter(), search_script={}) as (base, handler):
        class W(str):
            pass

        w = W(base)
        w.hits = handler.hits
        w.search = handler.search_script
        yield w


@pytest.fixture()
def llm():
    """Base URL (``.../v1``) of the fake OpenAI-compatible server; ``llm.requests`` records every call."""
    with serve(_LLM, fail_products=set()) as (base, handler):
        class L(str):
            pass

        url = L(f"{base}/v1")
        url.requests = handler.requests
        url.fail_products = handler.fail_products
        yield url


@pytest.fixture(autouse=True)
def _offline_env(tmp_path, monkeypatch):
    """Private embedding cache, offline hub, one thread."""
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(k, "1")
    monkeypatch.delenv("PATLINK_LLM_API_KEY", raising=False)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
