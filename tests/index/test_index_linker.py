"""A trained linker in a saved index: its document-side encoder's embeddings are stored, its query-side encoder
embeds the queries; both directions rank as the in-memory method does (fixture data, NOT real data)."""

from __future__ import annotations

import numpy as np
import pytest

from patlink.index import CorpusIndex, build_index
from patlink.methods import BM25, Fusion, LinkerMethod


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from patlink.data.dataset import Dataset
    from patlink.training.config import EncoderConfig, TrainConfig, ValidationConfig
    from patlink.training.trainer import train_linker

    topics = ["barcode scanner", "gas turbine", "thermostat", "smoke detector", "lithium battery", "solar cell",
              "hearing aid", "brake pad", "wind blade", "water filter", "printer head", "face mask"]
    items = {f"i{k}": {"text": f"a product: {t} model {k}"} for k, t in enumerate(topics)}
    patents = {f"p{k}": {"title": f"an invention about a {t}"} for k, t in enumerate(topics)}
    links = [(f"i{k}", f"p{k}") for k in range(len(topics))]
    ds = Dataset(name="fixture", items=items, patents=patents, links=links, patent_view=("title",))
    out = tmp_path_factory.mktemp("linker")
    cfg = TrainConfig(encoder=EncoderConfig(hidden=32, out_dim=16, n_heads=2, max_length=16), epochs=1,
                      batch_size=4, progress=False, validation=ValidationConfig(full_metrics=False))
    train_linker(ds, {"train": links[:9], "val": links[9:], "test": []}, cfg, out)   # bundled MiniLM tokens
    return ds, out


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["item2patent", "patent2item"])
def test_linker_index_ranks_as_in_memory(run, tmp_path, direction):
    ds, out = run
    docs = ds.patent_texts() if direction == "item2patent" else ds.item_texts()
    queries = dict(list((ds.item_texts() if direction == "item2patent" else ds.patent_texts()).items())[:6])
    method = Fusion([LinkerMethod(out), BM25()], weights=[0.7, 0.3])
    idx = build_index(docs, method, tmp_path / "idx", direction=direction, show_progress=False)
    assert [p["kind"] for p in idx.manifest.parts] == ["linker", "bm25"]
    ref = method.for_direction(direction)
    ref.index(docs)
    want, got = ref.search(queries, 5), CorpusIndex.open(tmp_path / "idx").search(queries, 5)
    for q in queries:
        assert list(want[q]) == list(got[q])
        assert np.allclose(list(want[q].values()), list(got[q].values()), atol=1e-6)
