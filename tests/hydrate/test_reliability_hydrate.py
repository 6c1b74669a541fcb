"""Hydration under hostile servers on 127.0.0.1: the PatentsView key never reaches an error, a log record, the
store or the CLI's output; requests have a real deadline; a missing BigQuery client library is one error before
the run, its install command printed intact."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from patlink.cli.main import main
from patlink.http import HttpClient, HttpConfig
from patlink.hydrate.config import HydrateConfig
from patlink.hydrate.runner import hydrate
from patlink.hydrate.store import HydrationStore

SECRET = "pv-Hx8T2mQ9sLw4Zk7Rb3Nc"  # high entropy: none of its 8-character pieces occurs by chance
NUMBERS = ["US7852519", "US8000002"]


def assert_no_secret(text: str, where: str) -> None:
    """No 8-character piece of the key in ``text``, nor in ``text`` without whitespace (wrapped console lines)."""
    for t in (text, "".join(text.split())):
        for i in range(len(SECRET) - 7):
            p = SECRET[i:i + 8]
            assert p not in t, f"key piece {p!r} in {where}: ...{t[max(0, t.find(p) - 80):][:200]}..."


def dump_duckdb(path) -> str:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return "\n".join(str(v) for (t,) in con.execute("SELECT table_name FROM information_schema.tables")
                         .fetchall() for row in con.execute(f'SELECT * FROM "{t}"').fetchall() for v in row)
    finally:
        con.close()


class _EchoAPI(BaseHTTPRequestHandler):
    """A PatentSearch look-alike that answers with the request's headers in its error bodies. ``mode``: ``400``
    (the key straddles the client's 300-character cut), ``api-error`` (HTTP 200, ``"error": true`` with the
    echo as message), ``500`` (echo, retried), ``drip`` (one byte a second)."""

    protocol_version = "HTTP/1.1"
    mode = "400"
    hits: list

    def log_message(self, *a):
        pass

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        type(self).hits.append(self.path)
        key = str(self.headers.get("X-Api-Key"))
        echo = f"[/b] you sent X-Api-Key: {key}; headers {dict(self.headers.items())}"
        mode = type(self).mode
        if mode == "drip":
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "40")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1.0)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "api-error":
            code, body = 200, json.dumps({"error": True, "message": echo}).encode()
        elif mode == "500":
            code, body = 500, echo.encode()
        else:
            code, body = 400, ("z" * 290 + key + " is not a valid key " + echo).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def api():
    handler = type("EchoAPI", (_EchoAPI,), {"hits": []})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    handler.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield handler
    srv.shutdown()
    srv.server_close()
    t.join(timeout=5)


@pytest.fixture()
def numbers_file(tmp_path):
    f = tmp_path / "numbers.txt"
    f.write_text("\n".join(NUMBERS) + "\n")
    return f


@pytest.mark.parametrize("mode", ["400", "api-error"])
def test_patentsview_key_nowhere_in_cli_output_store_or_logs(api, mode, numbers_file, tmp_path, monkeypatch,
                                                             capsys, caplog):
    monkeypatch.setenv("PATENTSVIEW_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    api.mode = mode
    db = tmp_path / "h.duckdb"
    base = ["hydrate", "--numbers", str(numbers_file), "--source", "patentsview", "--base-url", api.url,
            "--db", str(db)]
    assert main(base) == 0
    table = capsys.readouterr()
    # failures are printed as text, not parsed as rich markup (the "[/b]" would end the command with an error)
    assert ("[/b] you sent" if mode == "api-error" else "HTTP 400 Bad Request: zzz") in table.out
    assert main([*base, "--json"]) == 0
    js = capsys.readouterr()
    failures = json.loads(js.out)["failures"]
    assert set(failures) == set(NUMBERS)
    assert all(("HTTP 400" if mode == "400" else "API error") in e for e in failures.values())
    with HydrationStore(db, read_only=True) as st:
        assert set(st.failed(NUMBERS)) == set(NUMBERS)
    assert api.hits == ["/api/v1/patent/"] * 2  # one request a run: a 4xx / an API error is not retried
    for where, text in (("hydrate stdout", table.out), ("hydrate stderr", table.err), ("--json", js.out),
                        ("--json stderr", js.err), ("hydrate store", dump_duckdb(db)),
                        ("log records", "\n".join(r.getMessage() for r in caplog.records))):
        assert_no_secret(text, where)


def test_patentsview_retried_500_and_runner_records_no_key(api, tmp_path, monkeypatch, caplog):
    """A 500 echoing the key is retried (the retry is logged) and then recorded for every number of the batch."""
    monkeypatch.setenv("PATENTSVIEW_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    api.mode = "500"
    cfg = HydrateConfig(source="patentsview", db_path=tmp_path / "h.duckdb",
                        http=HttpConfig(max_retries=1, backoff_base_s=0.01, jitter=0.0))
    cfg.patentsview.base_url = api.url
    cfg.patentsview.min_interval_s = 0.0
    summary = hydrate(NUMBERS, cfg)
    assert set(summary.failed) == set(NUMBERS) and len(api.hits) == 2
    assert all("HTTP 500" in e for e in summary.failed.values())
    assert any("retry 1/1" in r.getMessage() for r in caplog.records)
    for where, text in (("summary", json.dumps(summary.as_dict())), ("store", dump_duckdb(cfg.db_path)),
                        ("log records", "\n".join(r.getMessage() for r in caplog.records))):
        assert_no_secret(text, where)


def test_runner_redacts_what_a_source_raises(tmp_path):
    """A source-wide exception is recorded per number with the source's secrets and credential patterns
    removed (the runner does not trust every source to redact its own messages)."""

    class Leaky:
        name = "patentsview"
        secrets = (SECRET,)

        def fetch(self, numbers):
            raise RuntimeError(f"boom: Authorization: Bearer {SECRET} key={SECRET} raw {SECRET}")

        def close(self):
            pass

    cfg = HydrateConfig(source="patentsview", db_path=tmp_path / "h.duckdb")
    summary = hydrate(NUMBERS, cfg, source=Leaky())
    assert all(e.startswith("RuntimeError: boom") for e in summary.failed.values())
    assert_no_secret(json.dumps(summary.as_dict()) + dump_duckdb(cfg.db_path), "runner")


def test_hydrate_request_deadline_against_a_slow_drip(api, tmp_path, monkeypatch):
    monkeypatch.setenv("PATENTSVIEW_API_KEY", SECRET)
    api.mode = "drip"
    cfg = HydrateConfig(source="patentsview", db_path=tmp_path / "h.duckdb",
                        http=HttpConfig(timeout_s=10, deadline_s=1.5, max_retries=0))
    cfg.patentsview.base_url = api.url
    t0 = time.monotonic()
    summary = hydrate(NUMBERS, cfg)
    took = time.monotonic() - t0
    assert took < 1.5 + 2, took
    assert all("deadline of 1.5 s exceeded" in e for e in summary.failed.values()), summary.failed


def test_default_http_config_has_a_deadline():
    assert HttpConfig().deadline_s is not None and HttpConfig().deadline_s > 0
    with HttpClient(HttpConfig(deadline_s=None)) as c:  # None: no overall limit, only the per-read timeouts
        assert c.config.deadline_s is None


def test_bigquery_without_client_library_is_one_error_before_the_run(numbers_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)  # the optional library is missing
    monkeypatch.setitem(sys.modules, "google.cloud", None)
    db = tmp_path / "h.duckdb"
    rc = main(["hydrate", "--numbers", str(numbers_file), "--source", "bigquery", "--db", str(db)])
    out = capsys.readouterr()
    assert rc == 2
    assert 'pip install "patlink[bigquery]"' in out.err and "\\[" not in out.err
    assert len(out.err.strip().splitlines()) == 1 and "hydrating" not in out.err
    if db.exists():  # nothing recorded per number
        with HydrationStore(db, read_only=True) as st:
            assert st.failed(NUMBERS) == {}
