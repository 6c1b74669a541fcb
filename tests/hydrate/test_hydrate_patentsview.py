"""PatentsView PatentSearch source against a fake API on 127.0.0.1 (paging, batching, key header, 429)."""

from __future__ import annotations

import json

import pytest

from patlink.hydrate.config import HttpConfig, PatentsViewConfig
from patlink.hydrate.patentsview_api import PatentsViewSource

KEY = "fixture-key-0123456789"


def json_response(obj, status: int = 200, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()

TABLES = {
    "patent": ("patents", [
        {"patent_id": "10001292", "patent_title": "Fixture wall module", "patent_abstract": "Fixture abstract.",
         "patent_date": "2018-06-19", "patent_type": "utility", "wipo_kind": "B2",
         "application": [{"filing_date": "2016-03-01"}],
         "cpc_current": [{"cpc_sequence": 1, "cpc_group_id": "F24F11/30"},
                         {"cpc_sequence": 0, "cpc_group_id": "G05D23/1917"}]},
        {"patent_id": "7000308", "patent_title": "Fixture reader", "patent_abstract": "Fixture reader abstract.",
         "patent_date": "2006-02-14", "patent_type": "utility", "wipo_kind": "B2"},
        {"patent_id": "9999999", "patent_title": "Fixture unrelated"},
    ]),
    "g_claim": ("g_claims", [
        {"patent_id": "10001292", "claim_sequence": 2, "claim_text": "3. Fixture claim three."},
        {"patent_id": "10001292", "claim_sequence": 0, "claim_text": "1. Fixture claim one."},
        {"patent_id": "10001292", "claim_sequence": 1, "claim_text": "2. Fixture claim two."},
        {"patent_id": "7000308", "claim_sequence": 0, "claim_text": "1. Fixture reader claim."},
    ]),
    "g_detail_desc_text": ("g_detail_desc_texts", [
        {"patent_id": "10001292", "description_text": "Fixture description."},
    ]),
}


def fake_api(throttle_first: bool = True):
    state = {"n": 0}

    def route(method, path, headers, body):
        state["n"] += 1
        if headers.get("x-api-key") != KEY:
            return json_response({"detail": "missing key"}, status=403)
        if throttle_first and state["n"] == 1:
            return json_response({"detail": "throttled"}, status=429, headers={"Retry-After": "0"})
        endpoint = path.strip("/").split("/")[-1]
        key, rows = TABLES[endpoint]
        req = json.loads(body)
        ids = set(req["q"]["patent_id"])
        sort = [next(iter(s)) for s in req["s"]]
        hits = sorted((r for r in rows if r["patent_id"] in ids), key=lambda r: [r.get(k) for k in sort])
        after = req["o"].get("after")
        if after is not None:
            after = after if isinstance(after, list) else [after]
            hits = [r for r in hits if [r.get(k) for k in sort] > after]
        page = hits[: req["o"]["size"]]
        return json_response({"error": False, "count": len(page), "total_hits": len(hits), key: page})

    return route


def _source(url, page_size=2, **kw):
    cfg = PatentsViewConfig(base_url=url, page_size=page_size, min_interval_s=0.0, **kw)
    return PatentsViewSource(cfg, HttpConfig(timeout_s=5, max_retries=2, backoff_base_s=0.0))


def test_fetch_batches_pages_and_parses(local_server, monkeypatch):
    monkeypatch.setenv("PATENTSVIEW_API_KEY", KEY)
    srv = local_server(fake_api())
    src = _source(srv.url)
    try:
        records, errors = src.fetch(["US10001292", "US7000308", "US6201715"])
    finally:
        src.close()
    assert errors == {"US6201715": "not found in source"}
    r = records["US10001292"]
    assert (r.title, r.abstract, r.kind, r.source) == ("Fixture wall module", "Fixture abstract.", "B2", "patentsview")
    assert r.cpc == ["G05D23/1917", "F24F11/30"]
    assert (r.grant_date, r.filing_date) == ("2018-06-19", "2016-03-01")
    assert r.claims.splitlines() == ["1. Fixture claim one.", "2. Fixture claim two.", "3. Fixture claim three."]
    assert r.description == "Fixture description."
    assert records["US7000308"].claims == "1. Fixture reader claim." and records["US7000308"].description == ""
    # one throttled + patent page 1, 2 (size 2, 2 hits -> full page -> next) + claims pages + description page
    paths = [q["path"] for q in srv.requests]
    assert paths.count("/api/v1/g_claim/") == 3  # 4 claims, size 2: pages of 2, 2, 0
    first = json.loads(srv.requests[1]["body"])
    assert first["q"] == {"patent_id": ["10001292", "7000308", "6201715"]}  # one batched query, office ids
    assert srv.requests[0]["headers"]["x-api-key"] == KEY


def test_optional_texts_can_be_skipped(local_server, monkeypatch):
    monkeypatch.setenv("PATENTSVIEW_API_KEY", KEY)
    srv = local_server(fake_api(throttle_first=False))
    src = _source(srv.url, page_size=1000, claims=False, description=False)
    records, _ = src.fetch(["US10001292"])
    src.close()
    assert records["US10001292"].claims == "" and [q["path"] for q in srv.requests] == ["/api/v1/patent/"]


def test_missing_key_is_a_clear_error():
    with pytest.raises(ValueError, match="PATENTSVIEW_API_KEY"):
        PatentsViewSource(PatentsViewConfig())


def test_bad_key_error_does_not_leak_the_key(local_server, monkeypatch):
    monkeypatch.setenv("PATENTSVIEW_API_KEY", "wrong-secret-key")
    srv = local_server(fake_api())
    src = _source(srv.url)
    with pytest.raises(Exception) as e:
        src.fetch(["US10001292"])
    src.close()
    assert "403" in str(e.value) and "wrong-secret-key" not in str(e.value)
