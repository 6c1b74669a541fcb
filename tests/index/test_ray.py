"""Embedding on Ray Data (patlink.index.ray_embed.ray_encode): two actors on a local Ray give the single-process
vectors of encode_texts and the same exact top-10 rankings on real pap2pat texts; an interrupted or changed run
recomputes only the shards that are missing or describe other texts/settings; clear errors without Ray or without
a reachable cluster.

Ray is started once for the module (two CPUs); one test starts and stops its own. max_length=128 (not the model's
default 256) so that a max_length that did not reach the actors would show as different vectors.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import sys

import numpy as np
import pytest

from patlink.index.ray_embed import RayNotInstalledError, ray_encode, shard_paths, texts_sha1

HAVE_RAY = importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason='ray[data] is not installed (pip install "patlink[ray]")')

L = 128        # tokens per text in every call of this module
SHARD = 40     # 330 texts -> 8 shards of 40 and one of 10
BOUNDS = [(s, min(s + SHARD, 330)) for s in range(0, 330, SHARD)]


def test_without_ray_the_error_is_an_import_error_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    with pytest.raises(RayNotInstalledError, match=r'pip install "patlink\[ray\]"') as info:
        ray_encode(["a text"], shard_dir=tmp_path)
    assert isinstance(info.value, ImportError)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs, word", [({"workers": 0}, "workers"), ({"shard_size": 0}, "shard_size"),
                                          ({"device": "tpu"}, "device"), ({"device": "cuda:1"}, "device"),
                                          ({"cpus_per_worker": 0}, "cpus_per_worker")])
def test_bad_arguments_are_one_value_error(tmp_path, kwargs, word):
    with pytest.raises(ValueError, match=word):
        ray_encode(["a text"], shard_dir=tmp_path, **kwargs)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_ray
@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_an_unreachable_cluster_is_a_value_error_naming_the_address(tmp_path, scheme):
    import ray

    assert not ray.is_initialized(), "this test must run before the module's Ray is started"
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    with pytest.raises(ValueError, match=f"cannot connect to the Ray cluster at '{address}'"):
        ray_encode(["a text"], address=address, shard_dir=tmp_path, show_progress=False)
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def corpus():
    """300 pap2pat patent texts (title + abstract) then 30 paper texts used as queries."""
    from patlink.data.registry import load_dataset

    ds = load_dataset("pap2pat")
    patents = [t for _, t in sorted(ds.patent_texts().items()) if t.strip()][:300]
    papers = [t for _, t in sorted(ds.item_texts().items()) if t.strip()][:30]
    assert len(patents) == 300 and len(papers) == 30
    return patents + papers


@pytest.fixture(scope="module")
def reference(corpus):
    from patlink.retrieval.embed import encode_texts

    return encode_texts(corpus, "minilm", max_length=L, cache=False, show_progress=False)


@needs_ray
@pytest.mark.slow
def test_a_call_without_address_starts_a_local_ray_and_shuts_it_down(tmp_path, corpus, reference):
    import ray

    assert not ray.is_initialized()
    got = ray_encode(corpus[:12], max_length=L, workers=1, device="auto", shard_dir=tmp_path, shard_size=5,
                     show_progress=False)
    assert not ray.is_initialized()
    assert got.shape == (12, reference.shape[1]) and got.dtype == np.float32
    assert np.allclose(got, reference[:12], atol=1e-5)
    assert sorted(p.name for p in tmp_path.glob("shard-*.npy")) == [f"shard-{k:05d}.npy" for k in range(3)]


@pytest.fixture(scope="module")
def local_ray():
    if not HAVE_RAY:
        pytest.skip('ray[data] is not installed (pip install "patlink[ray]")')
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory, local_ray, corpus):
    path = tmp_path_factory.mktemp("ray-shards")
    vecs = ray_encode(corpus, "minilm", max_length=L, workers=2, shard_dir=path, shard_size=SHARD,
                      show_progress=False)
    return path, vecs


@pytest.mark.slow
def test_two_workers_give_the_single_process_vectors_and_rankings(shard_dir, reference, corpus):
    path, vecs = shard_dir
    assert vecs.shape == reference.shape == (330, 384) and vecs.dtype == np.float32
    assert np.allclose(vecs, reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # the exact top-10 patents of each of the 30 paper queries, by inner product, over either set of vectors
    top = [np.argsort(-(v[300:] @ v[:300].T), axis=1, kind="stable")[:, :10] for v in (vecs, reference)]
    assert (top[0] == top[1]).all()
    # the shards: consecutive texts, each with a sidecar describing them
    assert len(BOUNDS) == 9
    for k, (s, e) in enumerate(BOUNDS):
        npy, side = shard_paths(path, k)
        meta = json.loads(side.read_text())
        assert (meta["n"], meta["max_length"], meta["normalize"], meta["dim"]) == (e - s, L, True, 384)
        assert meta["texts_sha1"] == texts_sha1(corpus[s:e])
        assert np.array_equal(np.load(npy), vecs[s:e])
    assert not shard_paths(path, len(BOUNDS))[0].exists()


@pytest.mark.slow
def test_resume_recomputes_only_missing_and_stale_shards(shard_dir, reference, corpus):
    path, _ = shard_dir

    def stamp(k):
        st = shard_paths(path, k)[0].stat()
        return st.st_ino, st.st_mtime_ns

    last = len(BOUNDS) - 1
    before = {k: stamp(k) for k in range(len(BOUNDS))}
    for p in shard_paths(path, 1):                       # interrupted: shard 1 never written
        p.unlink()
    for src, dst in zip(shard_paths(path, 0), shard_paths(path, 2)):  # shard 2 holds the vectors of other texts
        shutil.copyfile(src, dst)
    side = shard_paths(path, last)[1]                    # the last shard was made with another max_length
    side.write_text(json.dumps({**json.loads(side.read_text()), "max_length": 256}))
    before.update({2: stamp(2), last: stamp(last)})

    vecs = ray_encode(corpus, "minilm", max_length=L, workers=2, shard_dir=path, shard_size=SHARD,
                      show_progress=False)
    assert np.allclose(vecs, reference, atol=1e-5)       # the stale shard 2 (vectors of texts 0-39) was not used
    redone = {k for k in before if stamp(k) != before[k]}
    assert redone == {1, 2, last}                         # missing or stale: recomputed; the valid ones not rewritten
    s, e = BOUNDS[2]
    assert json.loads(shard_paths(path, 2)[1].read_text())["texts_sha1"] == texts_sha1(corpus[s:e])
    assert json.loads(side.read_text())["max_length"] == L


@pytest.mark.slow
def test_a_model_the_workers_cannot_load_is_one_value_error(local_ray, tmp_path):
    with pytest.raises(ValueError, match=r"cannot load text model '/nonexistent/model'.*on a Ray worker"):
        ray_encode(["a text"], "/nonexistent/model", workers=1, shard_dir=tmp_path, show_progress=False)
    assert not list(tmp_path.glob("shard-*"))
    assert local_ray.is_initialized()                    # the caller's Ray is left running
