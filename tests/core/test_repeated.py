"""Repeated cross-validation and paired tests over reports: known inputs → known statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from patlink.evaluation.crossval import pool_fold_results
from patlink.evaluation.repeated import (
    compare_reports,
    corrected_resampled_ttest,
    format_comparison,
    load_report,
    paired_tests,
    read_qrels,
    read_trec_run,
)

DOCS = ["a", "b", "c", "d"]


def _fold(ranks):
    """Every query's relevant document is "a"; ``ranks`` = {query: the rank this method gives "a"} (a → RR)."""
    from patlink.evaluation.metrics import evaluate_run

    order = {"a": ["a", "b", "c", "d"], "b": ["b", "a", "c", "d"], "c": ["b", "c", "a", "d"]}
    qrels = {q: {"a": 1} for q in ranks}
    run = {q: {doc: float(4 - i) for i, doc in enumerate(order[r])} for q, r in ranks.items()}
    return {"method": "m", "qrels": qrels, "run": run, "doc_ids": DOCS,
            "metrics": evaluate_run(qrels, run, n_bootstrap=0, doc_ids=DOCS),
            "pool": {"queries": len(qrels), "documents": 4, "empty_queries": 0}}


def _report(tmp_path, name, folds_a, folds_b, seed):
    """A CV report with methods A and B; ``folds_x`` = per fold {query: "a" | "b" | "c"}: "a" ranked 1st / 2nd / 3rd
    (RR 1, 1/2, 1/3)."""
    from patlink.evaluation.report import write_report

    per_fold = [{"A": {"item2patent": _fold(fa)}, "B": {"item2patent": _fold(fb)}}
                for fa, fb in zip(folds_a, folds_b)]
    pooled = pool_fold_results(per_fold, n_bootstrap=0)
    for per in pooled.values():
        for r in per.values():
            for fi, fa in zip(r["folds"], folds_a):
                fi.update(n_train=6, n_val=0, n_test=len(fa))
    out = tmp_path / name
    write_report(pooled, out, "test", {"dataset": "none", "seed": seed}, plots=False)
    return out


def test_corrected_resampled_ttest_matches_hand_computation():
    d = [0.01, 0.02, 0.03, 0.0]
    # mean 0.015, sample variance 0.0005/3, factor 1/4 + 1/3 → t = 0.015 / sqrt(0.58333 · 1.6667e-4) = 1.5213
    t, p = corrected_resampled_ttest(np.array(d), n_train=3, n_test=1)
    assert t == pytest.approx(1.52128, abs=1e-4)
    from scipy.stats import t as student_t
    from scipy.stats import ttest_1samp

    assert p == pytest.approx(2 * student_t.sf(1.52128, 3), rel=1e-4)
    assert p > ttest_1samp(d, 0.0).pvalue  # the correction is conservative
    assert corrected_resampled_ttest(np.zeros(5), 4, 1) == (0.0, 1.0)
    assert corrected_resampled_ttest(np.full(3, 0.1), 4, 1) == (math.inf, 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        corrected_resampled_ttest(np.array([0.1]), 4, 1)
    with pytest.raises(ValueError, match="positive"):
        corrected_resampled_ttest(np.array([0.1, 0.2]), 0, 1)


def test_paired_tests_agree_with_ranx_and_handle_ties():
    from patlink.evaluation.metrics import compare_runs

    qrels = {f"q{i}": {"a": 1} if i % 3 else {"b": 1} for i in range(12)}
    ra = {q: {"a": 2.0, "b": 1.0} for q in qrels}           # right on 8 of 12
    rb = {q: {"a": 1.0, "b": 2.0} if i % 4 else {"a": 2.0, "b": 1.0} for i, q in enumerate(qrels)}
    ranx_p = compare_runs(qrels, {"A": ra, "B": rb}, ["mrr"])["pvalues"]["A"]["B"]["mrr"]
    sa = np.array([1.0 if "a" in qrels[q] else 0.5 for q in qrels])
    sb = np.array([(1.0 if "a" in qrels[q] else 0.5) if i % 4 == 0 else (0.5 if "a" in qrels[q] else 1.0)
                   for i, q in enumerate(qrels)])
    t = paired_tests(sa, sb, n_resamples=2000)
    assert t["t_test"] == pytest.approx(ranx_p, rel=1e-6)
    assert t["better"] == int((sa > sb).sum()) and t["worse"] == int((sa < sb).sum())
    assert 0 < t["randomization"] <= 1 and 0 < t["wilcoxon"] <= 1
    assert t["randomization_floor"] == pytest.approx(2 / 2001)
    big = paired_tests(np.linspace(1, 2, 40), np.linspace(0.5, 1, 40), n_resamples=999)  # all flips smaller: floor
    assert big["randomization"] == pytest.approx(big["randomization_floor"])
    same = paired_tests(sa, sa)
    assert same["t_test"] == same["randomization"] == same["wilcoxon"] == 1.0
    with pytest.raises(ValueError, match="one length"):
        paired_tests(sa, sb[:-1])


def test_repeated_cv_averages_each_query_over_partitions(tmp_path):
    # RR: "a" → 1, "b" → 1/2, "c" → 1/3. Two partitions of the queries q1..q4 into 2 folds.
    r0 = _report(tmp_path, "s0", [{"q1": "a", "q2": "b"}, {"q3": "a", "q4": "c"}],
                 [{"q1": "b", "q2": "b"}, {"q3": "a", "q4": "c"}], seed=0)
    r1 = _report(tmp_path, "s1", [{"q1": "a", "q3": "a"}, {"q2": "a", "q4": "b"}],
                 [{"q1": "a", "q3": "c"}, {"q2": "b", "q4": "b"}], seed=1)
    assert read_qrels(r0 / "runs" / "qrels.item2patent.trec")["q4"] == {"a": 1}
    assert read_trec_run(r0 / "runs" / "A.item2patent.trec")["q1"]["a"] == pytest.approx(4.0)
    meta = json.loads((r0 / "metrics.json").read_text())
    assert meta["cv"]["query_fold"]["item2patent"] == {"q1": 0, "q2": 0, "q3": 1, "q4": 1}
    assert meta["cv"]["seed"] == 0 and meta["cv"]["fold_sizes"][0] == {"train": 6, "val": 0, "test": 2}

    reps = [load_report(r0), load_report(r1)]
    (c,) = compare_reports(reps, {"A": ["A"], "B": ["B"]}, reference="B", n_resamples=500)
    assert c.queries == ["q1", "q2", "q3", "q4"] and c.n_repeats == 2 and not c.dropped
    # A per query: q1 (1+1)/2, q2 (1/2+1)/2, q3 (1+1)/2, q4 (1/3+1/2)/2
    assert c.scores["A"] == pytest.approx([1.0, 0.75, 1.0, 5 / 12])
    assert c.scores["B"] == pytest.approx([0.75, 0.5, 2 / 3, 5 / 12])
    assert c.per_repeat["A"] == pytest.approx([(1 + 0.5 + 1 + 1 / 3) / 4, (1 + 1 + 1 + 0.5) / 4])
    assert c.per_fold["A"].shape == (2, 2)
    assert c.per_fold["A"][1] == pytest.approx([1.0, 0.75])  # partition 1: fold 0 = q1, q3; fold 1 = q2, q4
    t = c.tests["A"]
    assert t["delta"] == pytest.approx(np.mean([0.25, 0.25, 1 / 3, 0.0]))
    assert t["better"] == 3 and t["worse"] == 0 and t["n_folds"] == 4
    assert 0 < t["corrected_p"] < 1
    md = format_comparison([c])
    assert "corrected repeated-CV t-test" in md and "2 reports" in md


def test_compare_reports_names_per_report_and_errors(tmp_path):
    r0 = _report(tmp_path, "s0", [{"q1": "a", "q4": "a"}, {"q2": "b"}], [{"q1": "b", "q4": "c"}, {"q2": "b"}], 0)
    r1 = _report(tmp_path, "s1", [{"q1": "a"}, {"q3": "b", "q4": "b"}], [{"q1": "a"}, {"q3": "c", "q4": "b"}], 1)
    reps = [load_report(r0), load_report(r1)]
    (c,) = compare_reports(reps, {"A": ["A", "A"], "ref": ["B"]}, reference="ref", n_resamples=100)
    assert c.queries == ["q1", "q4"] and c.dropped == ["q2", "q3"]  # not in both partitions: listed, not silent
    assert "2 queries not in every report" in format_comparison([c])
    with pytest.raises(ValueError, match="not in report"):
        compare_reports(reps, {"A": ["nope"], "B": ["B"]}, reference="B")
    with pytest.raises(ValueError, match="reference"):
        compare_reports(reps, {"A": ["A"]}, reference="B")
    with pytest.raises(ValueError, match="one per report"):
        compare_reports(reps, {"A": ["A", "A", "A"], "B": ["B"]}, reference="B")
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        load_report(tmp_path / "missing")
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 a 1 x tag\n")
    with pytest.raises(ValueError, match="bad.trec:1"):
        read_trec_run(bad)


def test_compare_cli(tmp_path, capsys):
    from patlink.cli.main import main

    r0 = _report(tmp_path, "s0", [{"q1": "a", "q2": "a"}, {"q3": "a"}], [{"q1": "b", "q2": "c"}, {"q3": "b"}], 0)
    r1 = _report(tmp_path, "s1", [{"q2": "a", "q3": "a"}, {"q1": "a"}], [{"q2": "c", "q3": "b"}, {"q1": "b"}], 1)
    rc = main(["compare", str(r0), str(r1), "-m", "B", "-m", "lnk=A,A", "--reference", "B",
               "--resamples", "200", "--out", str(tmp_path / "cmp")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "lnk" in out and "+0.5556" in out  # A: RR 1 everywhere; B: q1 1/2, q2 1/3, q3 1/2 → Δ = 1 − 4/9
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert saved[0]["mean"]["lnk"] == pytest.approx(1.0) and saved[0]["tests"]["lnk"]["better"] == 3
    assert main(["compare", str(tmp_path / "nope"), "-m", "A", "--reference", "A"]) == 2
    assert main(["compare", str(r0), "-m", "A", "-m", "B", "--reference", "B", "--seeds", "0,1"]) == 2


def test_repeated_single_splits_average_each_query_over_the_splits_that_tested_it(tmp_path):
    """Repeated holdout (e.g. graph splits of many-to-many data with several seeds): test sets differ, so every
    query tested at least once is kept, averaged over the splits that tested it; J = R holdouts for the corrected
    t-test."""
    from patlink.evaluation.report import write_report

    def single(name, a, b, seed):
        res = {"A": {"item2patent": _fold(a)}, "B": {"item2patent": _fold(b)}}
        cv = {"folds": 1, "seed": seed, "query_fold": {"item2patent": {q: 0 for q in a}},
              "fold_sizes": [{"train": 8, "val": 2, "test": len(a)}]}
        write_report(res, tmp_path / name, "t", {"dataset": "none", "seed": seed}, plots=False, cv=cv)
        return load_report(tmp_path / name)

    reps = [single("s0", {"q1": "a", "q2": "a"}, {"q1": "b", "q2": "a"}, 0),
            single("s1", {"q2": "b", "q3": "a"}, {"q2": "c", "q3": "b"}, 1),
            single("s2", {"q1": "a", "q3": "a"}, {"q1": "a", "q3": "a"}, 2)]
    (c,) = compare_reports(reps, {"A": ["A"], "B": ["B"]}, reference="B", n_resamples=200)
    assert c.match == "any" and c.queries == ["q1", "q2", "q3"] and not c.dropped
    assert c.scores["A"] == pytest.approx([1.0, 0.75, 1.0])          # q2: (1 + 1/2) / 2
    assert c.scores["B"] == pytest.approx([0.75, (1 + 1 / 3) / 2, 0.75])
    assert c.per_fold["A"].shape == (3, 1) and c.per_fold["A"][1, 0] == pytest.approx(0.75)
    assert c.fold_sizes == (10.0, 2.0) and c.tests["A"]["n_folds"] == 3
    with pytest.raises(ValueError, match="no query is common"):
        compare_reports(reps, {"A": ["A"], "B": ["B"]}, reference="B", match="common")


def test_a_query_a_run_does_not_answer_scores_zero(tmp_path):
    """Queries come from the report's own qrels: a query with no ranked document (e.g. an empty text) counts as
    RR 0, it is not silently left out."""
    rep = _report(tmp_path, "s0", [{"q1": "a", "q2": "a"}, {"q3": "a"}], [{"q1": "b", "q2": "b"}, {"q3": "b"}], 0)
    f = rep / "runs" / "A.item2patent.trec"
    f.write_text("".join(line for line in f.read_text().splitlines(keepends=True) if not line.startswith("q2 ")))
    (c,) = compare_reports([load_report(rep)], {"A": ["A"], "B": ["B"]}, reference="B", n_resamples=100)
    assert c.queries == ["q1", "q2", "q3"] and c.scores["A"] == pytest.approx([1.0, 0.0, 1.0])


def test_trec_files_round_trip_ids_with_spaces_and_percent(tmp_path):
    """VPM product names are ids ("100 FW Series Proximity Sensors"); TREC files are whitespace-separated."""
    from patlink.evaluation.report import trec_id, untrec_id, write_report

    odd = ["100 FW Series Proximity Sensors", "3200;3820", "50%\u00a0off\tx", "US8619435"]
    assert [trec_id(x) for x in odd] == ["100%20FW%20Series%20Proximity%20Sensors", "3200;3820",
                                         "50%25%C2%A0off%09x", "US8619435"]
    assert [untrec_id(trec_id(x)) for x in odd] == odd
    with pytest.raises(ValueError, match="empty id"):
        trec_id("")
    qrels = {odd[0]: {"US8619435": 1}, odd[2]: {"US 1": 1}}
    # scores 1e-9 apart (a tie-breaker) must not come back as a tie
    run = {odd[0]: {"US8619435": 1.0 + 1e-9, "US 1": 1.0}, odd[2]: {"US 1": 0.5}}
    from patlink.evaluation.metrics import evaluate_run

    res = {"m": {"item2patent": {"method": "m", "qrels": qrels, "run": run, "doc_ids": ["US8619435", "US 1"],
                                 "metrics": evaluate_run(qrels, run, n_bootstrap=0),
                                 "pool": {"queries": 2, "documents": 2, "empty_queries": 0}}}}
    write_report(res, tmp_path / "r", "test", {"dataset": "none"}, plots=False)
    assert read_trec_run(tmp_path / "r" / "runs" / "m.item2patent.trec") == run
    assert read_qrels(tmp_path / "r" / "runs" / "qrels.item2patent.trec") == qrels
    bad = tmp_path / "bad.trec"
    bad.write_text("q%FF 0 a 1\n")
    with pytest.raises(ValueError, match="bad.trec:1: id"):
        read_qrels(bad)
