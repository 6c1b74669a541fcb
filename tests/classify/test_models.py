"""Model building blocks: GloVe loading, tokenisation, CNN masking, k-NN voting."""

import numpy as np
import pytest
import torch

from patlink.classify.models import KNNClassifier, LinearHead, TextCNN, glove_features, load_glove, tokenize


def test_tokenize_matches_glove_style():
    assert tokenize("1. A Method, comprising: a CPU's e-mail") == ["1", ".", "a", "method", ",", "comprising", ":",
                                                                  "a", "cpu's", "e-mail"]


def test_glove_vectors_known_values():
    vocab, mat = load_glove()
    assert mat.shape == (400000, 50)
    # first GloVe 6B 50-d vector, "the": 0.418 0.24968 -0.41242 0.1217 ...
    assert np.allclose(mat[vocab["the"]][:4], [0.418, 0.24968, -0.41242, 0.1217])
    f = glove_features(["The the zzqxvq", ""], max_tokens=5)
    assert f.x.shape == (2, 2, 50) and f.lengths.tolist() == [2, 1]
    assert np.allclose(f.x[0, 0], mat[vocab["the"]]) and not f.x[1].any()
    assert f.stats["oov_rate"] == pytest.approx(1 / 3)


def test_textcnn_shapes_and_padding_invariance():
    torch.manual_seed(0)
    m = TextCNN(in_dim=8, n_labels=3, filters=4, hidden=6).eval()
    x = torch.randn(1, 7, 8)
    mask = torch.ones(1, 7, dtype=torch.bool)
    out = m(x, mask)
    assert out.shape == (1, 3)
    # same text padded with garbage positions masked out: identical output
    xp = torch.cat([x, 100 * torch.randn(1, 5, 8)], dim=1)
    maskp = torch.cat([mask, torch.zeros(1, 5, dtype=torch.bool)], dim=1)
    assert torch.allclose(m(xp, maskp), out, atol=1e-6)
    # a text shorter than the widest kernel still works
    assert m(torch.randn(2, 1, 8), torch.ones(2, 1, dtype=torch.bool)).shape == (2, 3)
    assert LinearHead(8, 3)(torch.randn(4, 8)).shape == (4, 3)


def test_textcnn_max_pool_uses_each_kernel():
    m = TextCNN(in_dim=2, n_labels=1, kernel_sizes=(2, 3), filters=1, hidden=2).eval()
    assert len(m.convs) == 2 and m.dense.in_features == 2


def test_knn_voting_by_hand():
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    y = np.array([[1, 0], [0, 1], [1, 1]])
    knn = KNNClassifier(emb, y, k=2)
    s = knn.scores(np.array([[1.0, 0.0]], dtype=np.float32))
    # neighbours: doc0 (sim 1.0), doc2 (sim 0.6) -> label0: (1+0.6)/1.6 = 1, label1: 0.6/1.6
    assert s[0].tolist() == pytest.approx([1.0, 0.375])
    loo = knn.scores(emb, exclude_self=True)
    # leave-one-out for doc0: neighbours doc2 (0.6) and doc1 (sim 0 -> weight 0) -> [1, 1]
    assert loo.shape == (3, 2) and loo[0].tolist() == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError):
        KNNClassifier(emb, y[:2])
