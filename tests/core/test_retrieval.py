"""BM25, fusion and the dense retriever on small fixtures (dense uses the bundled offline MiniLM)."""

import pytest

from patlink.retrieval.bm25 import BM25Retriever
from patlink.methods import Fusion, Method, Validation
from patlink.retrieval.fusion import fuse, simplex_grid, tune_convex_weight, tune_convex_weights

DOCS = {"d1": "a handheld barcode scanner with bluetooth", "d2": "a gas turbine engine blade cooling",
        "d3": "thermostat controlling a heating system", "d4": "lithium battery cathode coating"}


def test_bm25_ranks_the_lexical_match_first():
    r = BM25Retriever()
    r.index(DOCS)
    run = r.search({"q1": "barcode scanners", "q2": "turbine blades", "q3": "the"}, top_k=2)
    assert next(iter(run["q1"])) == "d1"
    assert next(iter(run["q2"])) == "d2"
    assert run["q3"] == {}  # stop words only
    qids, dids, s = r.score_matrix({"q1": "barcode scanners"})
    assert s.shape == (1, 4) and s[0].argmax() == 0


def test_bm25_stems_english():
    """Snowball stemming is on by default (PyStemmer is a dependency): plural and -ing forms match."""
    from patlink.retrieval.bm25 import BM25Config

    r = BM25Retriever()
    r.index(DOCS)
    assert next(iter(r.search({"q": "turbines cooled"}, top_k=1)["q"])) == "d2"
    assert next(iter(r.search({"q": "controls heated"}, top_k=1)["q"])) == "d3"
    plain = BM25Retriever(config=BM25Config(stem=False))
    plain.index(DOCS)
    assert not any(plain.search({"q": "turbines cooled"}, top_k=4)["q"].values())  # no term matches unstemmed


def test_rrf_fusion_by_hand():
    a = {"q": {"x": 3.0, "y": 2.0, "z": 1.0}}
    b = {"q": {"y": 9.0, "z": 8.0, "x": 7.0}}
    fused = fuse([a, b], "rrf", rrf_k=60)
    # x: 1/61 + 1/63, y: 1/62 + 1/61, z: 1/63 + 1/62
    assert fused["q"]["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert max(fused["q"], key=fused["q"].get) == "y"


def test_convex_fusion_and_tuning():
    # min-max normalised: at α = 0.5, x = 0.5 and y = 0.6 (wrong); α ≥ 0.6 puts the relevant x first
    a = {"q1": {"x": 1.0, "y": 0.2, "z": 0.0}, "q2": {"u": 1.0, "v": 0.2, "w": 0.0}}
    b = {"q1": {"y": 1.0, "z": 0.5, "x": 0.0}, "q2": {"v": 1.0, "w": 0.5, "u": 0.0}}
    qrels = {"q1": {"x": 1}, "q2": {"u": 1}}
    assert tune_convex_weight(a, b, qrels) == pytest.approx(0.6)  # run a is right; smallest winning α
    f = fuse([a, b], "convex", [1.0, 0.0])
    assert max(f["q1"], key=f["q1"].get) == "x"
    with pytest.raises(ValueError):
        fuse([a, b], "max")


def test_simplex_grid():
    g = simplex_grid(3, 0.1)
    assert len(g) == 66 and len(set(g)) == 66  # C(12, 2)
    assert all(len(w) == 3 and min(w) >= 0 and sum(w) == pytest.approx(1) for w in g)
    assert (1.0, 0.0, 0.0) in g and (0.0, 0.0, 1.0) in g and (0.2, 0.3, 0.5) in g
    assert simplex_grid(2, 0.5) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    with pytest.raises(ValueError):
        simplex_grid(3, 0.3)


def test_tune_convex_weights_several_runs():
    a = {"q1": {"x": 1.0, "y": 0.2, "z": 0.0}, "q2": {"u": 1.0, "v": 0.2, "w": 0.0}}
    b = {"q1": {"y": 1.0, "z": 0.5, "x": 0.0}, "q2": {"v": 1.0, "w": 0.5, "u": 0.0}}
    qrels = {"q1": {"x": 1}, "q2": {"u": 1}}
    w2, curve2 = tune_convex_weights([a, b], qrels)
    assert w2 == pytest.approx([0.6, 0.4]) and len(curve2) == 11  # same as tune_convex_weight
    # b twice: x beats y iff 0.8·w_a > w_b + w_c, i.e. w_a >= 0.6; of those, (0.6, 0.2, 0.2) is closest to uniform
    w3, curve3 = tune_convex_weights([a, b, dict(b)], qrels)
    assert w3 == pytest.approx([0.6, 0.2, 0.2])
    assert curve3[(1.0, 0.0, 0.0)] == pytest.approx(1.0) and curve3[(0.0, 0.5, 0.5)] == pytest.approx(1 / 3)


class _Fixed:
    """A retriever stub returning a fixed run."""

    def __init__(self, run):
        self.run, self.name = run, "fixed"

    def index(self, docs):
        self.docs = docs

    def search(self, queries, top_k=100):
        return {q: dict(list(self.run[q].items())[:top_k]) for q in queries}


class _FixedMethod(Method):
    """A method stub returning a fixed run."""

    def __init__(self, run):
        self.run = run

    @property
    def name(self):
        return "fixed"

    def index(self, corpus):
        self.docs = corpus

    def search(self, queries, top_k=100):
        return {q: dict(list(self.run[q].items())[:top_k]) for q in queries}


def test_fusion_of_methods_with_fixed_and_default_weights():
    a = {"q1": {"x": 1.0, "y": 0.2, "z": 0.0}}
    b = {"q1": {"y": 1.0, "z": 0.5, "x": 0.0}}
    fr = Fusion([_FixedMethod(a), _FixedMethod(b), _FixedMethod(b)], weights=[0.6, 0.2, 0.2])
    fr.index({"x": "", "y": "", "z": ""})
    run = fr.search({"q1": "?"}, top_k=2)
    assert list(run["q1"]) == ["x", "y"] and run["q1"]["x"] == pytest.approx(0.6)
    assert Fusion([_FixedMethod(a), _FixedMethod(b)]).weights == [0.5, 0.5]
    assert Fusion([_FixedMethod(a), _FixedMethod(b)], how="rrf").weights is None
    with pytest.raises(ValueError):
        Fusion([_FixedMethod(a)])
    with pytest.raises(ValueError):
        Fusion([_FixedMethod(a), _FixedMethod(b)], weights=[1.0])
    needs = Fusion([_FixedMethod(a), _FixedMethod(b)], untuned="validation")
    needs.index({"x": ""})
    with pytest.raises(ValueError, match="tuned on validation"):
        needs.search({"q1": "?"})


def test_fusion_fit_tunes_weights_on_validation_only():
    """Validation says run b is right (y first): the tuned weight of a is the smallest that puts y first."""
    a = {"q1": {"x": 1.0, "y": 0.5, "z": 0.0}}
    b = {"q1": {"y": 1.0, "z": 0.9, "x": 0.0}}
    f = Fusion([_FixedMethod(a), _FixedMethod(b)])
    val = Validation({"q1": "?"}, {"x": "", "y": "", "z": ""}, {"q1": {"y": 1}})
    tuned = f.fit(val)
    assert tuned is not f and f.tunable and not tuned.tunable and tuned.tuned_on_validation
    assert f.weights == [0.5, 0.5]                       # the original is untouched
    tuned.index({"x": "", "y": "", "z": ""})
    assert next(iter(tuned.search({"q1": "?"})["q1"])) == "y"
    assert f.fit(None) is f                               # nothing to tune on


@pytest.mark.slow
def test_dense_retriever_semantic_match(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    from patlink.retrieval.dense import DenseRetriever

    r = DenseRetriever(show_progress=False)
    r.index(DOCS)
    run = r.search({"q": "device that reads product codes wirelessly"}, top_k=1)
    assert list(run["q"]) == ["d1"]
    # cached: a second retriever finds every vector on disk
    from patlink.retrieval.embed import EmbeddingCache, _sha1

    assert len(EmbeddingCache("minilm", 256).get([_sha1(t) for t in DOCS.values()])) == 4


def test_dense_vectors_from_the_token_cache(tmp_path, monkeypatch):
    """One backbone pass serves the linker and dense: mean of cached token embeddings == MiniLM's sentence vector."""
    import numpy as np

    from patlink.models.token_cache import TokenEmbeddingStore
    from patlink.retrieval.embed import EmbeddingCache, _sha1, embed_from_token_store, encode_texts

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    texts = ["a valve for a pump", "A lithium battery electrode coated with a binder and carbon black. " * 6, ""]
    ref = encode_texts(texts, cache=False, show_progress=False)
    got = embed_from_token_store(texts, "minilm", max_length=256, show_progress=False)
    assert got.shape == ref.shape == (3, 384)
    assert np.all((got * ref).sum(axis=1) > 0.9999) and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    stored = EmbeddingCache("minilm", 256, True).get([_sha1(t) for t in texts])
    assert len(stored) == 3  # written where DenseRetriever looks
    with pytest.raises(ValueError, match="expected"):
        embed_from_token_store(texts, "minilm", max_length=256, store=TokenEmbeddingStore("minilm", max_length=64))
