"""`patlink index --engine ray`: the index folder gathers the Ray shards, and the Ray-built index ranks as the
single-process one (real pap2pat texts)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray path needs `pip install patlink[ray]`")


@pytest.mark.slow
def test_ray_built_index_equals_the_single_process_one(tmp_path):
    from patlink.data.registry import load_dataset
    from patlink.index import CorpusIndex, build_index
    from patlink.methods import Hybrid

    ds = load_dataset("pap2pat")
    docs = {k: v for k, v in list(ds.patent_texts().items())[:300] if v.strip()}
    queries = dict(list(ds.item_texts().items())[:20])
    local = build_index(docs, Hybrid(), tmp_path / "local", show_progress=False)
    ray = build_index(docs, Hybrid(), tmp_path / "ray", engine="ray", workers=2, cache=False, show_progress=False)
    a = np.load(tmp_path / "local" / local.manifest.parts[1]["folder"] / "vectors.npy")
    b = np.load(tmp_path / "ray" / ray.manifest.parts[1]["folder"] / "vectors.npy")
    assert a.shape == b.shape == (len(docs), 384) and np.abs(a - b).max() < 1e-5
    assert not (tmp_path / "ray" / "build").exists()          # shards gathered, work folder removed
    want, got = local.search(queries, 10), CorpusIndex.open(tmp_path / "ray").search(queries, 10)
    assert all(list(want[q]) == list(got[q]) for q in queries)
