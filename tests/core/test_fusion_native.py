"""``patlink.retrieval.fusion.fuse`` (numpy) against ``fuse_ranx`` (ranx, the reference): the same run.

Same queries in the same order, the same documents in the same order per query (ties included: ranx sorts with
numba's quicksort, which is not stable) and the same scores (within 1e-9; in practice bitwise). Real runs: BM25
and dense (MiniLM) on the pap2pat abstract → claims validation split, both directions, and the two parts of
``knn+bm25`` (k-NN over known products + BM25 over patent profiles) on the honeywell-vpm new-product validation
products, exactly as the weight tuning receives them. Then hand-made edge cases whose answers are worked out here.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from patlink.retrieval.fusion import (
    _quicksort_argsort,
    convex_weight_curve,
    fuse,
    fuse_ranx,
    pick_weight,
    tune_convex_weight,
)


def assert_same(native: dict, ref: dict) -> None:
    """Same query order, same document order per query, scores within 1e-9 (NaN only where ranx has NaN)."""
    assert list(native) == list(ref)
    for q, docs in ref.items():
        assert list(native[q]) == list(docs), f"document order differs for query {q!r}"
        for d, s in docs.items():
            t = native[q][d]
            assert (math.isnan(s) and math.isnan(t)) or abs(s - t) <= 1e-9, (q, d, s, t)


def stable_fuse(runs: list[dict], weights: list[float]) -> dict:
    """Min-max convex fusion written plainly with Python's STABLE sort: ranx's arithmetic, not its tie order."""
    out = {}
    for q in sorted({q for r in runs for q, d in r.items() if d}):
        normed = []
        for r in runs:
            items = sorted((r.get(q) or {}).items(), key=lambda kv: -kv[1])
            lo, hi = (min(v for _, v in items), max(v for _, v in items)) if items else (0.0, 0.0)
            normed.append({d: (v - lo) / max(hi - lo, 1e-9) for d, v in items})
        union = dict.fromkeys(d for n in normed for d in n)
        scores = {d: sum(w * n.get(d, 0.0) for w, n in zip(weights, normed)) for d in union}
        out[q] = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
    return out


def differ_in_order_only(a: dict, b: dict) -> int:
    """Queries whose documents and scores agree but whose order does not (ties placed differently)."""
    assert {q: d for q, d in a.items() if d} == {q: d for q, d in b.items() if d}     # dict equality: no order
    return sum(list(a[q]) != list(b[q]) for q in b)


SETTINGS = [("rrf", None)] + [("convex", [a, 1 - a]) for a in (0.0, 0.3, 0.5, 0.8, 1.0)]


# --------------------------------------------------------------------------------------------- real runs
@pytest.fixture(scope="module")
def pap2pat_val_runs():
    """{direction: ([bm25 run, dense run], qrels)} on pap2pat abstract → claims validation (what ``hybrid`` tunes
    on: :meth:`patlink.methods.Fusion.fit`)."""
    from patlink.cli.methods import parse_method
    from patlink.data import load_dataset
    from patlink.evaluation.experiment import resolve_splits
    from patlink.evaluation.linkage import validation_for

    ds = load_dataset("pap2pat").with_views("abstract", "claims")
    splits = resolve_splits(ds, seed=0)
    out = {}
    for direction in ("item2patent", "patent2item"):
        hybrid = parse_method("hybrid").for_direction(direction)
        val = validation_for(ds, splits["val"], direction)
        runs = []
        for part in hybrid.parts:
            part = part.fit(val)
            part.index(val.documents)
            runs.append(part.search(val.queries, val.depth))
        out[direction] = (runs, val.qrels)
    return out


class _Captured(Exception):
    pass


@pytest.fixture(scope="module")
def honeywell_val_runs():
    """(part names, [knn run, profile-bm25 run], qrels): the validation runs ``knn+bm25`` tunes its weight on in
    the new-product protocol (item → patent), captured where :meth:`Fusion.fit_runs` receives them."""
    from patlink.cli.methods import parse_method
    from patlink.data import load_dataset
    from patlink.evaluation.experiment import resolve_splits
    from patlink.evaluation.linkage import LinkageEvalConfig
    from patlink.evaluation.new_product import evaluate_new_product
    from patlink.methods import Fusion

    ds = load_dataset("honeywell-vpm")
    splits = resolve_splits(ds, seed=0, protocol="new-product")
    got = []

    def capture(self, runs, qrels, metric="mrr"):
        got.append(([p.name for p in self.parts], list(runs), qrels))
        raise _Captured

    patch = pytest.MonkeyPatch()
    patch.setattr(Fusion, "fit_runs", capture)
    try:
        with pytest.raises(_Captured):
            evaluate_new_product(ds, splits, parse_method("knn+bm25"),
                                 LinkageEvalConfig(pool="all", n_bootstrap=0, directions=("item2patent",)))
    finally:
        patch.undo()
    return got[0]


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["item2patent", "patent2item"])
def test_pap2pat_bm25_dense_validation_fusions_equal_ranx(pap2pat_val_runs, direction):
    runs, _ = pap2pat_val_runs[direction]
    assert len(runs[0]) == len(runs[1]) > 100
    tied = 0
    for method, w in SETTINGS:
        ref = fuse_ranx(runs, method, w)
        nat = fuse(runs, method, w)
        assert_same(nat, ref)
        tied += sum(len(set(d.values())) < len(d) for d in ref.values())
    assert tied > 0          # the grid's end points and RRF leave ties: the tie order is checked on real data


@pytest.mark.slow
def test_pap2pat_weight_curve_equals_the_ranx_curve(pap2pat_val_runs):
    from patlink.retrieval.measures import mean_metric

    (bm25, dense), qrels = pap2pat_val_runs["item2patent"]
    grid = (0.0, 0.5, 1.0)
    ref = [mean_metric(qrels, fuse_ranx([bm25, dense], "convex", [a, 1 - a]), "mrr") for a in grid]
    assert convex_weight_curve(bm25, dense, qrels, "mrr", grid) == ref
    assert len(set(ref)) > 1


@pytest.mark.slow
def test_honeywell_knn_profile_bm25_validation_fusions_equal_ranx(honeywell_val_runs):
    from patlink.methods import BM25, Fusion

    names, runs, _ = honeywell_val_runs
    assert names[0] == "knn" and names[1].startswith("profile-bm25") and len(runs[0]) > 200
    differs_from_stable = 0
    for method, w in [SETTINGS[0], SETTINGS[1], SETTINGS[3], SETTINGS[5]]:     # rrf, α = 0, 0.5, 1
        ref = fuse_ranx(runs, method, w)
        assert_same(fuse(runs, method, w), ref)
        if method == "convex":
            # the same scores with stable sorts, but tied documents elsewhere: the tie order is ranx's own
            differs_from_stable += differ_in_order_only(stable_fuse(runs, w), ref)
            # the top-k cut of a fusion method is the head of ranx's order
            cut = Fusion([BM25(), BM25()], weights=w).fuse_runs(runs, 10)
            assert {q: list(d) for q, d in cut.items()} == {q: list(d)[:10] for q, d in ref.items()}
    assert differs_from_stable > 0


@pytest.mark.slow
def test_tuned_weight_unchanged_on_honeywell(honeywell_val_runs):
    from patlink.retrieval.measures import mean_metric

    _, (knn, bm25), qrels = honeywell_val_runs
    grid = (0.0, 0.7, 1.0)
    ref = [mean_metric(qrels, fuse_ranx([knn, bm25], "convex", [a, 1 - a]), "mrr") for a in grid]
    assert convex_weight_curve(knn, bm25, qrels, "mrr", grid) == ref
    assert tune_convex_weight(knn, bm25, qrels, "mrr", grid) == pick_weight(grid, ref)


# --------------------------------------------------------------------------------------------- edge cases
def test_ties_follow_ranx_not_a_stable_sort():
    rng = random.Random(3)
    a = {"q": {f"d{i}": float(rng.choice([0.0, 1.0, 2.0])) for i in range(40)}}
    b = {"q": {f"d{i}": float(rng.choice([0.0, 5.0])) for i in range(20, 60)}}
    for method, w in SETTINGS:
        assert_same(fuse([a, b], method, w), fuse_ranx([a, b], method, w))
    # with one run's weight 0 its documents all score 0 beside each other: 20 tied documents at the bottom
    f = fuse([a, b], "convex", [1.0, 0.0])
    assert differ_in_order_only(stable_fuse([a, b], [1.0, 0.0]), f) == 1
    assert sorted(f["q"].values(), reverse=True) == list(f["q"].values())
    assert sum(v == 0.0 for v in f["q"].values()) == sum(v == 0.0 for v in a["q"].values()) + 20


def test_document_in_one_run_only_gets_zero_from_the_other():
    a = {"q": {"x": 2.0, "y": 1.0, "z": 0.0}}
    b = {"q": {"y": 4.0, "w": 2.0, "x": 0.0}}
    f = fuse([a, b], "convex", [0.5, 0.5])
    # min-max: a → x 1, y 0.5, z 0; b → y 1, w 0.5, x 0
    assert f == {"q": {"y": 0.75, "x": 0.5, "w": 0.25, "z": 0.0}}
    assert list(f["q"]) == ["y", "x", "w", "z"]
    assert_same(f, fuse_ranx([a, b], "convex", [0.5, 0.5]))
    r = fuse([a, b], "rrf", rrf_k=60)
    assert r["q"]["z"] == 1 / 63 and r["q"]["w"] == 1 / 62 and r["q"]["y"] == 1 / 62 + 1 / 61
    assert_same(r, fuse_ranx([a, b], "rrf", rrf_k=60))


def test_query_in_one_run_only():
    a = {"q1": {"x": 1.0, "y": 0.0}, "q2": {"u": 3.0, "v": 1.0, "w": 2.0}}
    b = {"q1": {"y": 1.0, "x": 0.5}}
    for method, w in SETTINGS:
        assert_same(fuse([a, b], method, w), fuse_ranx([a, b], method, w))
    f = fuse([a, b], "convex", [0.4, 0.6])
    assert list(f) == ["q1", "q2"]
    assert list(f["q2"]) == ["u", "w", "v"] and f["q2"]["u"] == 0.4 and f["q2"]["w"] == 0.4 * 0.5
    # a query a run holds empty is the same as one it lacks
    assert fuse([a, {**b, "q2": {}}], "convex", [0.4, 0.6]) == f


def test_all_equal_scores_normalise_to_zero():
    a = {"q": {"x": 3.0, "y": 3.0, "z": 3.0}, "one": {"x": 7.0}}
    b = {"q": {"z": 2.0, "y": 1.0, "x": 0.0}, "one": {"y": 5.0, "x": 1.0}}
    f = fuse([a, b], "convex", [0.7, 0.3])
    assert f["q"] == {"z": 0.3, "y": 0.15, "x": 0.0}           # max - min = 0 → divided by 1e-9: all 0
    assert f["one"] == {"y": 0.3, "x": 0.0}                      # a one-document query normalises to 0 as well
    assert_same(f, fuse_ranx([a, b], "convex", [0.7, 0.3]))
    tiny = {"q": {"x": 1.0 + 1e-12, "y": 1.0}}                    # a spread under 1e-9 is divided by 1e-9
    assert fuse([tiny, b], "convex", [1.0, 0.0])["q"]["x"] == pytest.approx(1e-3, rel=1e-3)
    assert_same(fuse([tiny, b], "convex", [1.0, 0.0]), fuse_ranx([tiny, b], "convex", [1.0, 0.0]))


def test_empty_runs_and_empty_queries():
    a = {"q": {"x": 2.0, "y": 1.0, "z": 0.0}, "none": {}}
    for method, w in SETTINGS:
        assert_same(fuse([a, {}], method, w), fuse_ranx([a, {}], method, w))
    assert fuse([a, {}], "convex", [0.5, 0.5]) == {"q": {"x": 0.5, "y": 0.25, "z": 0.0}, "none": {}}
    assert fuse([{}, {}], "convex") == {} and fuse_ranx([{}, {}], "convex") == {}
    assert fuse([{"q": {}}, {"q": {}}], "rrf") == {"q": {}}


def test_nan_and_infinite_scores_as_ranx():
    nan, inf = float("nan"), float("inf")
    a = {"q": {"x": nan, "y": 1.0, "z": 0.0, "v": 1.0}, "r": {"x": nan, "y": nan}, "s": {"x": inf, "y": 0.0}}
    b = {"q": {"x": 0.2, "y": nan, "w": 1.0}, "r": {"x": 1.0}, "s": {"y": -inf, "z": 1.0, "x": -0.0}}
    for method, w in SETTINGS:
        assert_same(fuse([a, b], method, w), fuse_ranx([a, b], method, w))


def test_bad_arguments():
    a = {"q": {"x": 1.0}}
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse([a, a], "max")
    with pytest.raises(ValueError, match="3 weights for 2 runs"):
        fuse([a, a], "convex", [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="at least two runs"):
        fuse([a], "convex", [1.0])


def test_quicksort_port_equals_numba_argsort():
    numba = pytest.importorskip("numba")

    @numba.njit
    def numba_argsort(x):
        return np.argsort(x)

    rng = np.random.default_rng(0)
    for trial in range(400):
        n = int(rng.integers(0, 200)) if trial % 4 else int(rng.integers(500, 3000))
        x = rng.integers(0, 1 + trial % 6, n).astype(float) if trial % 2 else np.round(rng.random(n), 2)
        if trial % 5 == 0:
            x[rng.random(n) < 0.1] = np.nan
            x[rng.random(n) < 0.1] = -0.0
        ranks = np.unique(x, return_inverse=True)[1].reshape(-1)
        assert _quicksort_argsort(ranks.tolist()) == numba_argsort(x).tolist()
