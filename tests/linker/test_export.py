"""Export of a trained linker to sentence-transformers: the exported folder reproduces patlink's embeddings and
scores on real bundled texts (pap2pat), with the query route = item encoder and the document route = patent
encoder, windows included; clear errors for folders that are not linkers and for unsupported formats."""

import json

import numpy as np
import pytest
import torch

from patlink.models.config import EncoderConfig
from patlink.models.linker import Linker, record_fusion
from patlink.models.token_cache import TokenEmbeddingStore

pytestmark = pytest.mark.slow   # loads the bundled MiniLM (offline)

N_TEXTS = 12


@pytest.fixture(scope="module")
def pap2pat():
    from patlink.data import load_dataset

    return load_dataset("pap2pat")


def _texts(ds, patent_view=None):
    items = [t for t in ds.item_texts().values() if t.strip()][:N_TEXTS]
    patents = [t for t in ds.patent_texts(view=patent_view).values() if t.strip()][:N_TEXTS]
    return items, patents


def _run(tmp_path, max_length: int, max_chunks: int, patent_view: str) -> tuple:
    """A run folder ``run/best`` holding a randomly initialised linker over the bundled MiniLM (not trained: the
    round trip is about reproducing the function, whatever its weights)."""
    torch.manual_seed(0)
    cfg = EncoderConfig(backbone="minilm", max_length=max_length, max_chunks=max_chunks, hidden=64, out_dim=32,
                        n_heads=4, n_queries=2, init="random")
    Linker(cfg, 384, temperature=0.07, item_view="title,abstract", patent_view=patent_view).save(tmp_path / "run" / "best")
    store = TokenEmbeddingStore("minilm", max_length, tmp_path / "cache", show_progress=False, max_chunks=max_chunks)
    return tmp_path / "run", store


def _load(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), trust_remote_code=True)


def test_cli_export_reproduces_linker_scores(tmp_path, pap2pat, capsys):
    from patlink.cli.main import main

    run, store = _run(tmp_path, max_length=128, max_chunks=1, patent_view="title,abstract")
    record_fusion(run, {"alpha": 0.4, "alpha_item2patent": 0.6, "alpha_patent2item": 0.3})
    assert main(["export", str(run), "--format", "sentence-transformers", "--out", str(tmp_path / "st")]) == 0
    assert "query = items" in capsys.readouterr().out
    items, patents = _texts(pap2pat)
    linker = Linker.load(run, store=store)
    ref_q, ref_d = linker.encode_items(items), linker.encode_patents(patents)

    st = _load(tmp_path / "st")
    q, d = st.encode_query(items), st.encode_document(patents)
    assert q.shape == ref_q.shape == (N_TEXTS, 32)
    np.testing.assert_allclose(q, ref_q, atol=1e-5, rtol=0)
    np.testing.assert_allclose(d, ref_d, atol=1e-5, rtol=0)
    np.testing.assert_allclose(st.similarity(q, d).numpy(), ref_q @ ref_d.T, atol=1e-5, rtol=0)
    assert not np.allclose(q, st.encode_document(items), atol=1e-3)   # two encoders, two routes
    # task aliases and the default route
    np.testing.assert_allclose(st.encode(items[:3], task="item"), q[:3], atol=1e-6, rtol=0)
    np.testing.assert_allclose(st.encode(patents[:3], task="patent"), d[:3], atol=1e-6, rtol=0)
    np.testing.assert_allclose(st.encode(patents[:3]), d[:3], atol=1e-6, rtol=0)
    # the float16 rounding of the token cache is what makes the round trip hold to 1e-5
    for route in ("query", "document"):
        st[0].sub_modules[route][1].token_dtype = "float32"
    assert np.abs(st.encode_query(items) - ref_q).max() > 1e-5
    # the folder describes the linker
    meta = json.loads((tmp_path / "st" / "patlink_linker.json").read_text())
    assert meta["routes"] == {"query": "item", "document": "patent"}
    assert meta["source"] == str(run) and meta["format"] == "patlink-sentence-transformers/1"
    assert meta["linker"]["backbone"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["linker"]["patent_view"] == ["title", "abstract"]
    assert meta["linker"]["fusion"]["alpha_item2patent"] == 0.6
    cfg = json.loads((tmp_path / "st" / "config_sentence_transformers.json").read_text())
    assert cfg["similarity_fn_name"] == "cosine"


def test_export_with_windows_reproduces_linker(tmp_path, pap2pat):
    from patlink.data.chunking import backbone_chunks
    from patlink.models.export import export_sentence_transformers

    run, store = _run(tmp_path, max_length=48, max_chunks=3, patent_view="claims")
    out = export_sentence_transformers(run / "best", tmp_path / "st")
    items, patents = _texts(pap2pat, patent_view="claims")
    st = _load(out)
    tokens = st[0].sub_modules["document"][0]
    assert tokens.max_chunks == 3 and tokens.max_seq_length == 48
    windows = [tokens.windows(t) for t in patents]
    assert windows == [backbone_chunks(t, "minilm", 48, 3) for t in patents]
    assert max(len(w) for w in windows) == 3                 # claims are longer than one window
    linker = Linker.load(run, store=store)
    ref_q, ref_d = linker.encode_items(items), linker.encode_patents(patents)
    q, d = st.encode_query(items), st.encode_document(patents)
    np.testing.assert_allclose(q, ref_q, atol=1e-5, rtol=0)
    np.testing.assert_allclose(d, ref_d, atol=1e-5, rtol=0)
    np.testing.assert_allclose(q @ d.T, ref_q @ ref_d.T, atol=1e-5, rtol=0)


def test_export_errors_and_replacement(tmp_path):
    from patlink.cli.main import main
    from patlink.models.export import export_sentence_transformers

    with pytest.raises(ValueError, match="not a trained linker"):
        export_sentence_transformers(tmp_path, tmp_path / "out")
    run, _ = _run(tmp_path, max_length=32, max_chunks=1, patent_view="title")
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not an earlier patlink export"):
        export_sentence_transformers(run, busy)
    assert (busy / "notes.txt").read_text() == "keep me"
    out = export_sentence_transformers(run, tmp_path / "st")
    (out / "stale.txt").write_text("from an earlier export")
    export_sentence_transformers(run, out)                   # an earlier export is replaced as a whole
    assert not (out / "stale.txt").exists() and (out / "modules.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary folder left behind
