"""New-product protocol: patent profiles from linked products.

Most tests use a small HAND-MADE FIXTURE dataset (``np-fixture``: invented products and patent ids, not real data)
whose right answers are known; one test checks the pool on the real bundled ``honeywell-vpm`` split.
"""

from __future__ import annotations

import numpy as np
import pytest

from patlink.cli.methods import parse_method
from patlink.data.dataset import Dataset
from patlink.evaluation.linkage import LinkageEvalConfig
from patlink.evaluation.new_product import evaluate_new_product, new_product_pool
from patlink.linking import Candidate, link
from patlink.methods import (
    HYBRID_UNTUNED_WEIGHTS,
    Fusion,
    KnownLinks,
    Method,
    ProfileLeaf,
    Validation,
    for_new_products,
)
from patlink.retrieval.profiles import PatentProfiles, ProfileConfig

# --------------------------------------------------------------------------------------------- fixture
_PRODUCTS = {
    # training products
    "s1": "handheld barcode scanner with bluetooth wireless connection",
    "s2": "cordless barcode imager with bluetooth and a long battery life",
    "pr1": "industrial thermal label printer with a metal print head",
    "pr2": "desktop thermal label printer using a ribbon",
    "g1": "portable gas detector for toxic gases with an alarm",
    # validation products
    "v1": "wireless barcode scanner for retail checkout",
    "v2": "label printer for shipping labels",
    # test products
    "t1": "bluetooth barcode scanner, handheld",
    "t2": "thermal label printer for warehouses",
    "t3": "gas leak detector, portable",
}
_LINKS = {
    "train": [("s1", "P1"), ("s2", "P1"), ("s1", "P2"), ("pr1", "P2"), ("pr2", "P2"), ("pr1", "P3"),
              ("pr2", "P3"), ("g1", "P4")],
    "val": [("v1", "P1"), ("v2", "P3")],
    # P5 has no training product: outside the representable pool, a guaranteed miss
    "test": [("t1", "P1"), ("t2", "P3"), ("t3", "P4"), ("t3", "P5")],
}


def fixture_dataset() -> Dataset:
    """The np-fixture: 10 invented products, 5 invented patents (no patent text), 14 links."""
    items = {k: {"name": f"name-{k}", "description": v} for k, v in _PRODUCTS.items()}
    patents = {p: {} for p in ("P1", "P2", "P3", "P4", "P5")}
    links = [lk for part in _LINKS.values() for lk in part]
    return Dataset(name="np-fixture", items=items, patents=patents, links=links,
                   item_fields=("name", "description"), item_view=("description",), item_kind="product")


@pytest.fixture(scope="module")
def ds():
    return fixture_dataset()


@pytest.fixture(scope="module")
def splits():
    return {k: list(v) for k, v in _LINKS.items()}


CFG = LinkageEvalConfig(pool="all", n_bootstrap=50, depth=100)


def _ranking(run_q: dict) -> list[str]:
    return [d for d, _ in sorted(run_q.items(), key=lambda kv: (-kv[1], kv[0]))]


def _method(spec: str, has_text: bool = False) -> Method:
    """A ``--method`` string as the new-product protocol ranks it."""
    return for_new_products(parse_method(spec), has_text)


def _known(ds, profiles: PatentProfiles) -> KnownLinks:
    """Known links whose profiles are the hand-built ``profiles`` (from the training links)."""
    known = KnownLinks(ds, _LINKS["train"])
    known._profiles = profiles
    return known


def _run(method: Method, ds, profiles: PatentProfiles, direction: str, queries: dict[str, str],
         docs: dict[str, str] | None = None, depth: int = 1000) -> dict:
    """``method``'s run with patents known by ``profiles``: item → patent ranks the pool, patent → item ``docs``."""
    m = method.with_known(_known(ds, profiles)).for_direction(direction)
    m.index({p: "" for p in profiles.patent_ids} if direction == "item2patent" else docs)
    return m.search(queries, depth)


def _fit(method: Method, ds, profiles: PatentProfiles, queries: dict[str, str], qrels: dict) -> Method:
    """``method`` tuned item → patent on validation ``queries``/``qrels`` against the pool of ``profiles``."""
    m = method.with_known(_known(ds, profiles)).for_direction("item2patent")
    return m.fit(Validation(queries, {p: "" for p in profiles.patent_ids}, qrels))


def _run_fitted(m: Method, profiles: PatentProfiles, queries: dict[str, str], depth: int = 1000) -> dict:
    m.index({p: "" for p in profiles.patent_ids})
    return m.search(queries, depth)


# --------------------------------------------------------------------------------------------- profiles
def test_profiles_pool_and_matrix(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    assert pr.patent_ids == ["P1", "P2", "P3", "P4"]  # P5 has no training product
    assert pr.items == ["g1", "pr1", "pr2", "s1", "s2"]
    np.testing.assert_array_equal(pr.degree, [2, 3, 2, 1])
    assert pr.products_of("P2") == ["pr1", "pr2", "s1"]
    assert pr.products_of("P5") == []
    assert set(pr.profile_texts()["P1"].split("\n")) == {_PRODUCTS["s1"], _PRODUCTS["s2"]}


def test_popularity_order(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    run = _run(_method("popularity"), ds, pr, "item2patent", {"q": "anything at all"})
    # P2 has 3 training products, P1 and P3 two (tie broken by id order), P4 one
    assert list(run["q"]) == ["P2", "P1", "P3", "P4"]
    assert run["q"]["P2"] == 3.0 and run["q"]["P4"] == 1.0


def test_profile_bm25_picks_patent_sharing_query_words(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    spec = _method("profile-bm25")
    run = _run(spec, ds, pr, "item2patent", {"scan": "bluetooth barcode scanner", "gas": "toxic gas alarm",
                                             "print": "ribbon label printer"})
    assert _ranking(run["scan"])[0] == "P1"   # only s1+s2 (P1) are all about bluetooth barcode scanners
    assert _ranking(run["gas"])[0] == "P4"
    assert _ranking(run["print"])[0] == "P3"  # P3 is all printers; P2 is diluted by a scanner
    # patents sharing no word with the query score 0
    assert run["gas"]["P1"] == 0.0


def test_profile_mean_and_knn(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    q = {"t1": _PRODUCTS["t1"], "t3": _PRODUCTS["t3"]}
    mean = _run(_method("profile-mean"), ds, pr, "item2patent", q)
    assert _ranking(mean["t1"])[0] == "P1" and _ranking(mean["t3"])[0] == "P4"
    # profile-mean is the cosine with the re-normalised mean embedding
    e = pr.embed([_PRODUCTS["t1"]])[0]
    m = pr.embed([_PRODUCTS["s1"], _PRODUCTS["s2"]]).mean(axis=0)
    assert mean["t1"]["P1"] == pytest.approx(float(e @ m / np.linalg.norm(m)), abs=1e-5)

    knn1 = _method("knn:1")
    run = _run(knn1, ds, pr, "item2patent", {"t3": _PRODUCTS["t3"]})
    # the single nearest training product of a gas detector is g1, linked to P4 only
    assert _ranking(run["t3"])[0] == "P4"
    sim = float(pr.embed([_PRODUCTS["t3"]])[0] @ pr.embed([_PRODUCTS["g1"]])[0])
    assert run["t3"]["P4"] == pytest.approx(sim + 1e-6 * 1 / 3, abs=1e-5)
    # the other patents get only the popularity tie-breaker
    assert run["t3"]["P2"] == pytest.approx(1e-6, abs=1e-9)


def test_knn_sums_neighbours_vectorised_equals_loop(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    texts = [_PRODUCTS[k] for k in ("t1", "t2", "t3", "v1")]
    k = 3
    fast = pr.knn_scores(pr.embed(texts), k)
    q = pr.embed(texts)
    for r in range(len(texts)):
        sims = q[r] @ pr.item_emb.T
        nn = np.argsort(-sims)[:k]
        for c, p in enumerate(pr.patent_ids):
            want = sum(max(0.0, sims[j]) for j in nn if pr.items[j] in pr.products_of(p))
            want += 1e-6 * pr.degree[c] / pr.degree.max()
            assert fast[r, c] == pytest.approx(want, abs=1e-5)


def test_unknown_method_and_linker_errors(ds, splits):
    with pytest.raises(ValueError, match="unknown method"):
        _method("nope")
    with pytest.raises(ValueError, match="profile-linker needs"):
        _method("profile-linker")
    pr = PatentProfiles(ds, splits["train"])
    spec = _method("profile-linker:/nonexistent/run")
    with pytest.raises(ValueError, match="no trained linker|not a saved linker"):
        _run(spec, ds, pr, "item2patent", {"q": "x"})


def test_bm25_dense_alias_without_patent_text(ds):
    assert _method("bm25", False).leaf == "profile-bm25"
    assert _method("dense", False).leaf == "profile-mean"
    assert _method("bm25", True).leaf == "text-bm25"
    fused = _method("profile-mean", True)
    assert fused.name == "profile-mean+text" and [p.leaf for p in fused.parts] == ["profile-mean", "text-dense"]
    assert "patent2item" not in _method("popularity", False).directions


# --------------------------------------------------------------------------------------------- evaluation
def test_contract_shape_and_misses(ds, splits):
    res = evaluate_new_product(ds, splits, parse_method("profile-bm25"), CFG)
    assert set(res) == {"item2patent", "patent2item"}
    r = res["item2patent"]
    assert set(r) >= {"method", "alpha", "metrics", "run", "qrels", "doc_ids", "pool"}
    assert r["doc_ids"] == ["P1", "P2", "P3", "P4"]
    pool = r["pool"]
    assert pool["queries"] == 3 and pool["documents"] == 4
    assert pool["links_outside_pool"] == 1 and pool["patents_outside_pool"] == 1
    assert {"empty_queries", "empty_documents"} <= set(pool)
    # the link to P5 stays in the qrels (a miss), P5 never appears in a run
    assert r["qrels"]["t3"] == {"P4": 1, "P5": 1}
    assert all("P5" not in docs for docs in r["run"].values())
    m = r["metrics"]
    assert {"mrr", "map", "ndcg@10", "recall@10", "recall@100", "roc_auc", "pr_auc", "ci95"} <= set(m)
    # every test product finds its representable patent first; t3's P5 is unreachable → recall@10 = (1+1+½)/3
    assert m["mrr"] == pytest.approx(1.0)
    assert m["recall@10"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["recall@100"] == pytest.approx((1 + 1 + 0.5) / 3)

    p = res["patent2item"]
    assert p["doc_ids"] == ["t1", "t2", "t3"]
    assert p["pool"]["queries"] == 4 and p["pool"]["empty_queries"] == 1  # P5: no profile
    assert p["run"]["P5"] == {}
    assert _ranking(p["run"]["P1"])[0] == "t1" and _ranking(p["run"]["P4"])[0] == "t3"
    # P5's query scores 0: MRR is at most 3/4
    assert p["metrics"]["mrr"] <= 0.75 + 1e-9


def test_popularity_skips_patent2item_and_metrics_known(ds, splits):
    res = evaluate_new_product(ds, splits, parse_method("popularity"), CFG)
    assert set(res) == {"item2patent"}
    # ranking P2, P1, P3, P4 for everyone: t1→P1 at rank 2, t2→P3 at 3, t3→P4 at 4 (P5 missed)
    assert res["item2patent"]["metrics"]["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_hybrid_and_knn_tuned_on_val_only(ds, splits, monkeypatch):
    seen = []

    def spy(cls):
        orig = cls.fit

        def fit(self, validation):
            seen.append(set(validation.queries))
            return orig(self, validation)

        monkeypatch.setattr(cls, "fit", fit)

    spy(ProfileLeaf)
    spy(Fusion)
    res = evaluate_new_product(ds, splits, parse_method("hybrid"), CFG)
    assert seen and all(q <= {"v1", "v2", "P1", "P3"} for q in seen)  # validation queries only
    r = res["item2patent"]
    assert r["alpha"] is not None and 0.0 <= r["alpha"] <= 1.0
    assert r["method"].startswith("hybrid[convex")
    knn = evaluate_new_product(ds, splits, parse_method("knn"), CFG)["item2patent"]
    assert knn["params"]["knn"]["k"] in ProfileConfig().knn_k_grid


def test_leaky_split_rejected(ds, splits):
    bad = dict(splits, test=splits["test"] + [("s1", "P4")])
    with pytest.raises(ValueError, match="not a new-product split"):
        evaluate_new_product(ds, bad, parse_method("popularity"), CFG)
    with pytest.raises(ValueError, match="training links"):
        new_product_pool(ds, [], splits["test"])


def test_fit_sets_alpha(ds, splits):
    pr = PatentProfiles(ds, splits["train"])
    spec = _method("hybrid")
    # untuned, the profile hybrid uses the hybrid's untuned weights (not tuned on validation)
    assert not spec.tuned_on_validation and spec.alpha == HYBRID_UNTUNED_WEIGHTS[0]
    val_q = ds.item_texts(["v1", "v2"])
    fitted = _fit(spec, ds, pr, val_q, ds.qrels(splits["val"], "item2patent"))
    assert fitted.tuned_on_validation and fitted.alpha is not None and 0.0 <= fitted.alpha <= 1.0
    assert not spec.tuned_on_validation   # fit returns a tuned copy


def test_knn_linker_tuning_encodes_the_validation_queries_once(ds, splits):
    """k is tuned over a grid on validation: the linker's query embeddings are computed once, not per k."""
    pr = PatentProfiles(ds, splits["train"])

    class CountingLinker:   # stands in for a trained Linker (item encoder = the backbone here)
        calls = 0

        def encode_items(self, texts):
            CountingLinker.calls += 1
            return pr.embed(texts)

        def encode_patent_sets(self, sets):   # a known product alone: its backbone embedding
            return pr.embed([" ".join(x) for x in sets])

    pr._cache[("linker", "runs/x")] = CountingLinker()
    val_q = ds.item_texts(["v1", "v2"])
    qrels = ds.qrels(splits["val"], "item2patent")
    spec = _fit(_method("knn-linker:runs/x"), ds, pr, val_q, qrels)
    assert len(pr.cfg.knn_k_grid) > 1 and CountingLinker.calls == 1
    knn = _fit(_method("knn"), ds, pr, val_q, qrels)
    assert spec.param == ("runs/x", knn.param)   # same embeddings, same formula: same k as the backbone's knn
    a = _run_fitted(spec, pr, val_q)
    b = _run_fitted(knn, pr, val_q)
    assert a == b and CountingLinker.calls == 1
    pr.query_emb("knn-linker", ["another query"], ("runs/x", 3))
    assert CountingLinker.calls == 2

# --------------------------------------------------------------------------------------------- link
def test_link_new_product_evidence(ds):
    res = link(ds, parse_method("profile-bm25"), "handheld bluetooth barcode scanner", top_k=3)
    assert list(res) == ["query"]
    hits = res["query"]
    assert 1 <= len(hits) <= 3 and all(isinstance(h, Candidate) for h in hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].id == "P1"
    # ALL links are known: P1's products are s1, s2, v1 and t1 (names, most similar first)
    assert set(hits[0].evidence) == {"name-s1", "name-s2", "name-v1", "name-t1"}
    p2 = next(h for h in hits if h.id == "P2")
    assert p2.evidence[0] == "name-s1"  # the scanner supports P2 best, not the printers
    assert set(p2.evidence) == {"name-s1", "name-pr1", "name-pr2"}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValueError, match="empty"):
        link(ds, parse_method("profile-bm25"), "  ", top_k=3)


def test_link_new_product_hybrid_gas(ds):
    hits = link(ds, parse_method("hybrid"), "portable detector for toxic gas", top_k=2)["query"]
    assert hits[0].id == "P4"
    assert hits[0].evidence[0] == "name-g1"


# --------------------------------------------------------------------------------------------- real data
def test_honeywell_new_product_pool():
    from patlink.data import load_dataset
    from patlink.graph import new_product_split

    real = load_dataset("honeywell-vpm")
    s = new_product_split(real, seed=0)
    pr = new_product_pool(real, s.train, s.test)
    held = {i for i, _ in s.test} | {i for i, _ in s.val}
    # no held-out product is in any profile
    assert not held & set(pr.items)
    a = pr.link_matrix
    profile_items = {pr.items[j] for j in a.indices}
    assert not held & profile_items
    assert set(pr.items) == {i for i, _ in s.train}
    # the pool is exactly the patents with a training product (no patent text offline)
    if not pr.has_text:
        assert pr.patent_ids == sorted({p for _, p in s.train})
    assert (pr.degree > 0).all()
    outside = [(i, p) for i, p in s.test if p not in set(pr.patent_ids)]
    assert len(outside) == s.info["unseen_patent_links"]["test"]
    res = evaluate_new_product(real, {"train": s.train, "val": s.val, "test": s.test}, parse_method("popularity"),
                               LinkageEvalConfig(pool="all", n_bootstrap=0, directions=("item2patent",)))
    pool = res["item2patent"]["pool"]
    assert pool["documents"] == len(pr.patent_ids) and pool["links_outside_pool"] == len(outside)
    assert pool["queries"] == len({i for i, _ in s.test})
