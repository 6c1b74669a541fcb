"""HTTP paths of the pipeline under hostile servers on 127.0.0.1: no secret in any error, log, store row or CLI
output; a real per-request deadline against a server that drips one byte per second; redirects to non-HTTP URLs
refused at once; bodies of types that cannot be extracted refused before extraction."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from patlink.cli.main import main
from patlink.http import HttpClient, HttpConfig, HttpError, redact
from patlink.pipeline.config import (
    FetchConfig, FilterConfig, LLMConfig, PipelineConfig, SearchConfig,
)
from patlink.pipeline.extract import extract_text
from patlink.pipeline.fetch import FetchError, Fetcher
from patlink.pipeline.llm import ChatClient, LLMError
from patlink.pipeline.runner import run_pipeline
from patlink.pipeline.store import PipelineStore

from .conftest import make_pdf

SECRET = "sk-live-Q7f3ZpX9wLm2Rt8vKc4N"  # high entropy: none of its 8-character pieces occurs by chance
KEY_ENV = "PATLINK_TEST_LLM_KEY"
PAGE_HTML = (b"<html><head><title>Acme Widget</title></head><body><article><h1>Acme Widget W-1</h1>"
             b"<p>The Acme Widget W-1 is a pressure transmitter with a silicon sensing diaphragm.</p>"
             b"<p>It reports the measured pressure over a two-wire current loop.</p></article></body></html>")
DRIP_BYTES = 40


def pieces(secret: str, n: int = 8) -> list[str]:
    """Every ``n``-character piece of ``secret`` (a cut-off prefix of the key is a leak too)."""
    return [secret[i:i + n] for i in range(len(secret) - n + 1)]


def assert_no_secret(text: str, where: str, secret: str = SECRET) -> None:
    """No piece of ``secret`` in ``text``, nor in ``text`` without whitespace (a console may wrap a line inside
    the secret)."""
    for t in (text, "".join(text.split())):
        for p in pieces(secret):
            assert p not in t, f"secret piece {p!r} in {where}: ...{t[max(0, t.find(p) - 80):][:200]}..."


def dump_duckdb(path) -> str:
    """Every value of every column of every table of a DuckDB file, as text (BLOBs decoded)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                for v in row:
                    out.append(v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v))
        return "\n".join(out)
    finally:
        con.close()


class _Echo(BaseHTTPRequestHandler):
    """Echoes the request's headers and query string back in error bodies; other paths drip, redirect or send
    bodies of odd types."""

    protocol_version = "HTTP/1.1"
    hits: dict

    def log_message(self, *a):
        pass

    def _echo_text(self) -> str:
        """What a careless server says: the credentials it got first, then the query and every header."""
        headers = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        return (f"[/b] invalid request with Authorization: {self.headers.get('Authorization')} X-Api-Key: "
                f"{self.headers.get('X-Api-Key')} | query {urlsplit(self.path).query} | headers {headers}")

    def _send(self, code: int, body: bytes, ctype: str = "text/plain", headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, head: bool) -> None:
        """One byte per second: of the status line and headers (``head``) or of the body."""
        try:
            if head:
                for b in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok":
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(1.0)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(DRIP_BYTES))
                self.end_headers()
                self.wfile.flush()
                for _ in range(DRIP_BYTES):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1.0)
        except OSError:  # the client hung up: what a deadline does
            pass
        self.close_connection = True

    def _route(self) -> None:
        path = urlsplit(self.path).path
        type(self).hits[path] = type(self).hits.get(path, 0) + 1
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if path.endswith("/chat/completions"):
            body = {"error": {"message": self._echo_text(), "type": "invalid_request_error",
                              "request": {"headers": {k.lower(): v for k, v in self.headers.items()}},
                              "key_seen": self.headers.get("Authorization", "").removeprefix("Bearer ")}}
            return self._send(400, json.dumps(body).encode(), "application/json")
        if path == "/robots.txt":
            return self._send(404, b"none")
        if path.endswith("/page.html"):
            return self._send(200, PAGE_HTML, "text/html; charset=utf-8")
        if path.endswith("/echo500"):
            return self._send(500, self._echo_text().encode())
        if path.endswith("/echo401"):
            return self._send(401, self._echo_text().encode())
        if path.endswith("/echo-cut"):  # the key starts 10 characters before a 300-character cut
            return self._send(403, ("y" * 290 + str(self.headers.get("X-Api-Key")) + " rejected").encode())
        if path.endswith("/to-ftp"):
            return self._send(302, b"", headers={"Location": f"ftp://127.0.0.1/acme-widget?token={SECRET}"})
        if path.endswith("/to-file"):
            return self._send(302, b"", headers={"Location": f"file:///tmp/acme-widget?api_key={SECRET}"})
        if path.endswith("/octet"):
            return self._send(200, bytes(range(256)) * 8, "application/octet-stream")
        if path.endswith("/octet-pdf"):
            return self._send(200, make_pdf(["Acme Widget W-1 datasheet served as octet-stream"]),
                              "application/octet-stream")
        if path.endswith("/image"):
            return self._send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
        if path.endswith("/xhtml"):
            return self._send(200, PAGE_HTML, "application/xhtml+xml")
        if path.endswith("/plain"):
            return self._send(200, b"Acme Widget W-1: a pressure transmitter with a silicon diaphragm.",
                              "text/plain; charset=utf-8")
        if path.endswith("/drip-body"):
            return self._drip(head=False)
        if path.endswith("/drip-head"):
            return self._drip(head=True)
        return self._send(404, b"not found")

    do_GET = do_POST = _route


@pytest.fixture()
def echo():
    handler = type("Echo", (_Echo,), {"hits": {}})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()

    class E(str):
        pass

    e = E(f"http://127.0.0.1:{srv.server_address[1]}")
    e.hits = handler.hits
    yield e
    srv.shutdown()
    srv.server_close()
    t.join(timeout=5)


# -- the one redaction function ---------------------------------------------------------------------------------
def test_redact_removes_every_kind_of_secret():
    s = SECRET
    cases = {
        f"Authorization: Bearer {s}": "Authorization: Bearer ***",
        f"authorization: Basic dXNlcjp{s}": "authorization: Basic ***",
        f"GET http://h/p?api_key={s}&q=1": "GET http://h/p?api_key=***&q=1",
        f"GET http://h/p?q=1&token={s}#x": "GET http://h/p?q=1&token=***#x",
        f"form body access_token={s}": "form body access_token=***",
        f'{{"api_key": "{s}", "n": 1}}': '{"api_key": "***", "n": 1}',
        f'{{"authorization": "Bearer {s}"}}': '{"authorization": "***"}',
        f"{{'X-Api-Key': '{s}', 'Host': 'h'}}": "{'X-Api-Key': '***', 'Host': 'h'}",
        f"X-Api-Key: {s} Accept: */*": "X-Api-Key: *** Accept: */*",
        f"see https://user:{s}@example.com/x": "see https://user:***@example.com/x",
    }
    for text, want in cases.items():
        assert redact(text) == want, text
    # explicit secrets: raw, percent-encoded and JSON-escaped forms; several at once; empty ones ignored
    odd = 'p@ss/w"rd+1'
    assert redact(f"raw {s} and {odd}", secrets=(s, odd, "")) == "raw *** and ***"
    assert redact("q=p%40ss%2Fw%22rd%2B1 and p%40ss%2Fw%22rd%2B1", secrets=(odd,)).count("***") == 2
    assert redact(json.dumps({"seen": odd}), secrets=(odd,)) == '{"seen": "***"}'
    # extra patterns, and text without secrets left alone
    assert redact("session 12345 ok", patterns=(r"session \d+",)) == "*** ok"
    plain = "HTTP 404 Not Found: http://127.0.0.1:8080/products/acme-fs-100?page=2 (basic datasheet)"
    assert redact(plain) == plain
    assert redact("monkey=banana turkey: club") == "monkey=banana turkey: club"


def test_http_error_body_is_redacted_before_it_is_cut(echo):
    """The secret straddling the 300-character cut must not leave its first characters in the message."""
    with HttpClient(HttpConfig(max_retries=0), headers={"X-Api-Key": SECRET}, secret_headers=("X-Api-Key",)) as c:
        with pytest.raises(HttpError) as e:
            c.get(echo + "/echo-cut")
    assert e.value.status == 403 and "yyyy" in str(e.value)
    assert_no_secret(str(e.value), "HttpError")


# -- defect: the LLM API key stored and printed ----------------------------------------------------------------
def test_llm_error_does_not_contain_the_key(echo, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    c = ChatClient(LLMConfig(base_url=echo + "/v1", model="m", api_key_env=KEY_ENV, retries=0))
    with pytest.raises(LLMError) as e:
        c.chat([{"role": "user", "content": "hi"}])
    c.close()
    msg = str(e.value)
    assert "HTTP 400" in msg and "invalid request" in msg  # the server's reason is kept ...
    assert_no_secret(msg, "LLMError")                      # ... its echo of the key is not


def test_pipeline_store_logs_and_status_cli_never_show_the_key(echo, tmp_path, monkeypatch, caplog, capsys):
    """The real stages against the echoing server: the LLM stages fail with HTTP 400 (body echoes the key), the
    fetch stage meets redirects whose targets carry the secret, a 500 echo and a 401 echo. Every output is
    searched for every 8-character piece of the secret."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    products = tmp_path / "products.txt"
    products.write_text("Acme Widget\n")
    urls = tmp_path / "urls.csv"
    urls.write_text("product,url\n" + "".join(
        f"Acme Widget,{echo}/acme-widget/{p}\n" for p in ("page.html", "to-ftp", "to-file", "echo500", "echo401")))
    pats = tmp_path / "patents.jsonl"
    pats.write_text(json.dumps({"id": "US 7,123,456 B2", "title": "Pressure transmitter",
                                "abstract": "A silicon diaphragm measures pressure."}) + "\n")
    db = tmp_path / "p.duckdb"
    cfg = PipelineConfig(
        company="Acme", db_path=db, show_progress=False,
        search=SearchConfig(provider="urls", urls_file=urls),
        filter=FilterConfig(require_name_in_url=False),
        fetch=FetchConfig(timeout_s=5, connect_timeout_s=2, retries=1, backoff_s=0.0),
        llm=LLMConfig(base_url=echo + "/v1", model="m", api_key_env=KEY_ENV, retries=0),
    )
    with PipelineStore(db) as st:
        run_pipeline(cfg, st, products_file=products, patents_file=pats, sleep=lambda s: None)
        fails = {(f["stage"], f["key"]): f["error"] for f in st.failures()}
    assert any(s == "bullets" for s, _ in fails) and any(s == "patent_summary" for s, _ in fails)
    assert "HTTP 400" in next(e for (s, _), e in fails.items() if s == "patent_summary")
    assert fails[("fetch", f"{echo}/acme-widget/echo500")].startswith("FetchError: HTTP 500")
    assert "token=***" in fails[("fetch", f"{echo}/acme-widget/to-ftp")]
    for err in fails.values():
        assert_no_secret(err, "stage_cache.error")

    capsys.readouterr()
    assert main(["pipeline", "status", "--db", str(db), "--failures"]) == 0
    table = capsys.readouterr()
    assert "[/b] invalid request" in table.out  # errors are printed as text, not as rich markup
    assert main(["pipeline", "status", "--db", str(db), "--json"]) == 0
    js = capsys.readouterr()
    assert json.loads(js.out)["failures"]
    for name, text in (("status stdout", table.out), ("status stderr", table.err), ("status --json", js.out),
                       ("status --json stderr", js.err), ("pipeline store", dump_duckdb(db)),
                       ("log records", "\n".join(r.getMessage() for r in caplog.records))):
        assert_no_secret(text, name)


def test_serve_does_not_echo_a_wrong_token(tmp_path):
    """The review server's only secret is its token; a wrong one sent in either header is not in the 401 body."""
    from fastapi.testclient import TestClient

    import patlink as pl
    from patlink.review import DecisionStore, ReviewService
    from patlink.serve import create_app

    ds = pl.load_dataset("pap2pat")
    service = ReviewService.for_dataset(ds, pl.BM25(), DecisionStore(tmp_path / "d.sqlite"))
    with TestClient(create_app(service, token="right-token-123")) as c:
        for headers in ({"Authorization": f"Bearer {SECRET}"}, {"X-Patlink-Token": SECRET}):
            r = c.get("/api/info", headers=headers)
            assert r.status_code == 401 and "wrong token" in r.json()["detail"]
            assert_no_secret(r.text + json.dumps(dict(r.headers)), "401 response")
        r = c.post("/api/link", headers={"Authorization": f"Bearer {SECRET}"}, json={"queries": {"q": SECRET}})
        assert r.status_code == 401
        assert_no_secret(r.text, "401 response to a body carrying the secret")


# -- defect: the time limit did not hold against a server dripping one byte per second --------------------------
@pytest.mark.parametrize("where", ["drip-body", "drip-head"])
def test_fetch_deadline_holds_against_a_slow_drip(echo, where):
    deadline = 1.5
    with Fetcher(FetchConfig(timeout_s=deadline, connect_timeout_s=deadline, retries=0)) as f:
        t0 = time.monotonic()
        with pytest.raises(FetchError, match=r"deadline of 1\.5 s exceeded"):
            f.fetch(echo + f"/acme-widget/{where}")
        took = time.monotonic() - t0
    assert took < deadline + 2, took
    assert echo.hits[f"/acme-widget/{where}"] == 1  # --retries 0: one attempt


def test_http_client_request_deadline_and_retries(echo):
    """The non-streaming request() (hydration sources) has the same deadline; a deadline is retried like a
    timeout, each attempt with its own deadline."""
    waits: list[float] = []
    cfg = HttpConfig(timeout_s=10, deadline_s=1.0, max_retries=1, backoff_base_s=0.0, jitter=0.0)
    with HttpClient(cfg, sleep=waits.append) as c:
        t0 = time.monotonic()
        with pytest.raises(HttpError) as e:
            c.get(echo + "/drip-body")
        took = time.monotonic() - t0
    assert e.value.kind == "deadline" and e.value.attempts == 2 and "deadline of 1 s exceeded" in str(e.value)
    assert took < 2 * 1.0 + 2, took
    assert echo.hits["/drip-body"] == 2 and len(waits) == 1


def test_cli_fetch_timeout_is_the_page_deadline(echo, capsys):
    t0 = time.monotonic()
    rc = main(["pipeline", "fetch", echo + "/acme-widget/drip-body", "--timeout", "1.5", "--retries", "0"])
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert rc == 2 and "deadline of 1.5 s exceeded" in err and len(err.strip().splitlines()) == 1
    assert took < 1.5 + 2, took


# -- low: redirects to non-HTTP URLs ---------------------------------------------------------------------------
@pytest.mark.parametrize("where,scheme", [("to-ftp", "ftp"), ("to-file", "file")])
def test_redirect_to_a_non_http_url_fails_at_once(echo, where, scheme):
    delays: list[float] = []
    with Fetcher(FetchConfig(timeout_s=5, retries=3, backoff_s=1.0), sleep=delays.append) as f:
        with pytest.raises(FetchError) as e:
            f.fetch(echo + f"/acme-widget/{where}")
    msg = str(e.value)
    assert msg.startswith(f"redirect to a non-HTTP URL {scheme}:") and "refused" in msg and "\n" not in msg
    assert "connection failed" not in msg
    assert_no_secret(msg, "redirect error")
    assert echo.hits[f"/acme-widget/{where}"] == 1 and delays == []  # not retried


# -- low: bodies that cannot be extracted ----------------------------------------------------------------------
def test_content_type_checked_before_extraction():
    with pytest.raises(ValueError, match="unsupported content type 'application/octet-stream'"):
        extract_text(bytes(range(256)), "application/octet-stream")
    with pytest.raises(ValueError, match="unsupported content type 'image/png'"):
        extract_text(b"\x89PNG\r\n\x1a\n", "image/png")
    with pytest.raises(ValueError, match="unsupported content type 'application/zip'"):
        extract_text(b"PK\x03\x04 acme", "application/zip")
    assert "silicon" in extract_text(PAGE_HTML, "application/xhtml+xml")
    assert "silicon" in extract_text(PAGE_HTML, "text/html")
    assert extract_text(b"plain words here", "text/plain") == "plain words here"
    assert "Acme" in extract_text(make_pdf(["Acme datasheet"]), "application/pdf")
    # a PDF announced as octet-stream is still a PDF (by its magic bytes); no type at all: sniffed
    assert "Acme" in extract_text(make_pdf(["Acme datasheet"]), "application/octet-stream")
    assert "silicon" in extract_text(PAGE_HTML, "")
    with pytest.raises(ValueError, match="unsupported content type"):
        extract_text(b"\0\1\2\3 binary", "")


def test_pipeline_fetch_stage_refuses_unsupported_types(echo, tmp_path):
    products = tmp_path / "products.txt"
    products.write_text("Acme Widget\n")
    urls = tmp_path / "urls.csv"
    kinds = ("octet", "image", "octet-pdf", "xhtml", "plain", "page.html")
    urls.write_text("product,url\n" + "".join(f"Acme Widget,{echo}/acme-widget/{k}\n" for k in kinds))
    cfg = PipelineConfig(company="Acme", db_path=tmp_path / "p.duckdb", show_progress=False,
                         search=SearchConfig(provider="urls", urls_file=urls),
                         filter=FilterConfig(require_name_in_url=False),
                         fetch=FetchConfig(timeout_s=5, retries=0))
    with PipelineStore(cfg.db_path) as st:
        rep = run_pipeline(cfg, st, products_file=products, until="fetch", sleep=lambda s: None)
        fails = {f["key"]: f["error"] for f in st.failures()}
        extracted = set(st.stage_outputs("extract"))
    assert set(fails) == {f"{echo}/acme-widget/octet", f"{echo}/acme-widget/image"}
    assert "unsupported content type 'application/octet-stream'" in fails[f"{echo}/acme-widget/octet"]
    assert "unsupported content type 'image/png'" in fails[f"{echo}/acme-widget/image"]
    assert extracted == {f"{echo}/acme-widget/{k}" for k in ("octet-pdf", "xhtml", "plain", "page.html")}
    assert rep["fetch"]["failed"] == 2 and rep["extract"]["failed"] == 0


def test_cli_fetch_refuses_an_octet_stream(echo, capsys):
    rc = main(["pipeline", "fetch", echo + "/acme-widget/octet", "--timeout", "5", "--retries", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "unsupported content type 'application/octet-stream'" in err
    assert len(err.strip().splitlines()) == 1
