"""TokenEmbeddingStore with the bundled MiniLM: round-trip, resume (only missing texts computed), padding."""

import numpy as np
import pytest
import torch

from patlink.models.token_cache import TokenEmbeddingStore, pad_batch


@pytest.mark.slow
def test_round_trip_and_resume(tmp_path, monkeypatch):
    texts = ["A valve for a gas turbine.", "Graphene anode battery cell with a separator.", ""]
    store = TokenEmbeddingStore("minilm", max_length=16, cache_dir=tmp_path, show_progress=False)
    first = store.encode(texts)
    assert [a.dtype for a in first] == [np.float16] * 3
    assert all(a.shape[1] == 384 for a in first)
    assert first[2].shape[0] == 2                  # empty text: [CLS] [SEP]
    assert max(a.shape[0] for a in first) <= 16    # truncated to max_length
    # same vectors as the backbone's own token embeddings
    from patlink.models.backbone import load_sentence_model

    st = load_sentence_model("minilm")
    st.max_seq_length = 16
    ref = st.encode(texts[:1], output_value="token_embeddings", convert_to_numpy=False)[0].numpy()
    np.testing.assert_allclose(first[0].astype(np.float32), ref, atol=2e-2)

    # a new store on the same folder reads from disk and computes only the missing text
    store2 = TokenEmbeddingStore("minilm", max_length=16, cache_dir=tmp_path, show_progress=False)
    seen = []
    orig = store2._compute
    monkeypatch.setattr(store2, "_compute", lambda ts: seen.extend(ts) or orig(ts))
    again = store2.encode(texts + ["A new text about pumps."])
    assert seen == ["A new text about pumps."]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert store2.missing(texts) == []
    # a different max_length is a different cache
    assert TokenEmbeddingStore("minilm", max_length=8, cache_dir=tmp_path).missing(texts[:1]) == texts[:1]


def test_pad_batch():
    a = np.ones((3, 4), np.float16)
    b = np.full((1, 4), 2, np.float16)
    x, m = pad_batch([a, b])
    assert x.shape == (2, 3, 4) and x.dtype == torch.float32 and m.dtype == torch.bool
    assert m.tolist() == [[True, True, True], [True, False, False]]
    assert x[1, 1:].abs().sum() == 0 and x[1, 0, 0] == 2
    x, m = pad_batch([a, b], max_tokens=2)
    assert x.shape == (2, 2, 4)
    with pytest.raises(ValueError):
        pad_batch([])
    with pytest.raises(ValueError):
        pad_batch([a, np.ones((2, 5), np.float16)])
