"""ANN layer (patlink.retrieval.ann): exact search against numpy, each FAISS kind's recall, persistence,
incremental growth, memory-mapped input and the automatic choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from patlink.retrieval.ann import (
    ANN_KINDS,
    EXACT_MAX,
    AnnConfig,
    AnnIndex,
    ann_threads,
    build_ann,
    choose_ann,
    exact_search,
)

APPROX = [k for k in ANN_KINDS if k != "exact"]


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered():
    """3,000 base + 1,000 extra vectors of d = 32 around 30 centres, and 100 queries near base rows."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((30, 32))
    x = _unit(centres[rng.integers(0, 30, 4000)] + 0.35 * rng.standard_normal((4000, 32)))
    q = _unit(x[rng.choice(3000, 100, replace=False)] + 0.1 * rng.standard_normal((100, 32)))
    return x[:3000], x[3000:], q


def _brute(x: np.ndarray, q: np.ndarray, k: int):
    s = q @ x.T
    ids = np.stack([np.lexsort((np.arange(x.shape[0]), -row))[:k] for row in s])
    return np.take_along_axis(s, ids, 1), ids


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth)]))


# ---------------------------------------------------------------------------------------------- exact search

@pytest.mark.parametrize("chunk", [1, 7, 64, 262_144])
def test_exact_search_equals_numpy_brute_force_with_ties(chunk):
    rng = np.random.default_rng(chunk)
    x = rng.integers(-1, 2, (300, 6)).astype(np.float32)    # few distinct scores: ties everywhere
    q = rng.integers(-1, 2, (9, 6)).astype(np.float32)
    scores, ids = exact_search(x, q, 50, chunk=chunk)
    bs, bi = _brute(x, q, 50)
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (9, 50)
    np.testing.assert_array_equal(ids, bi)
    np.testing.assert_allclose(scores, bs, rtol=0, atol=1e-6)


def test_exact_search_pads_when_k_exceeds_n():
    rng = np.random.default_rng(1)
    x, q = _unit(rng.standard_normal((5, 8))), _unit(rng.standard_normal((3, 8)))
    scores, ids = exact_search(x, q, 8, chunk=2)
    bs, bi = _brute(x, q, 5)
    np.testing.assert_array_equal(ids[:, :5], bi)
    assert (ids[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()
    np.testing.assert_allclose(scores[:, :5], bs, atol=1e-6)


def test_exact_search_on_memmap(tmp_path, clustered):
    x, _, q = clustered
    np.save(tmp_path / "v.npy", x)
    mm = np.load(tmp_path / "v.npy", mmap_mode="r")
    s1, i1 = exact_search(mm, q, 20, chunk=500)
    s2, i2 = _brute(x, q, 20)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


def test_exact_search_rejects_bad_shapes():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="dimension"):
        exact_search(x, np.zeros((1, 2), np.float32), 1)
    with pytest.raises(ValueError, match="k >= 1"):
        exact_search(x, np.zeros((1, 3), np.float32), 0)


# ---------------------------------------------------------------------------------------------- ANN kinds

@pytest.fixture(scope="module")
def built(clustered):
    x, _, _ = clustered
    return {kind: build_ann(x, choose_ann(len(x), x.shape[1], kind), seed=0) for kind in APPROX}


@pytest.mark.parametrize("kind", APPROX)
def test_each_kind_reaches_high_recall_on_clustered_data(kind, built, clustered):
    x, _, q = clustered
    index = built[kind]
    assert index.ntotal == len(x) and index.config.kind == kind
    scores, ids = index.search(q, 10)
    _, truth = _brute(x, q, 10)
    assert _recall(ids, truth) >= 0.9
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 1e-6).all()          # best first
    if kind in ("hnsw", "ivf-flat") or index.config.params.get("refine"):
        np.testing.assert_allclose(scores, np.take_along_axis(q @ x.T, ids, 1), atol=1e-5)


@pytest.mark.parametrize("kind", APPROX)
def test_save_load_round_trip_gives_identical_results(kind, built, clustered, tmp_path):
    _, _, q = clustered
    index = built[kind]
    path = tmp_path / "sub" / "ann.faiss"
    index.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["ann.faiss"]     # no temporary left behind
    s0, i0 = index.search(q, 10)
    cfg = AnnConfig.from_dict(json.loads(json.dumps(index.config.to_dict())))
    for mmap in (False, True):
        loaded = AnnIndex.load(path, cfg, mmap=mmap)
        s1, i1 = loaded.search(q, 10)
        np.testing.assert_array_equal(i1, i0)
        np.testing.assert_array_equal(s1, s0)


def test_rescore_gives_exact_scores_for_quantized_kinds(built, clustered, tmp_path):
    x, _, q = clustered
    np.save(tmp_path / "v.npy", x)
    mm = np.load(tmp_path / "v.npy", mmap_mode="r")
    index = built["ivf-sq8"]
    approx, ids = index.search(q, 10)
    exact, ids2 = index.search(q, 10, rescore=mm)
    np.testing.assert_array_equal(np.sort(ids, 1), np.sort(ids2, 1))                 # same rows, re-sorted
    np.testing.assert_allclose(exact, np.take_along_axis(q @ x.T, ids2, 1), atol=1e-5)
    assert (np.diff(exact, axis=1) <= 0).all()
    assert not np.allclose(approx, np.take_along_axis(q @ x.T, ids, 1), atol=1e-5)   # SQ8 scores are estimates
    with pytest.raises(ValueError, match="rows"):
        index.search(q, 10, rescore=x[:10])


def test_load_checks_kind_and_file(built, tmp_path):
    built["ivf-flat"].save(tmp_path / "a.faiss")
    with pytest.raises(ValueError, match="holds a 'ivf-flat' index"):
        AnnIndex.load(tmp_path / "a.faiss", AnnConfig("hnsw"))
    with pytest.raises(FileNotFoundError):
        AnnIndex.load(tmp_path / "missing.faiss", AnnConfig("hnsw"))


@pytest.mark.parametrize("kind", APPROX)
def test_add_then_search_finds_the_new_rows(kind, clustered):
    x, extra, _ = clustered
    index = build_ann(x[:2000], choose_ann(2000, x.shape[1], kind), seed=0)
    index.add(extra)
    assert index.ntotal == 2000 + len(extra)
    _, ids = index.search(extra, 10)
    # each new row is its own nearest neighbour, found under its appended row number
    assert np.mean(ids[:, 0] == np.arange(2000, 2000 + len(extra))) >= 0.95


def test_memmap_input_builds_the_same_index(clustered, tmp_path):
    x, _, q = clustered
    np.save(tmp_path / "v.npy", x)
    mm = np.load(tmp_path / "v.npy", mmap_mode="r")
    cfg = choose_ann(len(x), x.shape[1], "ivf-pq")
    a, b = build_ann(mm, cfg, seed=3), build_ann(x, cfg, seed=3)
    sa, ia = a.search(q, 10)
    sb, ib = b.search(q, 10)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(sa, sb)


def test_fewer_results_than_k_are_padded(clustered):
    x, _, q = clustered
    index = build_ann(x[:50], AnnConfig("hnsw"), seed=0)
    scores, ids = index.search(q[:2], 80)
    assert (ids[:, 50:] == -1).all() and np.isneginf(scores[:, 50:]).all()
    assert sorted(ids[0, :50]) == list(range(50))


def test_set_search_params_changes_the_search_and_the_config(clustered):
    x, _, q = clustered
    index = build_ann(x, choose_ann(len(x), x.shape[1], "ivf-flat"), seed=0)
    _, truth = _brute(x, q, 10)
    index.set_search_params(nprobe=1)
    low = _recall(index.search(q, 10)[1], truth)
    index.set_search_params(nprobe=index.config.params["nlist"])
    assert _recall(index.search(q, 10)[1], truth) == 1.0 > low
    assert index.config.params["nprobe"] == index.config.params["nlist"]
    with pytest.raises(ValueError, match="no search parameter ef_search"):
        index.set_search_params(ef_search=10)
    with pytest.raises(ValueError, match="built with refine"):
        index.set_search_params(refine=4)


def test_build_rejects_bad_input(clustered):
    x, _, _ = clustered
    assert build_ann(x, AnnConfig("exact")) is None
    with pytest.raises(ValueError, match="L2-normalised"):
        build_ann(x * 2, AnnConfig("ivf-flat", {"nlist": 8}))
    with pytest.raises(ValueError, match="needs at least 64 training vectors"):
        build_ann(x[:40], AnnConfig("ivf-flat", {"nlist": 64}))
    with pytest.raises(ValueError, match="m dividing d"):
        build_ann(x, AnnConfig("ivf-pq", {"nlist": 8, "m": 5}))


# ---------------------------------------------------------------------------------------------- choosing

def test_choose_ann_boundaries_and_scaling():
    assert choose_ann(0, 384).kind == "exact"
    assert choose_ann(EXACT_MAX, 384) == AnnConfig("exact")
    big = choose_ann(EXACT_MAX + 1, 384)
    assert big.kind == "ivf-sq8" and big.params == {"nlist": 1789, "nprobe": 32}
    assert choose_ann(12_000_000, 384).params["nlist"] == 4096                       # capped
    assert choose_ann(1_000_000, 384, "exact") == AnnConfig("exact")
    small, large = choose_ann(100_000, 384, "ivf-flat"), choose_ann(1_000_000, 384, "ivf-flat")
    assert small.params["nlist"] == 1265 and large.params["nlist"] == 4000          # ~4·sqrt(n)
    assert choose_ann(10_000, 384, "ivf-flat").params["nlist"] == 256                 # >= 39 points per cell
    assert 1 <= small.params["nprobe"] <= small.params["nlist"]
    pq = choose_ann(1_000_000, 384, "ivf-pq")
    assert 384 % pq.params["m"] == 0 and pq.params["nbits"] == 8
    assert choose_ann(100, 384, "ivf-sq8").params == {"nlist": 2, "nprobe": 2}


def test_unknown_kind_and_params_are_rejected():
    with pytest.raises(ValueError, match="hnsw, ivf-flat"):
        choose_ann(10, 4, "annoy")
    with pytest.raises(ValueError, match="unknown ANN kind 'annoy'"):
        AnnConfig("annoy")
    with pytest.raises(ValueError, match="takes no parameter nprobe"):
        AnnConfig("hnsw", {"nprobe": 3})
    with pytest.raises(ValueError, match="'kind'"):
        AnnConfig.from_dict({"params": {}})
    cfg = AnnConfig("ivf-pq", {"nlist": 10, "m": 4})
    assert AnnConfig.from_dict(cfg.to_dict()) == cfg


def test_threads_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("PATLINK_THREADS", raising=False)
    assert ann_threads() is None
    monkeypatch.setenv("PATLINK_THREADS", "1")
    assert ann_threads() == 1
    monkeypatch.setenv("PATLINK_THREADS", "two")
    with pytest.raises(ValueError, match="PATLINK_THREADS"):
        ann_threads()
