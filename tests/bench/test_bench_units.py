"""Fast unit tests of the benchmark pieces on small hand-made fixtures (no model, no bundled data)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from patlink.bench.classification import evaluate_classification, f1_scores, knn_scores, predict_from_scores
from patlink.bench.clustering import ClusteringConfig, evaluate_clustering, select_documents
from patlink.bench.report import flatten, heatmap, write_report
from patlink.bench.tasks import TASKS, effective_view, get_tasks, parse_views
from patlink.bench.triplets import TripletConfig, triplets_from_tables


def test_task_registry_and_views():
    assert {t.type for t in TASKS.values()} == {"retrieval", "classification", "clustering"}
    assert [t.name for t in get_tasks("clustering")] == [n for n, t in TASKS.items() if t.type == "clustering"]
    assert get_tasks("beir:/tmp/x")[0].dataset == "beir:/tmp/x"
    with pytest.raises(ValueError, match="unknown task"):
        get_tasks("nope")
    assert parse_views("title+abstract,tac") == ["ta", "tac"]
    assert len(parse_views("all")) == 6
    with pytest.raises(ValueError, match="unknown view"):
        parse_views("abstarct")
    # A view is cut to the fields a dataset has; nothing left → None.
    assert effective_view("tac", ("title", "abstract")) == "ta"
    assert effective_view("tac", ("claims",)) == "claims"
    assert effective_view("ta", ("claims",)) is None


def test_knn_scores_weighted_vote():
    x_train = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    y_train = np.array([[1, 0], [1, 1], [0, 1]])
    s = knn_scores(x_train, y_train, np.array([[1, 0]], dtype=np.float32), k=2)
    # neighbours: doc0 (sim 1.0) and doc1 (sim 0.8): label0 share 1.0, label1 share 0.8/1.8
    np.testing.assert_allclose(s, [[1.0, 0.8 / 1.8]], rtol=1e-6)
    pred = predict_from_scores(np.array([[0.2, 0.3], [0.9, 0.6]]), 0.5)
    assert pred.tolist() == [[0, 1], [1, 1]]  # arg-max always predicted; threshold adds more


def test_macro_f1_only_over_test_labels():
    y_true = np.array([[1, 0, 0], [0, 1, 0]])
    y_pred = np.array([[1, 0, 1], [0, 0, 0]])
    r = f1_scores(y_true, y_pred)
    assert r["macro_f1"] == pytest.approx(0.5)  # label0 F1=1, label1 F1=0; label2 (no support) ignored


def test_classification_separable_fixture_is_perfect_and_unseen_labels_counted():
    rng = np.random.default_rng(0)
    centers = np.eye(4, dtype=np.float32)
    xs, labs = [], []
    for i in range(40):
        c = i % 2
        v = centers[c] + 0.05 * rng.standard_normal(4).astype(np.float32)
        xs.append(v / np.linalg.norm(v))
        labs.append(["A"] if c == 0 else ["B"])
    x = np.stack(xs)
    res = evaluate_classification(x[:30], labs[:30], x[30:], labs[30:])
    assert res["knn"]["macro_f1"] == pytest.approx(1.0) and res["logreg"]["macro_f1"] == pytest.approx(1.0)
    lo, hi = res["knn"]["ci95"]["macro_f1"]
    assert lo <= 1.0 <= hi + 1e-12
    res2 = evaluate_classification(x[:30], labs[:30], x[30:], [l + ["Z"] for l in labs[30:]])
    assert res2["n_test_labels_unseen"] == 10 and res2["knn"]["macro_f1"] < 1.0


def test_clustering_recovers_separated_groups():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(m, 0.05, size=(20, 3)) for m in ([5, 0, 0], [0, 5, 0], [0, 0, 5])])
    groups = ["a"] * 20 + ["b"] * 20 + ["c"] * 20
    r = evaluate_clustering(x, groups, ClusteringConfig(n_seeds=2))
    assert r["v_measure"] == pytest.approx(1.0) and r["ari"] == pytest.approx(1.0) and r["k"] == 3
    with pytest.raises(ValueError):
        evaluate_clustering(x[:3], ["a", "a", "a"])


def test_select_documents_filters():
    labels = {"d1": ["A"], "d2": ["A", "B"], "d3": ["B"], "d4": ["A"], "d5": ["C"], "d6": []}
    ids, g = select_documents(labels, ["d1", "d2", "d3", "d4", "d5", "d6"], min_per_label=2)
    assert ids == ["d1", "d4"] and g == ["A", "A"]
    ids, g = select_documents(labels, list(labels), top_labels=2)
    assert sorted(set(g)) == ["A", "B"]  # A (2) and then B/C tie (1) broken by name
    ids, g = select_documents(labels, list(labels), per_label=1)
    assert sorted(g) == ["A", "B", "C"]


def _tables(with_cites: bool):
    con = duckdb.connect()
    con.execute("CREATE TABLE docs (patent_id VARCHAR, text VARCHAR)")
    con.execute("CREATE TABLE cpc (patent_id VARCHAR, grp VARCHAR)")
    con.execute("CREATE TABLE cites (patent_id VARCHAR, cited_id VARCHAR)")
    groups = {f"P{i}": ("G1" if i < 4 else "G2" if i < 8 else "G3") for i in range(12)}
    con.executemany("INSERT INTO docs VALUES (?, ?)", [(p, f"text {p}") for p in groups])
    con.executemany("INSERT INTO cpc VALUES (?, ?)", list(groups.items()))
    if with_cites:
        con.executemany("INSERT INTO cites VALUES (?, ?)", [("P0", "P1"), ("P0", "P5"), ("P4", "P6")])
    return con, groups


def test_patentcl_triplets_sql_invariants():
    con, groups = _tables(False)
    trip = triplets_from_tables(con, TripletConfig(seed=0, n_candidates=32))
    assert len(trip) == 12  # every anchor has a same-group partner and some other-group patent
    for t in trip:
        assert groups[t["anchor"]] == groups[t["positive"]] and t["anchor"] != t["positive"]
        assert groups[t["negative"]] != groups[t["anchor"]]
        assert t["anchor_text"] == f"text {t['anchor']}"
    # Negatives are drawn at random, not the first non-match: different seeds give different negatives.
    negs = {s: [t["negative"] for t in sorted(triplets_from_tables(con, TripletConfig(seed=s)), key=lambda t: t["anchor"])]
            for s in range(4)}
    assert len({tuple(v) for v in negs.values()}) > 1
    assert len({t["negative"] for s in range(4) for t in triplets_from_tables(con, TripletConfig(seed=s))}) > 3


def test_patentcl_triplets_require_citation_when_citations_exist():
    con, groups = _tables(True)
    trip = triplets_from_tables(con, TripletConfig(seed=0), use_citations=True)
    # P0 cites P1 (same group) and P5 (other group); P4 cites P6 (same group): two anchors qualify.
    assert sorted((t["anchor"], t["positive"]) for t in trip) == [("P0", "P1"), ("P4", "P6")]


def _entry(task, model, view, main, typ="retrieval"):
    t = dict(TASKS[task].to_dict())
    if typ == "retrieval":
        run = {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d2": 1.0, "d1": 0.5}}
        res = {"qrels": {"q1": {"d1": 1}, "q2": {"d1": 1}},
               "variants": {model: {"ndcg@10": main, "map": main, "mrr": main, "ci95": {"ndcg@10": [0, 1]},
                                    "n_queries": 2, "run": run}}}
    else:
        res = {"v_measure": main, "v_measure_std": 0.01, "ari": 0.1, "n_docs": 10}
    return {"task": t, "view": view, "model": {"name": model}, "results": res}


def test_report_writes_table_csv_json_and_heatmap(tmp_path):
    entries = [_entry("pap2pat-paper2patent", "a", "ta", 0.5), _entry("pap2pat-paper2patent", "b", "ta", 0.7),
               _entry("cpc-claims-section-clustering", "a", "claims", 0.3, "clustering")]
    rows = flatten(entries)
    assert {(r["model"], r["main"]) for r in rows} == {("a", 0.5), ("b", 0.7), ("a", 0.3)}
    rep = write_report(entries, tmp_path, skipped=[{"task": "x", "view": "ta", "reason": "no text"}])
    md = rep["markdown"]
    assert "**0.700**" in md and "no text" in md and "±0.010" in md
    assert (tmp_path / "results.csv").read_text().count("\n") == 4
    tj = json.loads((tmp_path / "tasks" / "pap2pat-paper2patent.json").read_text())
    assert tj["paired_tests"]["ta"]["best"] in ("a", "b")  # identical runs → both means equal
    assert (tmp_path / "heatmap.png").stat().st_size > 1000
    assert heatmap(rows, tmp_path / "h2.png").exists()


def test_vectorised_macro_f1_bootstrap_matches_sklearn_loop():
    from patlink.bench.classification import _bootstrap_macro_f1, f1_scores

    rng = np.random.default_rng(3)
    yt = (rng.random((60, 5)) < 0.3).astype(int)
    yp = np.where(rng.random((60, 5)) < 0.8, yt, 1 - yt)
    fast = _bootstrap_macro_f1(yt, yp, 300, seed=7)
    r = np.random.default_rng(7)  # same draws as the vectorised version
    idx = r.integers(0, 60, (300, 60))
    slow = [f1_scores(yt[s], yp[s])["macro_f1"] for s in idx]
    assert fast == pytest.approx([np.percentile(slow, 2.5), np.percentile(slow, 97.5)])
