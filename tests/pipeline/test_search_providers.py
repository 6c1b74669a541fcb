"""The web search API providers (Google Programmable Search, Brave Search, SerpAPI) and SearXNG on HttpClient,
against fake servers on 127.0.0.1 that speak each API's documented request and response format.

Each fake checks what a real API checks (path, key parameter or header, parameter ranges) and answers with the
real shapes: Google's ``cse.list`` ``{"items": [{"link", "title", "snippet"}], "queries": {"nextPage"}}`` and
``{"error": {"code", "message", "errors", "status"}}``; Brave's ``{"web": {"results": [{"url", "title",
"description"}]}, "query": {"more_results_available"}}`` and ``{"type": "ErrorResponse", "error": {"code",
"detail"}}``; SerpAPI's ``{"search_metadata": {"status"}, "organic_results": [{"position", "title", "link",
"snippet"}], "serpapi_pagination": {"next"}}`` and ``{"error": "..."}``. All results are invented URLs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from patlink.cli.main import main
from patlink.pipeline.config import DEFAULT_QUERY_TEMPLATES, PipelineConfig, SearchConfig
from patlink.pipeline.runner import run_pipeline
from patlink.pipeline.search import (
    BraveSearchProvider, GoogleCSEProvider, SearchAuthError, SearchError, SearchQuotaError, SearXNGProvider,
    SerpAPIProvider, check_templates, make_provider,
)
from patlink.pipeline.store import PipelineStore

KEY = "SECRETkey-7f3a9c2e81d44b6f"   # what every fake server accepts
WRONG = "WRONGkey-000000000000"
CX = "fixture-engine-017"


def _hits(query: str, n: int) -> list[str]:
    slug = "-".join(query.lower().split())
    return [f"https://example.org/{slug}/{i}" for i in range(1, n + 1)]


class _Fake(BaseHTTPRequestHandler):
    """One fake API; subclasses say which. Class attributes (copied per fixture): ``requests`` (path, params with
    single values, lower-case headers), ``n_results`` (query → how many results exist, default 3), ``script``
    (query → list of scripted answers ``(status, body, headers)`` popped one per request)."""

    protocol_version = "HTTP/1.1"
    kind = ""
    path_ok = ""
    requests: list = []
    n_results: dict = {}
    script: dict = {}

    def log_message(self, *a):
        pass

    def _send(self, status: int, body, headers=None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        u = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        req = {"path": u.path, "params": params, "headers": {k.lower(): v for k, v in self.headers.items()},
               "raw": self.path}
        type(self).requests.append(req)
        if u.path != self.path_ok:
            return self._send(404, {"error": "no such route"})
        q = params.get("q", "")
        queue = type(self).script.get(q)
        if queue:
            status, body, headers = queue.pop(0)
            if callable(body):
                body = body(req)
            return self._send(status, body, headers)
        return self.answer(params, req)

    def answer(self, params, req):
        raise NotImplementedError


def _google_error(code: int, message: str, status: str, reason: str, info_reason: str | None = None) -> dict:
    err = {"code": code, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}],
           "status": status}
    if info_reason:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": info_reason,
                           "domain": "googleapis.com", "metadata": {"service": "customsearch.googleapis.com"}}]
    return {"error": err}


class _Google(_Fake):
    kind = "google"
    path_ok = "/customsearch/v1"

    def answer(self, params, req):
        if params.get("key") != KEY:
            return self._send(400, _google_error(400, "API key not valid. Please pass a valid API key.",
                                                 "INVALID_ARGUMENT", "badRequest", "API_KEY_INVALID"))
        if params.get("cx") != CX:
            return self._send(400, _google_error(400, "Request contains an invalid argument.", "INVALID_ARGUMENT",
                                                 "badRequest"))
        q = params.get("q", "")
        num, start = int(params.get("num", 10)), int(params.get("start", 1))
        if not 1 <= num <= 10 or start < 1 or start + num > 101:
            return self._send(400, _google_error(400, "Invalid Value", "INVALID_ARGUMENT", "invalid"))
        allhits = _hits(q, type(self).n_results.get(q, 3))
        page = allhits[start - 1: start - 1 + num]
        total = str(len(allhits))
        request = {"title": f"Google Custom Search - {q}", "totalResults": total, "searchTerms": q, "count": num,
                   "startIndex": start, "inputEncoding": "utf8", "outputEncoding": "utf8", "safe": "off", "cx": CX}
        body = {"kind": "customsearch#search",
                "url": {"type": "application/json",
                        "template": "https://www.googleapis.com/customsearch/v1?q={searchTerms}&num={count?}&"
                                    "start={startIndex?}&cx={cx?}&alt=json"},
                "queries": {"request": [request]},
                "context": {"title": "fixture engine"},
                "searchInformation": {"searchTime": 0.21, "formattedSearchTime": "0.21", "totalResults": total,
                                      "formattedTotalResults": total}}
        if start - 1 + num < len(allhits):
            body["queries"]["nextPage"] = [{**request, "startIndex": start + num}]
        if page:
            body["items"] = [{"kind": "customsearch#result", "title": f"Result {start + i}",
                              "htmlTitle": f"<b>Result</b> {start + i}", "link": url,
                              "displayLink": "example.org", "snippet": f"snippet {start + i}",
                              "htmlSnippet": f"snippet {start + i}", "formattedUrl": url, "htmlFormattedUrl": url}
                             for i, url in enumerate(page)]
        return self._send(200, body)


def _brave_error(status: int, code: str, detail: str, **meta) -> dict:
    return {"type": "ErrorResponse", "error": {"id": "6b0b3c86-fixture", "status": status, "code": code,
                                               "detail": detail, "meta": meta}, "time": 1754364294}


class _Brave(_Fake):
    kind = "brave"
    path_ok = "/res/v1/web/search"
    overlap = 0   # results repeated from the previous page (Brave says pages may overlap)

    def answer(self, params, req):
        if req["headers"].get("x-subscription-token") != KEY:
            return self._send(422, _brave_error(422, "SUBSCRIPTION_TOKEN_INVALID",
                                                "The provided subscription token is invalid."))
        if req["headers"].get("accept") != "application/json":
            return self._send(406, _brave_error(406, "NOT_ACCEPTABLE", "Accept application/json"))
        q = params.get("q", "")
        count, offset = int(params.get("count", 20)), int(params.get("offset", 0))
        if not q or not 1 <= count <= 20 or not 0 <= offset <= 9:
            return self._send(422, _brave_error(422, "VALIDATION", "Unable to validate request parameter(s)"))
        allhits = _hits(q, type(self).n_results.get(q, 3))
        lo = max(0, offset * count - (type(self).overlap if offset else 0))
        page = allhits[lo: offset * count + count]
        body = {"type": "search",
                "query": {"original": q, "show_strict_warning": False, "is_navigational": False,
                          "more_results_available": offset * count + count < len(allhits)},
                "mixed": {"type": "mixed", "main": [{"type": "web", "index": i, "all": False}
                                                    for i in range(len(page))], "top": [], "side": []}}
        if page:
            body["web"] = {"type": "search", "family_friendly": True,
                           "results": [{"title": f"Brave {lo + i + 1}", "url": url, "is_source_local": False,
                                        "is_source_both": False, "description": f"about {lo + i + 1}",
                                        "profile": {"name": "Example", "url": url, "long_name": "example.org"},
                                        "language": "en", "family_friendly": True, "type": "search_result",
                                        "subtype": "generic", "meta_url": {"scheme": "https",
                                                                           "hostname": "example.org"}}
                                       for i, url in enumerate(page)]}
        return self._send(200, body)


class _SerpAPI(_Fake):
    kind = "serpapi"
    path_ok = "/search.json"

    def answer(self, params, req):
        if params.get("api_key") != KEY:
            return self._send(401, {"error": "Invalid API key. Your API key should be here: "
                                             "https://serpapi.com/manage-api-key"})
        q = params.get("q")
        if not q:
            return self._send(400, {"error": "Missing query `q` parameter."})
        start = int(params.get("start", 0))
        allhits = _hits(q, type(self).n_results.get(q, 3))
        page = allhits[start: start + 10]
        meta = {"id": "64c32cfeb68f8bc186aaa013", "status": "Success",
                "json_endpoint": "https://serpapi.com/searches/d46c933a4a843289/64c32cfeb68f8bc186aaa013.json",
                "created_at": "2025-01-01 00:00:00 UTC", "total_time_taken": 1.3}
        body = {"search_metadata": meta,
                "search_parameters": {"engine": params.get("engine"), "q": q, "google_domain": "google.com",
                                      "device": "desktop"}}
        if not page:
            body["search_information"] = {"organic_results_state": "Fully empty"}
            body["error"] = "Google hasn't returned any results for this query."
            return self._send(200, body)
        body["search_information"] = {"organic_results_state": "Results for exact spelling",
                                      "total_results": len(allhits)}
        body["organic_results"] = [{"position": start + i + 1, "title": f"Serp {start + i + 1}", "link": url,
                                    "redirect_link": "https://www.google.com/url?q=" + url,
                                    "displayed_link": "https://example.org › x", "snippet": f"google says {i}",
                                    "source": "Example"} for i, url in enumerate(page)]
        if start + 10 < len(allhits):
            body["serpapi_pagination"] = {"current": start // 10 + 1, "next": "https://serpapi.com/search.json?"
                                                                             f"engine=google&q=x&start={start+10}"}
        return self._send(200, body)


def _serve(handler_cls):
    handler = type(handler_cls.__name__, (handler_cls,), {"requests": [], "n_results": {}, "script": {}})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()

    class F(str):
        pass

    f = F(f"http://127.0.0.1:{srv.server_address[1]}")
    f.requests, f.n_results, f.script, f.handler = handler.requests, handler.n_results, handler.script, handler
    return srv, f


@pytest.fixture()
def google():
    srv, f = _serve(_Google)
    yield f
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def brave():
    srv, f = _serve(_Brave)
    yield f
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def serpapi():
    srv, f = _serve(_SerpAPI)
    yield f
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def keys(monkeypatch):
    for var in ("GOOGLE_CSE_API_KEY", "BRAVE_SEARCH_API_KEY", "SERPAPI_API_KEY"):
        monkeypatch.setenv(var, KEY)
    monkeypatch.setenv("GOOGLE_CSE_ID", CX)


class Sleeps(list):
    def __call__(self, s):
        self.append(s)


def _google(base, **kw):
    return GoogleCSEProvider(base_url=base, sleep=kw.pop("sleep", Sleeps()), **kw)


def _no_key(text: str) -> None:
    assert KEY not in text and KEY[:12] not in text


# ---------------------------------------------------------------------------------------------- Google
def test_google_request_and_answer(google, keys):
    with _google(google) as p:
        res = p.search("Honeywell HC900 datasheet", "HC900", top_k=1)
    assert [(r.url, r.title, r.snippet, r.rank) for r in res] == [
        ("https://example.org/honeywell-hc900-datasheet/1", "Result 1", "snippet 1", 1)]
    (req,) = google.requests
    assert req["path"] == "/customsearch/v1"
    assert req["params"] == {"key": KEY, "cx": CX, "q": "Honeywell HC900 datasheet", "num": "1"}
    assert req["headers"]["accept"] == "application/json"


def test_google_pages_with_start_up_to_top_k(google, keys):
    google.n_results["acme fs"] = 40
    with _google(google) as p:
        res = p.search("acme fs", "x", top_k=25)
    assert [r.rank for r in res] == list(range(1, 26))
    assert [r.url for r in res] == _hits("acme fs", 25)
    assert [(r["params"]["num"], r["params"].get("start")) for r in google.requests] == [
        ("10", None), ("10", "11"), ("10", "21")]
    # fewer results than asked: the page without a nextPage ends the paging
    google.requests.clear()
    google.n_results["acme v2"] = 12
    with _google(google) as p:
        assert [r.url for r in p.search("acme v2", "x", top_k=50)] == _hits("acme v2", 12)
    assert len(google.requests) == 2
    # the API's own limit: result 100 is the last one reachable (start + num <= 101), never asked beyond
    google.requests.clear()
    google.n_results["big"] = 500
    with _google(google) as p:
        assert len(p.search("big", "x", top_k=100)) == 100
        with pytest.raises(ValueError, match="between 1 and 100"):
            p.search("big", "x", top_k=101)
    assert max(int(r["params"].get("start", 1)) for r in google.requests) == 91


def test_google_no_results(google, keys):
    google.n_results["nothing"] = 0
    with _google(google) as p:
        assert p.search("nothing", "x", 5) == []
    assert len(google.requests) == 1


def test_google_key_and_quota_errors_are_fatal_one_liners(google, keys, monkeypatch):
    monkeypatch.setenv("GOOGLE_CSE_API_KEY", WRONG)
    with _google(google) as p, pytest.raises(SearchAuthError) as ei:
        p.search("q", "x", 1)
    msg = str(ei.value)
    assert ei.value.fatal and "\n" not in msg
    assert "GOOGLE_CSE_API_KEY" in msg and "check the key" in msg and "API key not valid" in msg
    assert WRONG not in msg and WRONG not in repr(p)
    monkeypatch.setenv("GOOGLE_CSE_API_KEY", KEY)

    # wrong engine ID: every query would fail; fatal, names the option
    with GoogleCSEProvider("not-my-engine", base_url=google, sleep=Sleeps()) as p, \
            pytest.raises(SearchError, match="--google-cx") as ei:
        p.search("q", "x", 1)
    assert ei.value.fatal

    # 403 permission denied (API not enabled for the key's project) → check the key
    google.script["denied"] = [(403, _google_error(403, "This project does not have the access to Custom Search "
                                                        "JSON API.", "PERMISSION_DENIED", "forbidden"), None)]
    with _google(google) as p, pytest.raises(SearchAuthError, match="check the key"):
        p.search("denied", "x", 1)

    # old-style daily limit (403, not retried) and the 429 RESOURCE_EXHAUSTED quota (retried, then given up)
    google.script["daily"] = [(403, _google_error(403, "Daily Limit Exceeded", "PERMISSION_DENIED",
                                                  "dailyLimitExceeded"), None)]
    sleeps = Sleeps()
    with _google(google, sleep=sleeps) as p, pytest.raises(SearchQuotaError, match="quota exhausted"):
        p.search("daily", "x", 1)
    assert sleeps == []
    quota = _google_error(429, "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service "
                               "'customsearch.googleapis.com' for consumer 'project_number:123'.",
                          "RESOURCE_EXHAUSTED", "rateLimitExceeded")
    google.script["perday"] = [(429, quota, None)] * 3
    google.requests.clear()
    with _google(google, sleep=sleeps, retries=2) as p, pytest.raises(SearchQuotaError) as ei:
        p.search("perday", "x", 1)
    assert len(google.requests) == 3 and len(sleeps) == 2
    assert "quota exhausted" in str(ei.value) and "Queries per day" in str(ei.value)
    assert "after 3 attempt(s)" in str(ei.value)


def test_google_5xx_is_retried_then_a_plain_failure(google, keys):
    google.script["flaky"] = [(503, _google_error(503, "Backend Error", "UNAVAILABLE", "backendError"),
                               {"Retry-After": "0"})]
    sleeps = Sleeps()
    with _google(google, sleep=sleeps) as p:
        assert [r.rank for r in p.search("flaky", "x", 2)] == [1, 2]
    assert len(google.requests) == 2 and sleeps == [0.0]   # Retry-After honoured
    google.script["down"] = [(500, _google_error(500, "Internal error", "INTERNAL", "backendError"), None)] * 3
    with _google(google, retries=2) as p, pytest.raises(SearchError) as ei:
        p.search("down", "x", 1)
    assert not ei.value.fatal and "HTTP 500" in str(ei.value) and "after 3 attempts" in str(ei.value)


@pytest.mark.parametrize("body, match", [
    (b"<html>oops</html>", "not JSON"),
    (b'{"items": "everything"', "not JSON"),
    (b'["a", "b"]', "not a JSON object"),
    (b'{"items": {"link": "x"}}', "not a list"),
])
def test_google_malformed_answers(google, keys, body, match):
    google.script["bad"] = [(200, body, None)]
    with _google(google) as p, pytest.raises(SearchError, match=match) as ei:
        p.search("bad", "x", 1)
    assert not ei.value.fatal


def test_google_key_never_in_errors_logs_or_tracebacks(google, keys, caplog, tmp_path):
    # a server that echoes the request (URL with key=..., and the bare key) in its error body
    def echo(req):
        return _google_error(500, f"backend failed for {req['raw']} (key {KEY})", "INTERNAL", "backendError")

    google.script["echo"] = [(500, echo, None)] * 3
    caplog.set_level(logging.DEBUG)
    with _google(google, retries=2) as p, pytest.raises(SearchError) as ei:
        p.search("echo", "x", 1)
    assert "backend failed for /customsearch/v1?key=***" in str(ei.value)
    texts = [str(ei.value), repr(ei.value), "".join(traceback.format_exception(ei.value)), caplog.text]
    # a request that cannot connect at all (httpx exceptions carry the URL with the key)
    with GoogleCSEProvider(base_url="http://127.0.0.1:9", retries=1, sleep=Sleeps()) as p, \
            pytest.raises(SearchError, match="unreachable") as ei2:
        p.search("q", "x", 1)
    texts += [str(ei2.value), "".join(traceback.format_exception(ei2.value)), repr(p), caplog.text]
    assert "GET " in caplog.text or "HTTP Request" in caplog.text   # the logs were captured at all
    for t in texts:
        _no_key(t)


# ---------------------------------------------------------------------------------------------- Brave
def test_brave_request_and_answer(brave, keys):
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p:
        res = p.search("Honeywell HC900 user manual", "HC900", top_k=2)
        assert "SECRET" not in repr(p)
    assert [(r.url, r.title, r.snippet, r.rank) for r in res] == [
        ("https://example.org/honeywell-hc900-user-manual/1", "Brave 1", "about 1", 1),
        ("https://example.org/honeywell-hc900-user-manual/2", "Brave 2", "about 2", 2)]
    (req,) = brave.requests
    assert req["path"] == "/res/v1/web/search"
    assert req["params"] == {"q": "Honeywell HC900 user manual", "count": "2"}
    assert req["headers"]["x-subscription-token"] == KEY and req["headers"]["accept"] == "application/json"


def test_brave_pages_with_offset_and_drops_overlap(brave, keys):
    brave.n_results["acme"] = 100
    brave.handler.overlap = 3   # each later page repeats the last 3 results of the one before
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p:
        res = p.search("acme", "x", top_k=45)
    assert [r.url for r in res] == _hits("acme", 45) and [r.rank for r in res] == list(range(1, 46))
    assert [(r["params"]["count"], r["params"].get("offset")) for r in brave.requests] == [
        ("20", None), ("20", "1"), ("20", "2")]
    # more_results_available false ends the paging; no web results → []
    brave.requests.clear()
    brave.handler.overlap = 0
    brave.n_results["few"] = 20
    brave.n_results["none"] = 0
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p:
        assert len(p.search("few", "x", top_k=60)) == 20
        assert p.search("none", "x", top_k=5) == []
        with pytest.raises(ValueError, match="between 1 and 200"):
            p.search("few", "x", top_k=201)
    assert len(brave.requests) == 2


def test_brave_errors(brave, keys, monkeypatch):
    monkeypatch.setenv("MY_BRAVE", WRONG)
    with BraveSearchProvider(key_env="MY_BRAVE", base_url=brave, sleep=Sleeps()) as p, \
            pytest.raises(SearchAuthError) as ei:
        p.search("q", "x", 1)
    assert "MY_BRAVE" in str(ei.value) and "check the key" in str(ei.value)
    assert "SUBSCRIPTION_TOKEN_INVALID" in str(ei.value) and WRONG not in str(ei.value)
    brave.script["u"] = [(401, _brave_error(401, "UNAUTHORIZED", "Unauthorized"), None)]
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p, pytest.raises(SearchAuthError):
        p.search("u", "x", 1)
    # 429 with Retry-After: waited as told, then the answer
    limited = _brave_error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.", plan="Free",
                           rate_limit=1, rate_current=1, quota_limit=2000, quota_current=12)
    brave.script["rl"] = [(429, limited, {"Retry-After": "2"})]
    sleeps = Sleeps()
    with BraveSearchProvider(base_url=brave, sleep=sleeps) as p:
        assert len(p.search("rl", "x", 1)) == 1
    assert sleeps == [2.0]
    brave.script["rl"] = [(429, limited, None)] * 3
    with BraveSearchProvider(base_url=brave, retries=2, sleep=Sleeps()) as p, \
            pytest.raises(SearchQuotaError, match="quota exhausted .*RATE_LIMITED"):
        p.search("rl", "x", 1)
    brave.script["bad"] = [(200, b"not json", None)]
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p, pytest.raises(SearchError, match="not JSON"):
        p.search("bad", "x", 1)
    brave.script["shape"] = [(200, {"web": {"results": {"url": "x"}}}, None)]
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p, pytest.raises(SearchError, match="not a list"):
        p.search("shape", "x", 1)


def test_brave_does_not_follow_redirects_with_its_token(brave, keys):
    brave.script["moved"] = [(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"})]
    with BraveSearchProvider(base_url=brave, sleep=Sleeps()) as p, pytest.raises(SearchError, match="redirect"):
        p.search("moved", "x", 1)
    assert len(brave.requests) == 1


# ---------------------------------------------------------------------------------------------- SerpAPI
def test_serpapi_request_answer_and_paging(serpapi, keys):
    serpapi.n_results["Honeywell HC900"] = 25
    with SerpAPIProvider(base_url=serpapi, sleep=Sleeps()) as p:
        one = p.search("Honeywell HC900", "HC900", top_k=1)
        assert [(r.url, r.title, r.snippet, r.rank) for r in one] == [
            ("https://example.org/honeywell-hc900/1", "Serp 1", "google says 0", 1)]
        res = p.search("Honeywell HC900", "HC900", top_k=15)
    assert [r.url for r in res] == _hits("Honeywell HC900", 15)
    first = serpapi.requests[0]
    assert first["path"] == "/search.json"
    assert first["params"] == {"engine": "google", "q": "Honeywell HC900", "api_key": KEY}
    assert [r["params"].get("start") for r in serpapi.requests] == [None, None, "10"]


def test_serpapi_empty_and_failed_searches(serpapi, keys):
    serpapi.n_results["zzz"] = 0
    with SerpAPIProvider(base_url=serpapi, sleep=Sleeps()) as p:
        assert p.search("zzz", "x", 3) == []   # status Success with "Google hasn't returned any results"
    serpapi.script["err"] = [(200, {"search_metadata": {"id": "x", "status": "Error"},
                                    "error": "We couldn't get valid results for this search. Please try again later."},
                              None)]
    with SerpAPIProvider(base_url=serpapi, sleep=Sleeps()) as p, pytest.raises(SearchError) as ei:
        p.search("err", "x", 1)
    assert not ei.value.fatal and "couldn't get valid results" in str(ei.value)


def test_serpapi_key_and_quota(serpapi, keys, monkeypatch):
    monkeypatch.setenv("SERPAPI_API_KEY", WRONG)
    with SerpAPIProvider(base_url=serpapi, sleep=Sleeps()) as p, pytest.raises(SearchAuthError) as ei:
        p.search("q", "x", 1)
    assert "SERPAPI_API_KEY" in str(ei.value) and "Invalid API key" in str(ei.value) and WRONG not in str(ei.value)
    monkeypatch.setenv("SERPAPI_API_KEY", KEY)
    serpapi.script["q"] = [(429, {"error": "Your account has run out of searches."}, None)] * 2
    with SerpAPIProvider(base_url=serpapi, retries=1, sleep=Sleeps()) as p, pytest.raises(SearchQuotaError) as ei:
        p.search("q", "x", 1)
    assert "quota exhausted" in str(ei.value) and "run out of searches" in str(ei.value)
    # an error body echoing the api_key parameter
    serpapi.script["echo"] = [(500, lambda req: {"error": f"failed {req['raw']}"}, None)]
    with SerpAPIProvider(base_url=serpapi, retries=0, sleep=Sleeps()) as p, pytest.raises(SearchError) as ei:
        p.search("echo", "x", 1)
    assert "api_key=***" in str(ei.value)
    _no_key(str(ei.value))


# ---------------------------------------------------------------------------------------------- make_provider
def test_make_provider_settings_and_clear_errors(google, brave, keys, monkeypatch):
    monkeypatch.delenv("BRAVE_SEARCH_API_KEY")
    with pytest.raises(ValueError, match="environment variable BRAVE_SEARCH_API_KEY"):
        make_provider(SearchConfig(provider="brave"))
    with pytest.raises(ValueError, match="environment variable OTHER_VAR"):
        make_provider(SearchConfig(provider="serpapi", api_key_env="OTHER_VAR"))
    monkeypatch.delenv("GOOGLE_CSE_ID")
    with pytest.raises(ValueError, match="--google-cx ID or the environment variable GOOGLE_CSE_ID"):
        make_provider(SearchConfig(provider="google"))
    with pytest.raises(ValueError, match="use google, brave, serpapi, searxng, urls, none"):
        make_provider(SearchConfig(provider="bing"))
    with pytest.raises(ValueError, match="between 1 and 100 for google"):
        make_provider(SearchConfig(provider="google", google_cx=CX, top_k=150))
    with pytest.raises(ValueError, match="unknown placeholder {name}"):
        make_provider(SearchConfig(provider="google", google_cx=CX, templates=("{name} datasheet",)))
    with pytest.raises(ValueError, match="http"):
        make_provider(SearchConfig(provider="google", google_cx=CX, api_base_url="ftp://x"))
    p = make_provider(SearchConfig(provider="google", google_cx=CX, api_base_url=google + "/"))
    assert isinstance(p, GoogleCSEProvider) and p.base_url == google and p.cx == CX
    assert CX in p.cache_id and KEY not in p.cache_id and KEY not in repr(p)
    p.close()
    assert check_templates(DEFAULT_QUERY_TEMPLATES) == DEFAULT_QUERY_TEMPLATES
    assert make_provider(SearchConfig(provider="none")) is None


# ---------------------------------------------------------------------------------------------- SearXNG
class _SlowSearx(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: Counter = Counter()

    def log_message(self, *a):
        pass

    def do_GET(self):  # noqa: N802
        q = parse_qs(urlsplit(self.path).query).get("q", [""])[0]
        type(self).hits[q] += 1
        if q == "drip":   # headers at once, then one byte a while: a read timeout alone never fires
            body = json.dumps({"results": [{"url": "http://a/1"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for b in body:
                try:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)
            return
        if q == "busy" and type(self).hits[q] == 1:
            body = b"busy"
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = json.dumps({"query": q, "results": [{"url": "http://a/1", "title": "t", "content": "c"}]}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_searxng_has_a_deadline_and_retries():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), type("S", (_SlowSearx,), {"hits": Counter()}))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        sleeps = Sleeps()
        p = SearXNGProvider(base, timeout_s=0.6, retries=0, sleep=sleeps)
        t0 = time.monotonic()
        with pytest.raises(SearchError, match="did not answer in time"):
            p.search("drip", "x", 1)
        assert time.monotonic() - t0 < 2.0   # the whole answer would take ~10 s
        p2 = SearXNGProvider(base, retries=1, sleep=sleeps)
        assert [r.url for r in p2.search("busy", "x", 1)] == ["http://a/1"] and sleeps == [0.0]
        p.close()
        p2.close()
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------------------------------------- the pipeline
def _cfg(db, provider, base, **search):
    return PipelineConfig(company="Honeywell", db_path=db, show_progress=False,
                          search=SearchConfig(provider=provider, api_base_url=base, top_k=1, retries=0, **search))


def test_run_caches_per_provider_and_query_and_stops_on_a_rejected_key(brave, keys, tmp_path, monkeypatch):
    prods = tmp_path / "p.txt"
    prods.write_text("Acme FS-100\nAcme V2\n")
    db = tmp_path / "p.duckdb"
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", WRONG)
    with PipelineStore(db) as st:
        with pytest.raises(SearchAuthError, match="check the key"):
            run_pipeline(_cfg(db, "brave", brave), st, products_file=prods, until="search", sleep=Sleeps())
        assert len(brave.requests) == 1                          # stopped at the first answer
        assert st.counts()["search"] == {"done": 0, "failed": 0}  # nothing recorded: a re-run starts there
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", KEY)
    brave.requests.clear()
    brave.script["Honeywell Acme V2 datasheet"] = [(500, lambda req: _brave_error(500, "ERR", f"bad {KEY}"), None)]
    with PipelineStore(db) as st:
        rep = run_pipeline(_cfg(db, "brave", brave), st, until="search", sleep=Sleeps())
        assert rep["search"] == {"done": 7, "cached": 0, "failed": 1, "gave_up": 0}
        assert len(brave.requests) == 8
        (fail,) = st.failures("search")
        assert fail["key"] == "brave|Honeywell Acme V2 datasheet|top1" and "HTTP 500" in fail["error"]
        rows = st.con.execute("SELECT key, input_hash, coalesce(output, ''), coalesce(error, '') "
                              "FROM stage_cache").fetchall()
        for row in rows:
            _no_key(" ".join(map(str, row)))
        # re-run: finished queries come from the cache; the failed one is retried
        brave.requests.clear()
        rep = run_pipeline(_cfg(db, "brave", brave), st, until="search", sleep=Sleeps())
        assert rep["search"] == {"done": 1, "cached": 7, "failed": 0, "gave_up": 0} and len(brave.requests) == 1
        outs = st.stage_outputs("search")
        assert outs["brave|Honeywell Acme FS-100|top1"][0]["url"] == "https://example.org/honeywell-acme-fs-100/1"


def test_run_cache_tells_providers_and_engines_apart(google, serpapi, keys, tmp_path):
    prods = tmp_path / "p.txt"
    prods.write_text("Acme FS-100\n")
    db = tmp_path / "p.duckdb"
    one = dict(templates=("{company} {product}",))
    with PipelineStore(db) as st:
        run_pipeline(_cfg(db, "google", google, google_cx=CX, **one), st, products_file=prods, until="search")
        run_pipeline(_cfg(db, "serpapi", serpapi, **one), st, until="search")
        assert set(st.stage_outputs("search")) == {"google|Honeywell Acme FS-100|top1",
                                                   "serpapi|Honeywell Acme FS-100|top1"}
        rep = run_pipeline(_cfg(db, "google", google, google_cx=CX, **one), st, until="search")
        assert rep["search"]["cached"] == 1 and len(google.requests) == 1
        # another engine ID is another input: recomputed (here refused by the fake: wrong cx → fatal)
        with pytest.raises(SearchError, match="--google-cx"):
            run_pipeline(_cfg(db, "google", google, google_cx="other-engine", **one), st, until="search")
        assert len(google.requests) == 2


def test_cli_pipeline_run_with_brave_sends_the_four_queries(brave, keys, tmp_path, capsys):
    prods = tmp_path / "products.txt"
    prods.write_text("# FIXTURE\nHC900\n")
    db = tmp_path / "p.duckdb"
    args = ["pipeline", "run", "--company", "Honeywell", "--products", str(prods), "--db", str(db),
            "--search", "brave", "--search-base-url", brave, "--search-top-k", "2", "--until", "search",
            "--no-progress", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"]["search"]["done"] == 4
    assert [r["params"]["q"] for r in brave.requests] == [
        "Honeywell HC900", "Honeywell HC900 datasheet", "Honeywell HC900 technical specifications",
        "Honeywell HC900 user manual"]
    assert {r["params"]["count"] for r in brave.requests} == {"2"}
    with PipelineStore(db) as st:
        outs = st.stage_outputs("search")
    assert [h["url"] for h in outs["brave|Honeywell HC900 datasheet|top2"]] == _hits("Honeywell HC900 datasheet", 2)

    # --query-template replaces the four
    brave.requests.clear()
    assert main(args[:-2] + ["--query-template", "{product} pdf", "--query-template", "{company} {product} spec",
                             "--json"]) == 0
    capsys.readouterr()
    assert [r["params"]["q"] for r in brave.requests] == ["HC900 pdf", "Honeywell HC900 spec"]


def test_cli_search_errors_are_one_line(brave, keys, tmp_path, capsys, monkeypatch):
    prods = tmp_path / "products.txt"
    prods.write_text("HC900\n")
    base = ["pipeline", "run", "--company", "Honeywell", "--products", str(prods), "--db", str(tmp_path / "p.db"),
            "--search", "brave", "--search-base-url", brave, "--no-progress"]
    monkeypatch.delenv("BRAVE_SEARCH_API_KEY")
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "BRAVE_SEARCH_API_KEY" in err and len(err.strip().splitlines()) == 1
    assert brave.requests == []
    monkeypatch.setenv("MY_TOKEN", WRONG)
    assert main(base + ["--search-key-env", "MY_TOKEN"]) == 2
    cap = capsys.readouterr()
    assert "rejected the API key in MY_TOKEN" in cap.err and "check the key" in cap.err
    assert WRONG not in cap.err + cap.out and len(cap.err.strip().splitlines()) == 1
    assert main(base + ["--query-template", "{company} only"]) == 2
    assert "no {product} placeholder" in capsys.readouterr().err
