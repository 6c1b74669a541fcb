"""Encoders and Linker: padding invariance, set encoding, save/load identity (safetensors, no pickle)."""

import json

import numpy as np
import pytest
import torch
from conftest import D_IN

from patlink.models.encoders import TextEncoder
from patlink.models.linker import Linker
from patlink.training.config import EncoderConfig


def small_cfg(**kw):
    return EncoderConfig(hidden=32, out_dim=16, n_heads=2, n_queries=2, n_blocks=2, **kw)


def test_encoder_padding_is_masked_and_output_normalised():
    torch.manual_seed(0)
    enc = TextEncoder(D_IN, hidden=32, out_dim=16, n_heads=2).eval()
    x = torch.randn(1, 5, D_IN)
    m = torch.ones(1, 5, dtype=torch.bool)
    padded = torch.cat([x, torch.randn(1, 7, D_IN) * 100], dim=1)
    pm = torch.cat([m, torch.zeros(1, 7, dtype=torch.bool)], dim=1)
    a, b = enc(x, m), enc(padded, pm)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert torch.allclose(a.norm(dim=1), torch.ones(1))
    # permutation invariant over tokens (what makes the set encoder well defined)
    perm = torch.randperm(5)
    torch.testing.assert_close(enc(x[:, perm], m), a, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        TextEncoder(D_IN, n_heads=3)


def test_save_load_identity(tmp_path, fake_store):
    torch.manual_seed(0)
    model = Linker(small_cfg(init="random"), D_IN, temperature=0.07, store=fake_store)
    texts = ["topic1 w1 w2", "topic2 w3", "w4 w5 w6 w7 w8"]
    items, patents = model.encode_items(texts), model.encode_patents(texts)
    sets = model.encode_patent_sets([texts[:2], texts[2:], []])
    model.save(tmp_path / "m")
    assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "m").iterdir())
    meta = json.loads((tmp_path / "m" / "linker.json").read_text())
    assert meta["d_in"] == D_IN and meta["temperature"] == 0.07
    loaded = Linker.load(tmp_path / "m", store=fake_store)
    np.testing.assert_array_equal(loaded.encode_items(texts), items)
    np.testing.assert_array_equal(loaded.encode_patents(texts), patents)
    np.testing.assert_array_equal(loaded.encode_patent_sets([texts[:2], texts[2:], []]), sets)
    assert items.dtype == np.float32 and np.allclose(np.linalg.norm(items, axis=1), 1, atol=1e-5)
    assert not np.allclose(items, patents)             # separate weights
    with pytest.raises(ValueError):
        Linker.load(tmp_path / "nothing")


def test_set_encoding_is_order_invariant(fake_store):
    torch.manual_seed(0)
    model = Linker(small_cfg(), D_IN, store=fake_store)
    a = model.encode_patent_sets([["w1 w2", "w3 w4 w5"]])
    b = model.encode_patent_sets([["w3 w4 w5", "w1 w2"]])
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.allclose(model.encode_patent_sets([[]]), 0)


def test_attention_pooling_equals_multihead_attention_with_learned_queries():
    """The O(L·d) pooling is nn.MultiheadAttention with learned queries, reparameterised (see its docstring)."""
    from torch import nn

    from patlink.models.encoders import AttentionPooling

    torch.manual_seed(0)
    d, H, Qn = 16, 4, 2
    mha = nn.MultiheadAttention(d, H, batch_first=True)
    q = torch.randn(Qn, d)
    ap = AttentionPooling(d, H, Qn)
    with torch.no_grad():
        Wq, Wk, Wv = mha.in_proj_weight.chunk(3)
        bq, _, bv = mha.in_proj_bias.chunk(3)
        dh = d // H
        qp = (q @ Wq.T + bq).view(Qn, H, dh)
        ap.scores.copy_((torch.einsum("qhk,hkd->qhd", qp, Wk.view(H, dh, d)) / dh ** 0.5).reshape(Qn * H, d))
        ap.value.weight.copy_(Wv)
        ap.value.bias.copy_(bv)
        ap.out.weight.copy_(mha.out_proj.weight)
        ap.out.bias.copy_(mha.out_proj.bias)
    ap.norm = nn.Identity()
    x = torch.randn(3, 7, d)
    m = torch.ones(3, 7, dtype=torch.bool)
    m[1, 4:] = False
    ref, _ = mha(q.expand(3, -1, -1), x, x, key_padding_mask=~m)
    torch.testing.assert_close(ap(x, m).view(3, Qn, d), ref, atol=1e-5, rtol=1e-5)


def test_backbone_init_equals_mean_pooling():
    """init="backbone": the untrained encoder is the frozen model's sentence embedding (mean pooling + L2)."""
    torch.manual_seed(0)
    for out_dim in (D_IN, 8):
        enc = TextEncoder(D_IN, hidden=32, out_dim=out_dim, n_heads=2, init="backbone").eval()
        x = torch.randn(2, 6, D_IN)
        m = torch.ones(2, 6, dtype=torch.bool)
        m[1, 3:] = False
        mean = torch.stack([x[0].mean(0), x[1, :3].mean(0)])
        ref = torch.nn.functional.normalize(mean @ enc.skip.weight.T, dim=1)
        torch.testing.assert_close(enc(x, m), ref, atol=1e-5, rtol=1e-5)
    random_enc = TextEncoder(D_IN, hidden=32, out_dim=D_IN, n_heads=2, init="random").eval()
    assert not torch.allclose(random_enc(x, m), torch.nn.functional.normalize(mean, dim=1), atol=1e-3)
