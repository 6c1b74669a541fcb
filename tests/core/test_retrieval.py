"""BM25, fusion and the dense retriever on small fixtures (dense uses the bundled offline MiniLM)."""

import pytest

from patlink.retrieval.bm25 import BM25Retriever
from patlink.retrieval.fusion import fuse, tune_convex_weight

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
