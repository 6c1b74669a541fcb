"""Windows of long texts for the frozen backbone (patlink.data.chunking) and their use by dense retrieval."""

import numpy as np
import pytest

from patlink.data.chunking import backbone_chunks, chunk_text
from patlink.cli.methods import _windows as split_chunks

LONG = " ".join(f"claim{i % 50} element{i % 7}" for i in range(400))


def test_backbone_chunks_cover_the_text_in_order_without_overlap():
    ws = backbone_chunks(LONG, "minilm", max_length=32, max_chunks=1000)
    assert len(ws) > 5
    # consecutive non-overlapping slices of the original string, in order, covering every word
    assert " ".join(ws).split() == LONG.split()
    from patlink.data.chunking import token_spans

    assert all(len(token_spans(w, "minilm")) <= 30 for w in ws)        # max_length - [CLS] - [SEP]


def test_backbone_chunks_cap_and_degenerate_cases():
    assert backbone_chunks(LONG, "minilm", 32, 1) == [LONG]             # 1 window = plain truncation
    assert len(backbone_chunks(LONG, "minilm", 32, 3)) == 3
    assert backbone_chunks("", "minilm", 32, 4) == [""]                 # every text keeps one window
    assert backbone_chunks("short text", "minilm", 32, 4) == ["short text"]
    with pytest.raises(ValueError):
        backbone_chunks(LONG, "minilm", 32, 0)
    with pytest.raises(ValueError):
        backbone_chunks(LONG, "minilm", 2, 4)
    assert chunk_text("a b c d e", 2, 0) == ["a b", "c d", "e"]


def test_split_chunks_parses_the_method_suffix():
    assert split_chunks("dense") == ("dense", 1)
    assert split_chunks("hybrid@8") == ("hybrid", 8)
    assert split_chunks("dense:runs/ft@2") == ("dense:runs/ft", 2)
    for bad in ("dense@0", "dense@x", "dense@"):
        with pytest.raises(ValueError):
            split_chunks(bad)


def test_split_chunks_leaves_existing_paths_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "claims@v2").mkdir(parents=True)
    assert split_chunks("runs/claims@v2") == ("runs/claims@v2", 1)
    assert split_chunks("runs/claims@v2+bm25") == ("runs/claims@v2+bm25", 1)
    with pytest.raises(ValueError):
        split_chunks("runs/missing@v2")


@pytest.mark.slow
def test_dense_meanp_is_the_normalised_mean_of_window_embeddings(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    from patlink.retrieval.dense import DenseRetriever
    from patlink.retrieval.embed import encode_texts
    from patlink.cli.methods import parse_method
    from patlink.methods import Dense, Hybrid

    parsed = parse_method("dense@4")
    assert isinstance(parsed, Dense) and parsed.windows == 4 and parsed.name == "dense@4"
    r = Dense(windows=4, max_length=32)
    assert isinstance(r._make_engine(), DenseRetriever) and r.config.max_chunks == 4
    texts = [LONG, "a pump"]
    got = r.encode(texts)
    ws = backbone_chunks(LONG, "minilm", 32, 4)
    ref = encode_texts(ws, "minilm", max_length=32, show_progress=False).mean(axis=0)
    np.testing.assert_allclose(got[0], ref / np.linalg.norm(ref), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # the short text is one window: identical to truncation (FirstP)
    np.testing.assert_allclose(got[1], Dense(max_length=32).encode(["a pump"])[0], atol=1e-6)
    h = parse_method("hybrid@4")
    assert isinstance(h, Hybrid) and h.name == "hybrid@4" and h.parts[1].windows == 4


@pytest.mark.slow
def test_token_store_concatenates_windows(tmp_path):
    from patlink.models.token_cache import TokenEmbeddingStore

    one = TokenEmbeddingStore("minilm", max_length=16, cache_dir=tmp_path, show_progress=False)
    many = TokenEmbeddingStore("minilm", max_length=16, cache_dir=tmp_path, show_progress=False, max_chunks=3)
    ws = backbone_chunks(LONG, "minilm", 16, 3)
    parts = one.encode(ws)
    (cat,) = many.encode([LONG])
    assert cat.shape[0] == sum(p.shape[0] for p in parts) == 3 * 16
    np.testing.assert_array_equal(cat, np.concatenate(parts))
    assert many.missing([LONG, "new text"]) == ["new text"]
    with pytest.raises(ValueError):
        TokenEmbeddingStore("minilm", max_length=16, cache_dir=tmp_path, max_chunks=0)


def test_linker_window_count_is_validated_and_saved(tmp_path):
    from patlink.models.linker import Linker
    from patlink.training.config import EncoderConfig, TrainConfig

    with pytest.raises(ValueError, match="max_chunks"):
        TrainConfig(encoder=EncoderConfig(max_chunks=0)).validate()
    m = Linker(EncoderConfig(hidden=16, out_dim=8, n_heads=2, max_chunks=8), 16)
    m.save(tmp_path / "m")
    back = Linker.load(tmp_path / "m", store=object())
    assert back.config.max_chunks == 8          # inference reads texts with the windows it was trained on
