"""Hard-negative mining (patlink.training.mining): every strategy against a teacher with known scores (a tiny
Method returning fixed runs), then BM25 on 50 real pap2pat pairs (abstract -> claims)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from patlink.methods.base import Method
from patlink.training.mining import (
    Candidates,
    MiningResult,
    mine_hard_negatives,
    score_candidates,
    select_negatives,
    simans_weights,
)


class FixedScores(Method):
    """A teacher whose score of (query, document) is read from a table (0 when absent); ``matrix=False`` makes it
    a method without a score matrix (like a fusion)."""

    def __init__(self, scores: dict[str, dict[str, float]], matrix: bool = True):
        self.scores, self.matrix = scores, matrix
        self.indexed: dict[str, str] | None = None
        self.searched_depths: list[int] = []

    @property
    def name(self) -> str:
        return "fixed"

    def index(self, corpus):
        self.indexed = dict(corpus)

    def search(self, queries, top_k=100):
        self.searched_depths.append(top_k)
        out = {}
        for q in queries:
            row = {d: self.scores.get(q, {}).get(d, 0.0) for d in self.indexed}
            out[q] = dict(sorted(row.items(), key=lambda x: -x[1])[:top_k])
        return out

    def score_matrix(self, queries):
        if not self.matrix:
            raise NotImplementedError
        dids = list(self.indexed)
        S = np.array([[self.scores.get(q, {}).get(d, 0.0) for d in dids] for q in queries], dtype=np.float32)
        return list(queries), dids, S


def _docs(n: int) -> dict[str, str]:
    return {f"d{k}": f"text {k}" for k in range(n)}


# BM25-like (unbounded, non-negative) scores of one query: the positive p scores 20; 0.95 x 20 = 19.0 exactly
BM25_LIKE = {"q": {"d0": 25.0, "p": 20.0, "d1": 19.5, "d2": 19.0, "d3": 18.0, "d4": 10.0, "d5": 5.0}}
BM25_DOCS = {d: d for d in BM25_LIKE["q"]}


def _mine(scores, docs, positives, **kw):
    return mine_hard_negatives({q: q for q in scores}, docs, positives, scorer=FixedScores(scores), **kw)


# ---------------------------------------------------------------------------------------------- topk / percpos
def test_topk_is_the_highest_non_positives_in_order():
    neg = _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="topk", n_negatives=4)
    assert neg == {"q": ["d0", "d1", "d2", "d3"]}
    assert isinstance(neg, dict) and isinstance(neg, MiningResult)
    assert neg.report.counts == {"q": 4} and neg.report.full == 1 and not neg.report.skipped


def test_percpos_drops_candidates_above_margin_times_the_positive():
    neg = _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="percpos", n_negatives=3, margin=0.95)
    # 25 and 19.5 exceed 0.95 x 20 = 19; 19.0 is not above it and is kept
    assert neg["q"] == ["d2", "d3", "d4"]
    assert neg.report.dropped_above_margin == 2
    # margin 1: only what scores above the positive itself goes
    assert _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="percpos", n_negatives=3, margin=1.0)["q"] == \
        ["d1", "d2", "d3"]
    # a tighter margin drops more: 0.5 x 20 = 10
    assert _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="percpos", n_negatives=3, margin=0.5)["q"] == \
        ["d4", "d5"]


def test_percpos_with_several_positives_anchors_on_the_lowest_positive_score():
    scores = {"q": {"p1": 30.0, "d0": 28.0, "p2": 20.0, "d1": 19.5, "d2": 18.0, "d3": 1.0}}
    docs = {d: d for d in scores["q"]}
    neg = _mine(scores, docs, {"q": {"p1", "p2"}}, strategy="percpos", n_negatives=5)
    assert neg["q"] == ["d2", "d3"]                 # threshold 0.95 x min(30, 20) = 19
    top = _mine(scores, docs, {"q": {"p1", "p2"}}, strategy="topk", n_negatives=10)
    assert top["q"] == ["d0", "d1", "d2", "d3"]      # neither positive, however high it scores


def test_depth_smaller_than_the_candidates_limits_them_and_counts_the_positive():
    scores = {"q": {"p": 10.0, **{f"d{k}": 9.0 - k * 0.5 for k in range(10)}}}
    docs = {"p": "p", **_docs(10)}
    teacher = FixedScores(scores)
    neg = mine_hard_negatives({"q": "q"}, docs, {"q": {"p"}}, scorer=teacher, depth=3, n_negatives=5,
                              strategy="topk")
    assert neg["q"] == ["d0", "d1"]                 # depth 3 = the positive and 2 candidates
    assert neg.report.short == {"q": 2} and neg.report.full == 0
    assert teacher.indexed is None                  # the given method is not re-indexed (a copy ranks)


def test_positive_below_depth_is_scored_directly_or_the_query_skipped():
    scores = {"q": {f"d{k}": 10.0 - k for k in range(6)} | {"p": 7.5},
              "r": {"d0": 0.9, "p": 12.0}}
    docs = {"p": "p", **_docs(6)}
    pos = {"q": {"p"}, "r": {"p"}}
    queries = {"q": "q", "r": "r"}
    neg = mine_hard_negatives(queries, docs, pos, scorer=FixedScores(scores), depth=2, n_negatives=2,
                              strategy="percpos")
    # q: p (7.5) is not in its top 2 (10, 9): scored directly; threshold 7.125 leaves nothing within depth
    assert neg.report.scored_directly == ("q",)
    assert neg["q"] == [] and neg.report.dropped_above_margin == 2
    assert neg["r"] == ["d0"]
    # a teacher without a score matrix: q is skipped and reported, r still mined
    neg = mine_hard_negatives(queries, docs, pos, scorer=FixedScores(scores, matrix=False), depth=2,
                              n_negatives=2, strategy="percpos")
    assert neg["q"] == [] and "below depth 2" in neg.report.skipped["q"] and neg["r"] == ["d0"]
    assert "q" not in neg.report.short and "1 skipped" in neg.report.summary()
    # and if no query can be anchored, percpos cannot apply at all
    with pytest.raises(ValueError, match="needs each query's positive score"):
        mine_hard_negatives({"q": "q"}, docs, pos, scorer=FixedScores(scores, matrix=False), depth=2,
                            strategy="percpos")
    # topk needs no anchor
    assert mine_hard_negatives({"q": "q"}, docs, pos, scorer=FixedScores(scores, matrix=False), depth=2,
                               strategy="topk", n_negatives=2)["q"] == ["d0", "d1"]


def test_percpos_skips_queries_whose_positive_score_is_not_positive():
    scores = {"q": {"p": -0.2, "d0": -0.1, "d1": -0.3}, "r": {"p": 0.5, "d0": 0.6, "d1": 0.3}}
    neg = _mine(scores, {"p": "", "d0": "", "d1": ""}, {"q": {"p"}, "r": {"p"}}, strategy="percpos", n_negatives=2)
    assert neg["q"] == [] and "<= 0" in neg.report.skipped["q"]
    assert neg["r"] == ["d1"]


def test_queries_without_positives():
    scores = {"q": {"d0": 3.0, "d1": 2.0}}
    docs = _docs(2)
    assert _mine(scores, docs, {}, strategy="topk", n_negatives=1)["q"] == ["d0"]
    with pytest.raises(ValueError, match="no positive among the documents"):
        _mine(scores, docs, {"q": {"elsewhere"}}, strategy="percpos")


# ---------------------------------------------------------------------------------------------- SimANS
COSINES = {"q": {"p": 0.6, "d0": 0.9, "d1": 0.7, "d2": 0.6, "d3": 0.45, "d4": 0.2, "d5": 0.35}}
COS_DOCS = {d: d for d in COSINES["q"]}


def _expected(scores: dict[str, float], pos: float, a: float, b: float) -> dict[str, float]:
    w = {d: np.exp(-a * (s - pos - b) ** 2) for d, s in scores.items()}
    z = sum(w.values())
    return {d: v / z for d, v in w.items()}


def _frequencies(n_seeds: int, **kw) -> dict[str, int]:
    # rank once, then sample with each seed (mine_hard_negatives = score_candidates + select_negatives)
    cands = score_candidates({"q": "q"}, COS_DOCS, {"q": {"p"}}, scorer=FixedScores(COSINES))
    counts: dict[str, int] = {}
    for seed in range(n_seeds):
        (d,) = select_negatives(cands, strategy="simans", n_negatives=1, seed=seed, **kw)["q"]
        counts[d] = counts.get(d, 0) + 1
    return counts


@pytest.mark.parametrize(("a", "b"), [(20.0, 0.0), (8.0, -0.25)])
def test_simans_frequencies_follow_the_formula(a, b):
    n = 6000
    counts = _frequencies(n, a=a, b=b)
    cand = {d: s for d, s in COSINES["q"].items() if d != "p"}
    p = _expected(cand, 0.6, a, b)
    chi2 = sum((counts.get(d, 0) - n * p[d]) ** 2 / (n * p[d]) for d in cand)
    assert chi2 < 22.5          # chi-square, 5 degrees of freedom: P(> 22.5) < 0.0005
    uniform = sum((counts.get(d, 0) - n / len(cand)) ** 2 / (n / len(cand)) for d in cand)
    assert uniform > 200        # and far from uniform: the test can tell the formula from a flat draw
    mode = max(counts, key=counts.get)
    assert mode == min(cand, key=lambda d: abs(cand[d] - 0.6 - b))


def test_simans_is_deterministic_per_seed_and_never_returns_positives():
    kw = {"strategy": "simans", "n_negatives": 3, "a": 5.0}
    one = _mine(COSINES, COS_DOCS, {"q": {"p"}}, seed=7, **kw)
    assert one == _mine(COSINES, COS_DOCS, {"q": {"p"}}, seed=7, **kw)
    outs = {tuple(_mine(COSINES, COS_DOCS, {"q": {"p"}}, seed=s, **kw)["q"]) for s in range(20)}
    assert len(outs) > 3                     # the seed matters
    for o in outs:
        assert len(o) == 3 and len(set(o)) == 3 and "p" not in o
    assert one.report.scale == "raw"
    # a query's draw does not depend on the other queries
    two = dict(COSINES, r={"p": 0.1, "d0": 0.2})
    assert _mine(two, COS_DOCS, {"q": {"p"}, "r": {"p"}}, seed=7, **kw)["q"] == one["q"]


def test_simans_on_unbounded_scores_uses_the_ratio_to_the_positive():
    neg = _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="simans", n_negatives=2, seed=0)
    assert neg.report.scale == "ratio" and len(neg["q"]) == 2 and "p" not in neg["q"]
    c = {"q": Candidates(["d1", "d4"], np.array([19.5, 10.0]), 20.0), "r": Candidates(["d0"], np.array([3.0]))}
    w, skipped, scale = simans_weights(c, a=2.0, b=0.1)
    assert scale == "ratio" and set(w) == {"q"} and set(skipped) == {"r"}
    np.testing.assert_allclose(w["q"], [-2.0 * (19.5 / 20 - 1 - 0.1) ** 2, -2.0 * (10 / 20 - 1 - 0.1) ** 2])
    # cosines are used as they are
    w, _, scale = simans_weights({"q": Candidates(["d1", "d4"], np.array([0.5, -0.2]), 0.4)}, a=2.0, b=0.1)
    assert scale == "raw"
    np.testing.assert_allclose(w["q"], [-2.0 * (0.5 - 0.4 - 0.1) ** 2, -2.0 * (-0.2 - 0.4 - 0.1) ** 2])
    # scores that are unbounded and negative have no comparable scale
    bad = {"q": {"p": 3.0, "d0": -4.0, "d1": 2.0}}
    with pytest.raises(ValueError, match="comparable scale"):
        _mine(bad, {"p": "", "d0": "", "d1": ""}, {"q": {"p"}}, strategy="simans")


# ---------------------------------------------------------------------------------------------- random
def test_random_is_uniform_over_non_positives_without_a_teacher():
    docs = _docs(8)
    pos = {"q": {"d0", "d1", "not-a-doc"}}
    counts = {d: 0 for d in docs}
    n = 3000
    for seed in range(n):
        got = mine_hard_negatives({"q": "q"}, docs, pos, scorer=None, strategy="random", n_negatives=2, seed=seed)
        assert len(set(got["q"])) == 2 and not set(got["q"]) & pos["q"]
        for d in got["q"]:
            counts[d] += 1
    assert counts["d0"] == counts["d1"] == 0
    expected = 2 * n / 6
    assert sum((counts[d] - expected) ** 2 / expected for d in docs if d not in pos["q"]) < 20.5   # 5 d.o.f.
    everything = mine_hard_negatives({"q": "q"}, docs, pos, scorer=None, strategy="random", n_negatives=50)
    assert sorted(everything["q"]) == [f"d{k}" for k in range(2, 8)] and everything.report.short == {"q": 6}


# ---------------------------------------------------------------------------------------------- errors, result
@pytest.mark.parametrize(("kw", "match"), [
    ({"strategy": "hardest"}, "unknown strategy"),
    ({"n_negatives": 0}, "n_negatives"),
    ({"margin": 0.0}, "margin"),
    ({"margin": 1.5}, "margin"),
    ({"depth": 0}, "depth"),
    ({"seed": -1}, "seed"),
    ({"a": 0.0, "strategy": "simans"}, "a must be > 0"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, **kw)


def test_bad_teacher_and_empty_pool():
    with pytest.raises(TypeError, match="patlink Method"):
        mine_hard_negatives({"q": "q"}, BM25_DOCS, {}, scorer="bm25")
    with pytest.raises(ValueError, match="empty document pool"):
        mine_hard_negatives({"q": "q"}, {}, {}, scorer=FixedScores({}))


def test_result_pickles_with_its_report():
    neg = _mine(BM25_LIKE, BM25_DOCS, {"q": {"p"}}, strategy="percpos", n_negatives=2)
    back = pickle.loads(pickle.dumps(neg))
    assert back == neg and back.report == neg.report


# ---------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def pap2pat_50():
    from patlink.data import load_dataset

    ds = load_dataset("pap2pat")
    links = sorted(ds.links)[:50]
    items = ds.item_texts([i for i, _ in links], view="abstract")
    patents = ds.patent_texts([p for _, p in links], view="claims")
    positives: dict[str, set[str]] = {}
    for i, p in links:
        positives.setdefault(i, set()).add(p)
    return items, patents, positives


@pytest.mark.parametrize("strategy", ["topk", "percpos", "simans", "random"])
def test_bm25_on_50_pap2pat_pairs(pap2pat_50, strategy):
    from patlink.methods import BM25

    items, patents, positives = pap2pat_50
    assert len(items) == 50 and all(t.strip() for t in items.values()) and all(t.strip() for t in patents.values())
    neg = mine_hard_negatives(items, patents, positives, scorer=BM25(), depth=30, n_negatives=3, strategy=strategy,
                              seed=1)
    assert set(neg) == set(items)
    for q, ds in neg.items():
        assert len(ds) == 3 and len(set(ds)) == 3
        assert not set(ds) & positives[q]
        assert set(ds) <= set(patents)
    assert neg.report.full == 50 and not neg.report.skipped
    if strategy == "topk":       # the top non-positive of BM25 itself
        m = BM25()
        m.index(patents)
        run = m.search(items, top_k=5)
        for q, row in run.items():
            assert neg[q][0] == next(d for d in row if d not in positives[q])
    if strategy == "percpos":    # every negative scores at most 0.95 x its query's positive, and some were dropped
        m = BM25()
        m.index(patents)
        qids, dids, S = m.score_matrix(items)
        col = {d: j for j, d in enumerate(dids)}
        for r, q in enumerate(qids):
            s_pos = min(S[r, col[p]] for p in positives[q])
            assert all(S[r, col[d]] <= 0.95 * s_pos + 1e-4 for d in neg[q])
        assert neg.report.dropped_above_margin > 0
    if strategy == "simans":
        assert neg.report.scale == "ratio"


@pytest.mark.slow   # loads the bundled MiniLM (offline)
def test_dense_teacher_on_20_pap2pat_pairs_uses_raw_cosines(pap2pat_50):
    from patlink.methods import Dense

    items, patents, positives = pap2pat_50
    items = dict(list(items.items())[:20])
    patents = {p: patents[p] for q in items for p in positives[q]}
    neg = mine_hard_negatives(items, patents, positives, scorer=Dense(), depth=10, n_negatives=2, strategy="simans",
                              a=20.0)
    assert neg.report.scale == "raw" and neg.report.full == 20
    assert all(not set(v) & positives[q] for q, v in neg.items())
    m = Dense()
    m.index(patents)
    qids, dids, S = m.score_matrix(items)
    assert -1.0 <= S.min() and S.max() <= 1.0 + 1e-5
    pc = mine_hard_negatives(items, patents, positives, scorer=Dense(), depth=5, n_negatives=2, strategy="percpos")
    col = {d: j for j, d in enumerate(dids)}
    for r, q in enumerate(qids):
        s_pos = min(S[r, col[p]] for p in positives[q])
        assert all(S[r, col[d]] <= 0.95 * s_pos + 1e-5 for d in pc[q])


# ---------------------------------------------------------------------------------------------- linker source
def test_mining_teacher_follows_the_config():
    from patlink.methods import BM25, Dense
    from patlink.training.config import TrainConfig
    from patlink.training.negatives.mined import mining_teacher

    assert isinstance(mining_teacher(TrainConfig()), BM25)
    c = TrainConfig.from_dict({"negatives": {"source": "mined", "mining": {"scorer": "dense"}},
                               "encoder": {"max_chunks": 3}})
    t = mining_teacher(c)
    assert isinstance(t, Dense) and t.model == "minilm" and t.windows == 3
    with pytest.raises(ValueError, match="negatives.mining.margin must be in"):
        TrainConfig.from_dict({"negatives": {"mining": {"margin": 0.0}}}).validate()
    with pytest.raises(ValueError, match=r"negatives.mining.scorer must be one of bm25\|dense"):
        TrainConfig.from_dict({"negatives": {"mining": {"scorer": "colbert"}}}).validate()


def _source(strategy: str, **kw):
    from patlink.methods import BM25
    from patlink.training.config import Curriculum
    from patlink.training.negatives import MinedNegatives
    from patlink.training.sampler import LinkIndex

    links = [("i0", "p0"), ("i1", "p1"), ("i2", "p2"), ("i3", "p3")]
    item_texts = ["laser barcode scanner", "gas turbine blade cooling", "lithium battery cathode",
                  "solar panel inverter"]
    # p3 matches item 0 better than its own patent p0 does: a likely false negative of i0
    patent_texts = ["barcode scanner", "turbine blade with cooling holes", "battery cathode of lithium",
                    "laser barcode scanner handheld and solar panel"]
    idx = LinkIndex.from_links(links)
    src = MinedNegatives(idx, Curriculum((2,)), [np.zeros((1, 2))] * 4, torch.Generator().manual_seed(0),
                         item_texts=item_texts, patent_texts=patent_texts, scorer=BM25(), strategy=strategy,
                         depth=4, **kw)
    return src, item_texts, patent_texts


def _bm25_matrix(queries: list[str], docs: list[str]) -> np.ndarray:
    from patlink.methods import BM25

    m = BM25()
    m.index({str(j): t for j, t in enumerate(docs)})
    _, dids, S = m.score_matrix({str(k): t for k, t in enumerate(queries)})
    return S[:, [dids.index(str(j)) for j in range(len(docs))]]


def test_mined_source_percpos_pools_drop_what_outscores_the_positive():
    src, it, pt = _source("percpos")
    S = _bm25_matrix(it, pt)
    assert S[0, 3] > S[0, 0] > 0                          # the fixture's premise: p3 outscores i0's own patent
    for k, pool in enumerate(src.pools_patents):
        assert k not in pool                              # never the positive (item k <-> patent k)
        assert all(S[k, j] <= 0.95 * S[k, k] + 1e-5 for j in pool)
    assert 3 not in src.pools_patents[0]
    assert src.reports["patent"].dropped_above_margin >= 1
    # the sampler sees uniform logits restricted to the pools (and to what the batch allows)
    q = np.arange(4)
    allowed = torch.ones(4, 4, dtype=torch.bool)
    allowed[:, 2] = False
    lg, mask = src.logits("patent", torch.zeros(4, 2), q, allowed)
    assert torch.equal(lg, torch.zeros(4, 4))
    for k in range(4):
        assert set(torch.nonzero(mask[k]).flatten().tolist()) == set(src.pools_patents[k]) - {2}


def test_mined_source_simans_logits_are_the_simans_log_weights():
    src, it, pt = _source("simans", a=3.0, b=0.0)
    S = _bm25_matrix(it, pt)
    lg, mask = src.logits("patent", torch.zeros(4, 2), np.arange(4), torch.ones(4, 4, dtype=torch.bool))
    assert src.reports["patent"].scale == "ratio"
    for k in range(4):
        pool = src.pools_patents[k]
        assert k not in pool and set(torch.nonzero(mask[k]).flatten().tolist()) == set(pool)
        # ratio scale: -a (s / s+ - 1 - b)^2 with s+ the positive's BM25 score
        want = -3.0 * (S[k, pool] / S[k, k] - 1.0) ** 2
        np.testing.assert_allclose(lg[k, pool].numpy(), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="percpos' or 'simans'"):
        _source("topk")


@pytest.mark.parametrize("strategy", ["percpos", "simans"])
def test_linker_trains_with_mined_negatives_and_resumes_identically(tmp_path, strategy):
    from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

    import patlink.training.trainer as tr
    from patlink.training.trainer import train_linker

    ds = make_fixture_dataset(40, extra_links=6)
    split = fixture_split(ds)
    c = tiny_config(epochs=3, hard_negatives=(0, 2, 3), negatives="mined").replace(
        negatives={"mining": {"strategy": strategy, "depth": 10, "a": 5.0}})
    assert c.negatives.source == "mined" and c.negatives.mining.strategy == strategy
    full = train_linker(ds, split, c, tmp_path / "full", store=FakeTokenStore())
    assert len(full.history) == 3 and all(np.isfinite(h["train_loss"]) for h in full.history)
    # run.json records what mining did, per side (patent negatives of item queries, item negatives of patents)
    import json

    mining = json.loads((tmp_path / "full" / "run.json").read_text())["mining"]
    n_items, n_patents = len({i for i, _ in split["train"]}), len({p for _, p in split["train"]})
    assert mining["teacher"] == "bm25"
    for side, n in (("patent", n_items), ("item", n_patents)):
        r = mining[side]
        assert r["strategy"] == strategy and r["depth"] == 10 and r["queries"] == n
        assert r["full"] + r["short"] + r["skipped"] == n and 0 < r["kept"] <= 10 * n
        assert r["summary"].startswith(f"{strategy}: ") and len(r["skipped_examples"]) == min(5, r["skipped"])
        assert all(q in ds.items or q in ds.patents for q in r["skipped_examples"])
    if strategy == "percpos":
        r = mining["patent"]
        assert r["scale"] is None and f"{r['dropped_above_margin']} candidates dropped above the margin" in r["summary"]
    else:
        assert mining["patent"]["scale"] in ("raw", "ratio") and mining["patent"]["dropped_above_margin"] == 0
    # epochs 2 and 3 drew mined negatives (the mean cosine of what was drawn is recorded), epoch 1 none
    assert full.history[0]["reward"] is None and all(h["reward"] is not None for h in full.history[1:])

    class Stop(Exception):
        pass

    orig = tr._Trainer._step

    def interrupt(self, batch, epoch):
        if self.epoch == 2:
            raise Stop
        return orig(self, batch, epoch)

    tr._Trainer._step = interrupt
    try:
        with pytest.raises(Stop):
            train_linker(ds, split, c, tmp_path / "res", store=FakeTokenStore())
    finally:
        tr._Trainer._step = orig
    resumed = train_linker(ds, split, c, tmp_path / "res", store=FakeTokenStore(), resume=True)
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in full.history],
                                                                       rel=1e-6)
