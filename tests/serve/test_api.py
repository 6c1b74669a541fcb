"""The ``patlink serve`` JSON API in-process (FastAPI's TestClient) on real pap2pat ranked by BM25: every endpoint,
every error status with its one-line ``{"detail": ...}`` body, the page's security headers, /api/link equal to
:func:`patlink.linking.link`, decisions showing up on the next ranking, and concurrent writers.

The dataset is pap2pat with two additions the bundled data lacks: an ``assignee`` on every patent (to filter on)
and a ``<script>`` in one paper's title (names with markup must come back as plain JSON text; the page's escaping
is the browser test's).
"""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import patlink as pl
from patlink.linking import link
from patlink.review import DecisionStore, ReviewService
from patlink.serve import ServeLimits, create_app

ASSIGNEES = ("Acme Medical Corp", "Beta Labs Inc")
SCRIPT = '<script>alert("x")</script> '
TOKEN = "s3cret-token-123"
API_PATHS = ("/api/health", "/api/info", "/api/link", "/api/candidates", "/api/items", "/api/item", "/api/patent",
             "/api/patent/items", "/api/decisions", "/api/decisions/export")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """pap2pat (+ assignees, + one ``<script>`` title) served by BM25, built once for the module."""
    ds = pl.load_dataset("pap2pat").copy()
    for k, pid in enumerate(sorted(ds.patents)):
        ds.patents[pid]["assignee"] = ASSIGNEES[k % 2]
    script_item = min(ds.items)
    ds.items[script_item]["title"] = SCRIPT + ds.items[script_item]["title"]
    service = ReviewService.for_dataset(ds, pl.BM25(), DecisionStore(tmp_path_factory.mktemp("serve") / "d.sqlite"))
    patents_of: dict[str, list[str]] = {}
    for i, p in ds.links:
        patents_of.setdefault(i, []).append(p)
    # a paper whose known patent BM25 ranks second: candidates above and below it
    item = next(i for i in sorted(ds.items)
                if [c["known"] for c in service.link(item_id=i, top_k=3)["candidates"]] == [False, True, False])
    return SimpleNamespace(ds=ds, service=service, patents_of=patents_of, item=item, script_item=script_item,
                           texts=ds.item_texts())


@pytest.fixture(scope="module")
def client(served):
    """A client of the module's app (its store is shared: tests using it only read)."""
    with TestClient(create_app(served.service)) as c:
        yield c


def fresh(served, tmp_path, **app_kw) -> TestClient:
    """A client of an app over the module's index with a new, empty decisions store."""
    s = served.service
    service = ReviewService(s.index, DecisionStore(tmp_path / "fresh.sqlite"), items=s.items, links=s.links,
                            patent_metadata=s.patent_metadata)
    return TestClient(create_app(service, **app_kw))


def error(r, status: int) -> str:
    """The response is ``status`` with a ``{"detail": "one line"}`` JSON body; returns the detail."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    assert body["detail"].strip() and "\n" not in body["detail"], body
    return body["detail"]


# ---------------------------------------------------------------------------------------------- service endpoints
def test_health(client, served):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "documents": len(served.ds.patents)}


def test_info(served, tmp_path):
    info = fresh(served, tmp_path).get("/api/info").json()
    expected = {"method": served.service.method, "documents": 1513, "document_side": "patent",
                "known_items": 1513, "known_links": 1513,
                "decisions": {"accept": 0, "reject": 0, "unsure": 0}, "reverse_ranking": True,
                "limits": ServeLimits().__dict__, "decisions_kinds": ["accept", "reject", "unsure"]}
    assert {k: info.get(k) for k in expected} == expected
    assert info["method"].startswith("bm25")


def test_link_batch_equals_library_link(client, served):
    ids = sorted(served.ds.items)[10:14]
    queries = {f"q-{i}": served.texts[i] for i in ids}
    r = client.post("/api/link", json={"queries": queries, "top_k": 7})
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == served.service.method and list(body["results"]) == list(queries)
    expected = link(served.ds, pl.BM25(), queries, top_k=7)
    for q, cands in body["results"].items():
        assert [(c["id"], c["score"]) for c in cands] == [(c.id, c.score) for c in expected[q]]
        assert [c["rank"] for c in cands] == list(range(1, 8))
        assert [c["title"] for c in cands] == [c.title for c in expected[q]]
        assert all(c["decision"] is None and c["known"] is False for c in cands)   # query ids are not item ids


def test_link_with_item_ids_marks_known_patents(client, served):
    r = client.post("/api/link", json={"queries": {served.item: served.texts[served.item]}, "top_k": 3})
    assert [c["known"] for c in r.json()["results"][served.item]] == [False, True, False]


def test_candidates_for_a_known_item(client, served):
    r = client.post("/api/candidates", json={"item_id": served.item, "top_k": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["item_id"] == served.item and body["text"] == served.texts[served.item]
    assert body["method"] == served.service.method
    cands = body["candidates"]
    assert [c["rank"] for c in cands] == list(range(1, 11))
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    known = set(served.patents_of[served.item])
    assert [c["known"] for c in cands] == [c["id"] in known for c in cands] and cands[1]["known"]
    name = served.ds.items[served.item]["title"]
    assert name in cands[1]["supporting_items"] and cands[1]["n_supporting"] == 1
    for c in cands:
        assert set(c) >= {"id", "rank", "score", "title", "matched_terms", "evidence", "part_scores", "known",
                          "supporting_items", "n_supporting", "decision", "assignee", "date"}
        assert c["assignee"] == served.ds.patents[c["id"]]["assignee"] and c["decision"] is None
    assert cands[0]["matched_terms"]                                           # BM25 says which terms matched


def test_candidates_for_a_new_text(client, served):
    text = served.texts[served.item]
    r = client.post("/api/candidates", json={"text": text, "top_k": 5})
    body = r.json()
    assert r.status_code == 200 and body["item_id"] is None and body["text"] == text
    by_id = client.post("/api/candidates", json={"item_id": served.item, "top_k": 5}).json()["candidates"]
    assert [(c["id"], c["score"]) for c in body["candidates"]] == [(c["id"], c["score"]) for c in by_id]
    assert all(c["known"] is False and c["decision"] is None for c in body["candidates"])


def test_candidates_min_score_and_assignee_filters(client, served):
    def ranked(**kw):
        r = client.post("/api/candidates", json={"item_id": served.item, "top_k": 20, **kw})
        assert r.status_code == 200
        return r.json()["candidates"]

    full = ranked()
    threshold = full[5]["score"]
    assert ranked(min_score=threshold) == [c for c in full if c["score"] >= threshold]
    assert len(ranked(min_score=threshold)) >= 6 and ranked(min_score=full[0]["score"] + 1) == []
    acme = [c for c in full if c["assignee"] == ASSIGNEES[0]]
    assert 0 < len(acme) < len(full)
    assert ranked(assignee="acme") == acme
    assert ranked(assignee="ACME MEDICAL") == acme                                # case-insensitive, substring
    assert ranked(assignee="beta", min_score=threshold) == [c for c in full if c["score"] >= threshold
                                                            and c["assignee"] == ASSIGNEES[1]]
    assert ranked(assignee="Nobody Corp") == []


def test_items_search_and_paging(client, served):
    r = client.get("/api/items", params={"q": "CANCER", "limit": 1000})
    body = r.json()
    names = {i: f.get("title") for i, f in served.ds.items.items()}
    by_name = sorted((n, i) for i, n in names.items() if "cancer" in n.lower() or "cancer" in i.lower())
    by_text = sorted((names[i], i) for i, t in served.texts.items()
                     if "cancer" in t.lower() and (names[i], i) not in set(by_name))
    expected = by_name + by_text                     # name matches first (by name), then description matches
    assert body["total"] == len(expected) and len(by_name) > 20 and by_text
    assert [(x["name"], x["id"]) for x in body["items"]] == expected
    assert all(x["known_links"] == 1 and x["decided"] == 0 for x in body["items"])
    pages = [client.get("/api/items", params={"q": "cancer", "limit": 7, "offset": o}).json() for o in (0, 7, 14)]
    assert all(p["total"] == len(expected) for p in pages)
    assert [x for p in pages for x in p["items"]] == body["items"][:21]
    everything = client.get("/api/items", params={"limit": 1000}).json()
    assert everything["total"] == 1513 and len(everything["items"]) == 1000
    assert client.get("/api/items", params={"q": served.item}).json()["items"][0]["id"] == served.item
    assert client.get("/api/items", params={"q": "no such paper anywhere"}).json() == {"total": 0, "items": []}


def test_item(client, served):
    body = client.get("/api/item", params={"id": served.item}).json()
    (pid,) = served.patents_of[served.item]
    patent = served.ds.patents[pid]
    assert body == {"id": served.item, "name": served.ds.items[served.item]["title"],
                    "text": served.texts[served.item], "known": True,
                    "known_patents": [{"id": pid, "title": patent["title"], "assignee": patent["assignee"],
                                       "date": patent["date"]}],
                    "decisions": []}


def test_patent(client, served):
    (pid,) = served.patents_of[served.item]
    body = client.get("/api/patent", params={"id": pid}).json()
    patent = served.ds.patents[pid]
    assert body["id"] == pid and body["title"] == patent["title"] and body["in_index"] is True
    assert body["assignee"] == patent["assignee"] and body["date"] == patent["date"]
    assert body["text"] == served.ds.patent_texts()[pid]
    assert body["known_items"] == [{"id": served.item, "name": served.ds.items[served.item]["title"]}]
    assert body["decisions"] == []


def test_patent_items_ranks_the_known_items(client, served):
    (pid,) = served.patents_of[served.item]
    body = client.get("/api/patent/items", params={"id": pid, "top_k": 5}).json()
    assert body["patent"]["id"] == pid
    cands = body["candidates"]
    assert [c["rank"] for c in cands] == [1, 2, 3, 4, 5]
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    assert [c["known"] for c in cands] == [c["id"] == served.item for c in cands]
    assert served.item in [c["id"] for c in cands]
    assert all(c["name"] == served.ds.items[c["id"]]["title"] and c["decision"] is None for c in cands)


# ---------------------------------------------------------------------------------------------- decisions
def test_decisions_post_and_get_with_filters_history_and_paging(served, tmp_path):
    c = fresh(served, tmp_path)
    (known,) = served.patents_of[served.item]
    other = c.post("/api/candidates", json={"item_id": served.item, "top_k": 3}).json()["candidates"][0]
    r = c.post("/api/decisions", json={"item_id": served.item, "patent_id": other["id"], "decision": "reject",
                                       "score": other["score"], "rank": 1, "note": "wrong assay"},
               headers={"X-Patlink-Reviewer": "ana"})
    assert r.status_code == 201
    first = r.json()
    assert {k: first[k] for k in ("id", "item_id", "patent_id", "decision", "note", "reviewer", "method", "score",
                                  "rank", "item_text")} == {
        "id": 1, "item_id": served.item, "patent_id": other["id"], "decision": "reject", "note": "wrong assay",
        "reviewer": "ana", "method": served.service.method, "score": other["score"], "rank": 1, "item_text": ""}
    # the body's reviewer wins over the header; a changed mind is a new row
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": other["id"], "decision": "accept",
                                   "reviewer": "bo"}, headers={"X-Patlink-Reviewer": "ana"})
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": known, "decision": "accept",
                                   "item_text": served.texts[served.item]})          # a known item's own text
    c.post("/api/decisions", json={"item_id": served.script_item, "patent_id": known, "decision": "unsure"})

    def listed(**params):
        r = c.get("/api/decisions", params=params)
        assert r.status_code == 200
        return r.json()

    now = listed()
    assert now["total"] == 3 and [(d["patent_id"], d["decision"]) for d in now["decisions"]] == [
        (other["id"], "accept"), (known, "accept"), (known, "unsure")]
    assert now["decisions"][1]["item_text"] == ""                        # not stored again
    assert listed(history="true")["total"] == 4
    assert listed(decision="reject") == {"total": 0, "decisions": []}
    assert [d["id"] for d in listed(decision="reject", history="true")["decisions"]] == [1]
    assert [d["decision"] for d in listed(item_id=served.item)["decisions"]] == ["accept", "accept"]
    assert listed(patent_id=known)["total"] == 2
    assert [d["reviewer"] for d in listed(reviewer="bo")["decisions"]] == ["bo"]
    assert listed(reviewer="ana")["total"] == 0 and listed(reviewer="ana", history="true")["total"] == 1
    page = listed(history="true", limit=2, offset=1)
    assert page["total"] == 4 and [d["id"] for d in page["decisions"]] == [2, 3]
    assert listed(history="true", limit=2, offset=4) == {"total": 4, "decisions": []}
    assert c.get("/api/info").json()["decisions"] == {"accept": 2, "reject": 0, "unsure": 1}


def test_decisions_show_up_on_the_next_ranking(served, tmp_path):
    c = fresh(served, tmp_path)
    (known,) = served.patents_of[served.item]
    before = c.post("/api/candidates", json={"item_id": served.item, "top_k": 3}).json()["candidates"]
    top = before[0]
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": top["id"], "decision": "reject",
                                   "score": top["score"], "rank": top["rank"], "reviewer": "ana"})
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": known, "decision": "accept"})
    after = c.post("/api/candidates", json={"item_id": served.item, "top_k": 3}).json()["candidates"]
    assert [x["id"] for x in after] == [x["id"] for x in before]                       # the ranking is unchanged
    assert after[0]["decision"]["decision"] == "reject" and after[0]["decision"]["reviewer"] == "ana"
    assert after[0]["decision"]["score"] == top["score"] and after[0]["known"] is False
    assert after[1]["id"] == known and after[1]["known"] is True and after[1]["decision"]["decision"] == "accept"
    assert after[2]["decision"] is None
    # the same text without the item id is a new item: no decisions, nothing known
    anon = c.post("/api/candidates", json={"text": served.texts[served.item], "top_k": 3}).json()["candidates"]
    assert all(x["decision"] is None and x["known"] is False for x in anon)
    # /api/link with the item id as query id shows them too
    via_link = c.post("/api/link", json={"queries": {served.item: served.texts[served.item]}, "top_k": 3}).json()
    assert [x["decision"] and x["decision"]["decision"] for x in via_link["results"][served.item]] == [
        "reject", "accept", None]
    assert [d["decision"] for d in c.get("/api/item", params={"id": served.item}).json()["decisions"]] == [
        "reject", "accept"]
    assert [d["item_id"] for d in c.get("/api/patent", params={"id": known}).json()["decisions"]] == [served.item]
    assert c.get("/api/items", params={"q": served.item}).json()["items"][0]["decided"] == 2
    # the reverse view shows the decision on the item
    rev = c.get("/api/patent/items", params={"id": known, "top_k": 5}).json()["candidates"]
    assert next(x for x in rev if x["id"] == served.item)["decision"]["decision"] == "accept"


def test_a_new_item_is_decided_with_its_text(served, tmp_path):
    c = fresh(served, tmp_path)
    text = "A handheld gauge measuring blood pressure with an optical sensor."
    ranked = c.post("/api/candidates", json={"text": text, "top_k": 5}).json()["candidates"]
    pid = ranked[0]["id"]
    body = {"item_id": "new gauge 7", "patent_id": pid, "decision": "accept"}
    assert "send its text (item_text)" in error(c.post("/api/decisions", json=body), 400)
    assert c.get("/api/decisions").json()["total"] == 0
    r = c.post("/api/decisions", json={**body, "item_text": text})
    assert r.status_code == 201 and r.json()["item_text"] == text
    item = c.get("/api/item", params={"id": "new gauge 7"}).json()
    assert item["known"] is False and item["text"] == text and item["name"] == "new gauge 7"
    assert [x["decided"] for x in c.get("/api/items", params={"q": "new gauge"}).json()["items"]] == [1]
    # decided before: later decisions and the candidates need no text
    assert c.post("/api/decisions", json={**body, "decision": "unsure"}).status_code == 201
    cands = c.post("/api/candidates", json={"item_id": "new gauge 7", "top_k": 5}).json()
    assert cands["text"] == text                  # the text of the first decision, not lost by the second
    assert [x["id"] for x in cands["candidates"]] == [x["id"] for x in ranked]
    assert cands["candidates"][0]["decision"]["decision"] == "unsure" and cands["candidates"][0]["known"] is False
    assert c.get("/api/item", params={"id": "new gauge 7"}).json()["text"] == text


@pytest.fixture
def decided(served, tmp_path):
    c = fresh(served, tmp_path)
    (pid,) = served.patents_of[served.item]
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": pid, "decision": "reject"})
    c.post("/api/decisions", json={"item_id": served.item, "patent_id": pid, "decision": "accept",
                                   "note": "=HYPERLINK(\"http://evil.example\",\"x\")", "reviewer": "+ana",
                                   "score": 12.5, "rank": 2})
    c.post("/api/decisions", json={"item_id": served.script_item, "patent_id": pid, "decision": "unsure",
                                   "note": "@SUM(A1)", "reviewer": "-2"})
    return c


@pytest.mark.parametrize(("fmt", "media", "delimiter"), [("csv", "text/csv", ","),
                                                        ("tsv", "text/tab-separated-values", "\t")])
def test_export_csv_and_tsv(decided, served, fmt, media, delimiter):
    r = decided.get("/api/decisions/export", params={"format": fmt})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert r.headers["content-disposition"] == f'attachment; filename="decisions.{fmt}"'
    rows = list(csv.DictReader(io.StringIO(r.text), delimiter=delimiter))
    assert [(x["item_id"], x["decision"], x["label"]) for x in rows] == [(served.item, "accept", "1"),
                                                                         (served.script_item, "unsure", "")]
    assert rows[0]["note"] == "'=HYPERLINK(\"http://evil.example\",\"x\")" and rows[0]["reviewer"] == "'+ana"
    assert rows[1]["note"] == "'@SUM(A1)" and rows[1]["reviewer"] == "'-2"
    assert rows[0]["score"] == "12.5" and rows[0]["rank"] == "2"
    history = decided.get("/api/decisions/export", params={"format": fmt, "history": "true"})
    assert [x["decision"] for x in csv.DictReader(io.StringIO(history.text), delimiter=delimiter)] == [
        "reject", "accept", "unsure"]


def test_export_jsonl_and_parquet_keep_values(decided, served):
    r = decided.get("/api/decisions/export", params={"format": "jsonl"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert [x["note"] for x in rows] == ["=HYPERLINK(\"http://evil.example\",\"x\")", "@SUM(A1)"]
    assert rows[0]["score"] == 12.5 and rows[0]["label"] == 1 and rows[1]["label"] is None
    r = decided.get("/api/decisions/export", params={"format": "parquet", "history": "true"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    assert r.headers["content-disposition"] == 'attachment; filename="decisions.parquet"'
    table = pq.read_table(io.BytesIO(r.content)).to_pylist()
    assert [(x["decision"], x["label"], x["reviewer"]) for x in table] == [("reject", 0, ""), ("accept", 1, "+ana"),
                                                                           ("unsure", None, "-2")]
    assert table[1]["score"] == 12.5 and table[1]["rank"] == 2 and table[0]["score"] is None


def test_markup_in_names_and_notes_is_plain_json_text(served, tmp_path):
    c = fresh(served, tmp_path)
    name = served.ds.items[served.script_item]["title"]
    assert name.startswith("<script>")
    r = c.get("/api/items", params={"q": "<script>"})
    assert r.headers["content-type"] == "application/json"
    assert [(x["id"], x["name"]) for x in r.json()["items"]] == [(served.script_item, name)]
    assert '<script>alert(\\"x\\")</script>' in r.text                      # JSON escapes only the quotes
    (pid,) = served.patents_of[served.script_item]
    cands = c.post("/api/candidates", json={"item_id": served.script_item, "top_k": 10}).json()["candidates"]
    assert name in next(x for x in cands if x["id"] == pid)["supporting_items"]
    note = "<img src=x onerror=alert(1)>"
    c.post("/api/decisions", json={"item_id": served.script_item, "patent_id": pid, "decision": "accept",
                                   "note": note})
    assert c.get("/api/item", params={"id": served.script_item}).json()["decisions"][0]["note"] == note
    # real pap2pat titles carry markup too
    assert any("<scp>" in x["name"] for x in c.get("/api/items", params={"q": "<scp>"}).json()["items"])


def test_concurrent_writers_through_the_app(served, tmp_path):
    c = fresh(served, tmp_path)
    (pid,) = served.patents_of[served.item]
    patents = sorted(served.ds.patents)[:50] + [pid]
    items = sorted(served.ds.items)[:40]

    def post(k: int) -> tuple[int, int]:
        r = c.post("/api/decisions", json={"item_id": items[k % 40], "patent_id": patents[k % 51],
                                           "decision": ("accept", "reject", "unsure")[k % 3],
                                           "reviewer": f"r{k % 8}", "score": float(k), "rank": k % 10 + 1})
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(200)))
    assert [s for s, _ in results] == [201] * 200
    assert len({i for _, i in results}) == 200
    history = c.get("/api/decisions", params={"history": "true", "limit": 1000}).json()
    assert history["total"] == 200
    assert sorted(d["id"] for d in history["decisions"]) == sorted(i for _, i in results)
    assert sorted(d["score"] for d in history["decisions"]) == [float(k) for k in range(200)]


def test_concurrent_rankings_equal_rankings_alone(client, served):
    """16 threads asking at once (requests the service ranks in shared batches) get what each gets alone."""
    ids = sorted(served.ds.items)[100:148]
    requests = [({f"q{k}": served.texts[i]}, 5 if k % 3 else 10) for k, i in enumerate(ids)]
    requests.append(({"a": served.texts[ids[0]], "b": served.texts[ids[1]]}, 5))            # two texts in one call

    def ask(req):
        queries, top_k = req
        r = client.post("/api/link", json={"queries": queries, "top_k": top_k})
        assert r.status_code == 200
        return {q: [(c["id"], c["score"]) for c in cands] for q, cands in r.json()["results"].items()}

    alone = [ask(req) for req in requests]
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(ask, requests))
    assert together == alone
    assert [len(next(iter(a.values()))) for a in alone[:3]] == [10, 5, 5]


# ---------------------------------------------------------------------------------------------- page, schema, docs
@pytest.mark.parametrize(("path", "media"), [("/", "text/html"), ("/static/app.js", "text/javascript"),
                                             ("/static/app.css", "text/css")])
def test_page_and_assets_carry_the_security_headers(client, path, media):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith(media) and r.content
    csp = r.headers["content-security-policy"]
    for rule in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert rule in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "patlink review"
    assert set(API_PATHS) <= set(schema["paths"])
    assert "/" not in schema["paths"] and "/static/app.js" not in schema["paths"]
    assert set(schema["paths"]["/api/decisions"]) == {"get", "post"}
    assert schema["components"]["schemas"]["LinkBody"]["properties"]["top_k"]["maximum"] == 100
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


# ---------------------------------------------------------------------------------------------- errors
def test_400_bad_values(client, served):
    assert error(client.post("/api/candidates", json={}), 400) == "give a text or a known item id"
    assert error(client.post("/api/candidates", json={"text": "   \n "}), 400) == "give a text or a known item id"
    assert "'b' has an empty text" in error(client.post("/api/link", json={"queries": {"a": "sensor", "b": "  "}}),
                                            400)
    (pid,) = served.patents_of[served.item]
    assert "is not a known item" in error(client.post("/api/decisions", json={
        "item_id": "never seen", "patent_id": pid, "decision": "accept"}), 400)
    assert "Content-Length" in error(client.post("/api/link", content=b"{}", headers={
        "content-type": "application/json", "content-length": "lots"}), 400)


def test_401_token(served, tmp_path):
    c = fresh(served, tmp_path, token=TOKEN)
    assert c.get("/api/health").status_code == 200                                    # liveness is open
    assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200   # the page asks for it
    for headers in ({}, {"Authorization": "Bearer wrong-token-xyz"}, {"X-Patlink-Token": "wrong"},
                    {"Authorization": TOKEN}, {"Authorization": "Bearer "}, {"Authorization": f"Basic {TOKEN}"},
                    {"X-Patlink-Token": TOKEN[:-1]}):
        assert "missing or wrong token" in error(c.get("/api/info", headers=headers), 401)
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"bearer {TOKEN}"},
                    {"X-Patlink-Token": TOKEN}):
        assert c.get("/api/info", headers=headers).status_code == 200
    (pid,) = served.patents_of[served.item]
    decision = {"item_id": served.item, "patent_id": pid, "decision": "accept"}
    error(c.post("/api/decisions", json=decision), 401)
    error(c.post("/api/link", json={"queries": {"a": "sensor"}}), 401)
    error(c.get("/api/decisions/export"), 401)
    assert c.get("/api/decisions", headers={"X-Patlink-Token": TOKEN}).json()["total"] == 0   # nothing recorded
    assert c.post("/api/decisions", json=decision, headers={"X-Patlink-Token": TOKEN}).status_code == 201


def test_404_unknown_ids(client, served):
    assert error(client.get("/api/item", params={"id": "W0"}), 404) == "unknown item 'W0'"
    assert error(client.get("/api/patent", params={"id": "US0000000"}), 404) == "unknown patent 'US0000000'"
    assert error(client.get("/api/patent/items", params={"id": "US0000000"}), 404) == "unknown patent 'US0000000'"
    assert error(client.post("/api/candidates", json={"item_id": "W0"}), 404) == "unknown item 'W0'"
    assert error(client.post("/api/decisions", json={"item_id": served.item, "patent_id": "US0000000",
                                                     "decision": "accept"}), 404) == "unknown patent 'US0000000'"
    error(client.get("/api/no-such-endpoint"), 404)
    error(client.delete("/api/info"), 405)


def test_413_body_too_large(served, tmp_path):
    c = fresh(served, tmp_path, limits=ServeLimits(max_body_bytes=2000))
    small = json.dumps({"queries": {"a": "blood pressure sensor " * 50}}).encode()
    big = json.dumps({"queries": {"a": "blood pressure sensor " * 100}}).encode()
    assert len(small) < 2000 < len(big)
    headers = {"content-type": "application/json"}
    assert c.post("/api/link", content=small, headers=headers).status_code == 200
    assert error(c.post("/api/link", content=big, headers=headers), 413) == "request body over 2,000 bytes"

    def chunks(data: bytes):                          # no Content-Length: Transfer-Encoding: chunked
        for k in range(0, len(data), 300):
            yield data[k:k + 300]

    r = c.post("/api/link", content=chunks(big), headers=headers)
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert error(r, 413) == "request body over 2,000 bytes"
    assert c.post("/api/link", content=chunks(small), headers=headers).status_code == 200
    (pid,) = served.patents_of[served.item]
    big_decision = {"item_id": "new", "patent_id": pid, "decision": "accept", "item_text": "x" * 3000}
    error(c.post("/api/decisions", content=chunks(json.dumps(big_decision).encode()), headers=headers), 413)
    assert c.get("/api/decisions").json()["total"] == 0


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {},
                                     {"content-type": "application/x-www-form-urlencoded"}])
def test_415_not_json(client, served, headers):
    body = json.dumps({"queries": {"a": "sensor"}}).encode()
    assert "send the body as JSON" in error(client.post("/api/link", content=body, headers=headers), 415)
    assert "send the body as JSON" in error(client.post("/api/decisions", content=body, headers=headers), 415)


@pytest.mark.parametrize(("method", "path", "payload", "where"), [
    ("post", "/api/link", {"queries": {"a": "sensor"}, "top_k": 0}, "top_k"),
    ("post", "/api/link", {"queries": {"a": "sensor"}, "top_k": 101}, "top_k"),
    ("post", "/api/link", {"queries": {f"q{k}": "sensor" for k in range(65)}}, "queries"),
    ("post", "/api/link", {"queries": {}}, "queries"),
    ("post", "/api/link", {"queries": {"a": "x" * 20_001}}, "queries.a: over 20,000 characters"),
    ("post", "/api/link", {"queries": {"a": "sensor"}, "bogus": 1}, "bogus: Extra inputs are not permitted"),
    ("post", "/api/link", {"queries": ["sensor"]}, "queries"),
    ("post", "/api/candidates", {"text": "x" * 20_001}, "text"),
    ("post", "/api/candidates", {"item_id": "W1", "top_k": 0}, "top_k"),
    ("post", "/api/candidates", {"item_id": "W1", "colour": "red"}, "colour"),
    ("post", "/api/decisions", {"item_id": "W1", "patent_id": "US1", "decision": "maybe"}, "decision"),
    ("post", "/api/decisions", {"item_id": "W1", "patent_id": "US1", "decision": "accept", "rank": 0}, "rank"),
    ("post", "/api/decisions", {"item_id": "", "patent_id": "US1", "decision": "accept"}, "item_id"),
    ("post", "/api/decisions", {"item_id": "W1", "decision": "accept"}, "patent_id"),
    ("post", "/api/decisions", {"item_id": "W1", "patent_id": "US1", "decision": "accept",
                                "note": "n" * 4001}, "note"),
    ("get", "/api/items", {"limit": 0}, "query.limit"),
    ("get", "/api/items", {"limit": 1001}, "query.limit"),
    ("get", "/api/items", {"offset": -1}, "query.offset"),
    ("get", "/api/patent/items", {"id": "US1", "top_k": 101}, "query.top_k"),
    ("get", "/api/item", {}, "query.id"),
    ("get", "/api/decisions", {"decision": "maybe"}, "query.decision"),
    ("get", "/api/decisions/export", {"format": "xlsx"}, "query.format"),
])
def test_422_invalid_fields(client, method, path, payload, where):
    r = client.post(path, json=payload) if method == "post" else client.get(path, params=payload)
    assert where in error(r, 422)


def test_422_invalid_json(client):
    error(client.post("/api/link", content=b'{"queries": ', headers={"content-type": "application/json"}), 422)


def test_422_several_errors_are_counted_in_one_line(client):
    detail = error(client.post("/api/link", json={"queries": {}, "top_k": 0, "x": 1}), 422)
    assert "(and 2 more)" in detail
