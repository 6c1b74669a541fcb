"""The review loop end to end on real pap2pat data: serve → review (decisions through the API) → export (a BEIR
folder) → train a linker on it → index with the new model → serve it again; and decisions survive a restart."""

from __future__ import annotations

import json

import pytest

import patlink as pl
from patlink.review import DecisionStore, ReviewService
from patlink.serve import create_app


@pytest.fixture(scope="module")
def pap2pat():
    return pl.load_dataset("pap2pat")


def _client(service):
    from fastapi.testclient import TestClient

    return TestClient(create_app(service))


def _review(client, ds, n: int) -> tuple[list, list]:
    """Accept each item's true patent, reject its best-ranked wrong candidate, for the first ``n`` items."""
    true = dict(ds.links)
    accepted, rejected = [], []
    for item_id in sorted(ds.items)[:n]:
        cands = client.post("/api/candidates", json={"item_id": item_id, "top_k": 5}).json()["candidates"]
        wrong = next(c for c in cands if c["id"] != true[item_id])
        for pid, decision in ((true[item_id], "accept"), (wrong["id"], "reject")):
            c = next((c for c in cands if c["id"] == pid), {"score": None, "rank": None})
            r = client.post("/api/decisions", json={"item_id": item_id, "patent_id": pid, "decision": decision,
                                                    "reviewer": "ana", "score": c["score"], "rank": c["rank"]})
            assert r.status_code == 201, r.text
        accepted.append((item_id, true[item_id]))
        rejected.append((item_id, wrong["id"]))
    return accepted, rejected


def test_decisions_survive_a_restart(tmp_path, pap2pat):
    db = tmp_path / "d.sqlite"
    svc = ReviewService.for_dataset(pap2pat, pl.BM25(), DecisionStore(db))
    accepted, rejected = _review(_client(svc), pap2pat, 3)
    # a new process would open the same file: a new store and service see the same decisions
    again = ReviewService(svc.index, DecisionStore(db), items=svc.items, links=svc.links)
    c = _client(again)
    got = c.get("/api/decisions").json()
    assert got["total"] == 6
    assert {(d["item_id"], d["patent_id"], d["decision"]) for d in got["decisions"]} == \
        {(i, p, "accept") for i, p in accepted} | {(i, p, "reject") for i, p in rejected}
    item, pid = accepted[0]
    cands = c.post("/api/candidates", json={"item_id": item, "top_k": 5}).json()["candidates"]
    mine = next(x for x in cands if x["id"] == pid)
    assert mine["decision"]["decision"] == "accept" and mine["decision"]["reviewer"] == "ana" and mine["known"]


@pytest.mark.slow
def test_serve_review_export_train_serve(tmp_path, pap2pat, monkeypatch):
    from patlink.cli.main import main
    from patlink.data.beir import load_beir

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))
    db = tmp_path / "d.sqlite"
    svc = ReviewService.for_dataset(pap2pat, pl.BM25(), DecisionStore(db))
    accepted, rejected = _review(_client(svc), pap2pat, 24)

    # export: only the reviewed pairs (--no-known), as a BEIR folder
    beir = tmp_path / "reviewed"
    assert main(["review", "export", "--db", str(db), "--dataset", "pap2pat", "--no-known", "--out", str(beir),
                 "--json"]) == 0
    ds = load_beir(beir)
    assert sorted(ds.links) == sorted(accepted)
    assert len(ds.items) == 24 and len(ds.patents) == 48
    qrels = (beir / "qrels" / "reviewed.tsv").read_text().splitlines()
    assert sum(line.endswith("\t0") for line in qrels) == 24
    assert sorted(ds.negative_links) == sorted(rejected)         # rejected pairs: known negatives
    assert ds.patent_texts()[accepted[0][1]].strip()      # patents carry the index's texts
    # a table export for people
    assert main(["review", "export", "--db", str(db), "--out", str(tmp_path / "d.csv")]) == 0
    assert len((tmp_path / "d.csv").read_text().splitlines()) == 49

    # train a (tiny) linker on the reviewed links, the rejected ones as hard negatives
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"encoder": {"hidden": 32, "out_dim": 16, "max_length": 32}, "batch_size": 8,
                               "progress": False, "full_val_metrics": False,
                               "negatives": {"per_epoch": [2], "known_fallback": "none"}}))
    run = tmp_path / "run"
    assert main(["train", "--beir", str(beir), "--out", str(run), "--config", str(cfg), "--epochs", "1",
                 "--negatives", "known", "--no-plots", "--device", "cpu"]) == 0
    assert (run / "best" / "linker.json").exists()
    assert json.loads((run / "run.json").read_text()).get("n_known_negatives", 0) > 0
    epochs = json.loads((run / "metrics.json").read_text())["epochs"]
    assert epochs[0]["hard_negatives"] == 2                      # drawn from the rejected patents only

    # serve the new model: an index of the reviewed patents ranked by the trained linker fused with BM25
    idx = tmp_path / "idx"
    assert main(["index", str(beir), "--method", f"{run}+bm25", "--out", str(idx), "--device", "cpu"]) == 0
    from patlink.index import CorpusIndex

    new = ReviewService.for_index(CorpusIndex.open(idx), DecisionStore(db), dataset=ds)
    c = _client(new)
    assert c.get("/api/info").json()["documents"] == 48
    item, pid = accepted[0]
    cands = c.post("/api/candidates", json={"item_id": item, "top_k": 48}).json()["candidates"]
    assert {x["id"] for x in cands} == set(ds.patents)
    mine = next(x for x in cands if x["id"] == pid)
    assert mine["decision"]["decision"] == "accept" and mine["known"] and set(mine["part_scores"]) == \
        {p.name for p in new.index.method.parts}
