"""ReviewService ranks concurrent requests together (one index call for the waiting requests of the same top_k)
and answers each exactly as it would alone; a request that fails does not fail the others."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from patlink.linking import Candidate
from patlink.review import DecisionStore, ReviewService


class SlowIndex:
    """A stand-in index (not real data): ranks documents d0..d9 by how often their digit occurs in the text;
    holds each call until released, so requests pile up; refuses texts containing 'boom'."""

    direction, label = "item2patent", "toy"

    def __init__(self):
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __len__(self):
        return 10

    def __contains__(self, d):
        return d in {f"d{i}" for i in range(10)}

    def title_of(self, d):
        return d.upper()

    def texts(self, ids=None):
        return {}

    def link(self, queries, top_k):
        self.gate.wait(5)
        self.calls.append(len(queries))
        if any("boom" in t for t in queries.values()):
            raise ValueError("boom")
        out = {}
        for q, t in queries.items():
            ranked = sorted(range(10), key=lambda i: (-t.count(str(i)), i))[:top_k]
            out[q] = [Candidate(f"d{i}", float(t.count(str(i))), r) for r, i in enumerate(ranked, 1)]
        return out


@pytest.fixture
def service(tmp_path):
    return ReviewService(SlowIndex(), DecisionStore(tmp_path / "d.sqlite"))


def test_concurrent_requests_are_batched_and_answered_as_alone(service):
    texts = [str(n) * (n % 7 + 1) + "0123456789"[: n % 10] for n in range(40)]
    service.index.gate.set()
    alone = [service.link_texts({"query": t}, 3)["query"] for t in texts]
    service.index.calls.clear()
    service.index.gate.clear()
    with ThreadPoolExecutor(8) as ex:
        futures = [ex.submit(service.link_texts, {"query": t}, 3) for t in texts]
        threading.Timer(0.3, service.index.gate.set).start()
        got = [f.result()["query"] for f in futures]
    assert got == alone
    assert sum(service.index.calls) == 40 and len(service.index.calls) < 40 and max(service.index.calls) > 1


def test_a_failing_request_does_not_fail_the_batch(service):
    with ThreadPoolExecutor(4) as ex:
        futures = [ex.submit(service.link_texts, {"query": t}, 2) for t in ("11", "boom", "22", "33")]
        threading.Timer(0.3, service.index.gate.set).start()
        results = []
        for f in futures:
            try:
                results.append(f.result()["query"][0]["id"])
            except ValueError as e:
                results.append(str(e))
    assert results == ["d1", "boom", "d2", "d3"]


def test_different_top_k_are_not_mixed(service):
    service.index.gate.set()
    with ThreadPoolExecutor(4) as ex:
        a = ex.submit(service.link_texts, {"q": "5"}, 1)
        b = ex.submit(service.link_texts, {"q": "5"}, 4)
        assert len(a.result()["q"]) == 1 and len(b.result()["q"]) == 4


def test_empty_text_and_bad_top_k_fail_before_ranking(service):
    with pytest.raises(ValueError, match="empty text"):
        service.link_texts({"q": "  "}, 3)
    with pytest.raises(ValueError, match="top_k"):
        service.link_texts({"q": "x"}, 0)
    assert service.index.calls == []


def test_broken_json_body_is_one_clear_line(service):
    from fastapi.testclient import TestClient

    from patlink.serve import create_app

    r = TestClient(create_app(service)).post("/api/link", content=b'{"queries": {"a": "x"',
                                             headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json() == {"detail": "the body is not valid JSON at character 21 (Expecting ',' delimiter)"}
