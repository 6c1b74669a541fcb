"""HttpClient: retries with exponential back-off on 429/5xx, no retry on other 4xx, rate limit, redaction."""

from __future__ import annotations

import pytest

from patlink.http import HttpClient, HttpConfig, HttpError, redact


def _client(**kw):
    sleeps: list[float] = []
    cfg = HttpConfig(timeout_s=5, max_retries=kw.pop("max_retries", 3), backoff_base_s=0.5, backoff_max_s=4.0,
                     min_interval_s=kw.pop("min_interval_s", 0.0))
    return HttpClient(cfg, sleep=sleeps.append, **kw), sleeps


def test_retries_then_succeeds_with_exponential_backoff(local_server):
    calls = {"n": 0}

    def route(method, path, headers, body):
        calls["n"] += 1
        return (503, {}, b"busy") if calls["n"] <= 2 else (200, {}, b"ok")

    srv = local_server(route)
    client, sleeps = _client()
    with client:
        r = client.get(srv.url + "/x")
    assert r.text == "ok" and calls["n"] == 3 and client.n_requests == 3
    # waits 0.5*2^0 and 0.5*2^1, each with at most 10 % jitter
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.55 and 1.0 <= sleeps[1] <= 1.1


def test_retry_after_header_is_honoured(local_server):
    calls = {"n": 0}

    def route(method, path, headers, body):
        calls["n"] += 1
        return (429, {"Retry-After": "3"}, b"slow down") if calls["n"] == 1 else (200, {}, b"ok")

    srv = local_server(route)
    client, sleeps = _client()
    with client:
        assert client.get(srv.url).text == "ok"
    assert sleeps == [3.0]


def test_404_is_not_retried_and_gives_status(local_server):
    srv = local_server(lambda *a: (404, {}, b"nope"))
    client, sleeps = _client()
    with client, pytest.raises(HttpError) as e:
        client.get(srv.url + "/missing")
    assert e.value.status == 404 and len(srv.requests) == 1 and sleeps == []


def test_retries_exhausted_raises(local_server):
    srv = local_server(lambda *a: (500, {}, b"boom"))
    client, sleeps = _client(max_retries=2)
    with client, pytest.raises(HttpError, match="HTTP 500"):
        client.get(srv.url)
    assert len(srv.requests) == 3 and len(sleeps) == 2


def test_transport_error_is_retried_and_reported():
    client, sleeps = _client(max_retries=1)
    with client, pytest.raises(HttpError) as e:
        client.get("http://127.0.0.1:9/unreachable")  # discard port: connection refused
    assert e.value.status is None and len(sleeps) == 1


def test_secrets_never_in_errors(local_server):
    srv = local_server(lambda *a: (403, {}, b"forbidden"))
    client, _ = _client(headers={"X-Api-Key": "SECRET-KEY-123"}, secret_headers=("X-Api-Key",))
    with client, pytest.raises(HttpError) as e:
        client.get(srv.url + "/q?api_key=SECRET-KEY-123&x=1")
    assert "SECRET-KEY-123" not in str(e.value)
    assert "api_key=***" in str(e.value)
    assert srv.requests[0]["headers"]["x-api-key"] == "SECRET-KEY-123"  # but it was sent


def test_redact():
    assert redact("GET http://h/p?token=abc&key=def&q=1") == "GET http://h/p?token=***&key=***&q=1"
    assert redact("header value s3cr3t seen", ("s3cr3t",)) == "header value *** seen"


def test_rate_limit_sleeps_between_requests(local_server):
    srv = local_server(lambda *a: (200, {}, b"ok"))
    client, sleeps = _client(min_interval_s=10.0)
    with client:
        client.get(srv.url)
        client.get(srv.url)
    assert len(sleeps) == 1 and 9.0 < sleeps[0] <= 10.0


def test_get_limited_streams_under_a_size_limit_and_retries_like_request(local_server):
    """The pipeline's page fetcher uses this: a body over the limit fails at once (kind too_large, not retried);
    a 503 is retried with deterministic waits when jitter is 0."""
    calls = {"n": 0}

    def route(method, path, headers, body):
        calls["n"] += 1
        if path.startswith("/big"):
            return 200, {"Content-Type": "text/html"}, b"x" * 5000
        return (503, {}, b"busy") if calls["n"] == 1 else (200, {"Content-Type": "text/html; charset=utf-8"}, b"ok")

    srv = local_server(route)
    sleeps: list[float] = []
    cfg = HttpConfig(timeout_s=5, max_retries=2, backoff_base_s=0.25, jitter=0.0)
    with HttpClient(cfg, sleep=sleeps.append) as client:
        r = client.get_limited(srv.url + "/page", max_bytes=100)
        assert (r.body, r.status_code, r.content_type) == (b"ok", 200, "text/html") and sleeps == [0.25]
        with pytest.raises(HttpError) as e:
            client.get_limited(srv.url + "/big", max_bytes=100)
    assert e.value.kind == "too_large" and e.value.attempts == 1 and calls["n"] == 3
