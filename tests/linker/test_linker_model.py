"""Encoders and Linker: padding invariance, set encoding, save/load identity (safetensors, no pickle), settings
recorded in the model folder (backbone name, windows, views, fusion weights), old-format folders, the view rule."""

import json

import numpy as np
import pytest
import torch
from conftest import D_IN

from patlink.models.config import EncoderConfig
from patlink.models.encoders import TextEncoder
from patlink.models.linker import Linker


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


# ---------------------------------------------------------------------------------------------- settings
def _saved(tmp_path, **kw):
    torch.manual_seed(0)
    model = Linker(small_cfg(max_chunks=4, max_length=64, **kw), D_IN, temperature=0.07,
                   item_view="title+abstract", patent_view=["Claims"])
    model.save(tmp_path / "run" / "best")
    return model


def test_settings_recorded_and_reapplied_on_load(tmp_path, fake_store):
    from patlink.models.linker import read_settings

    model = _saved(tmp_path)
    meta = json.loads((tmp_path / "run" / "best" / "linker.json").read_text())
    assert meta["format"] == "patlink-linker/2"
    assert meta["backbone"] == "sentence-transformers/all-MiniLM-L6-v2"          # the real name, not the alias
    assert "backbone" not in meta["encoder"]                                     # recorded once, not as an alias
    assert (meta["max_length"], meta["max_chunks"], meta["temperature"]) == (64, 4, 0.07)
    assert meta["item_view"] == ["title", "abstract"] and meta["patent_view"] == ["claims"]
    assert meta["fusion"] is None
    for path in (tmp_path / "run", tmp_path / "run" / "best"):                   # run folder or model folder
        back = Linker.load(path, store=fake_store)
        s = back.settings
        assert s == read_settings(path) == model.settings
        assert (s.backbone, s.max_length, s.max_chunks) == ("sentence-transformers/all-MiniLM-L6-v2", 64, 4)
        assert s.item_view == ("title", "abstract") and s.patent_view == ("claims",) and s.temperature == 0.07
        assert back.config.max_chunks == 4 and back.config.max_length == 64    # what the token store reads
    from patlink.config import resolve_model_path

    assert resolve_model_path(s.backbone) == resolve_model_path("minilm")      # loads the bundled files offline
    texts = ["topic1 w1 w2", "w3 w4"]
    model.set_store(fake_store)
    np.testing.assert_array_equal(Linker.load(tmp_path / "run", store=fake_store).encode_items(texts),
                                  model.encode_items(texts))


def test_fusion_weights_per_direction_and_joint_fallback(tmp_path):
    from patlink.models.linker import read_settings, record_fusion

    _saved(tmp_path)
    run = tmp_path / "run"
    assert read_settings(run).fusion is None and read_settings(run).fusion_alpha("item2patent") is None
    record_fusion(run, {"alpha": 0.4, "alpha_item2patent": 0.7, "alpha_patent2item": 0.2, "grid": [0, 0.5, 1]})
    s = Linker.load(run, store=object()).settings
    assert s.fusion_alpha("item2patent") == 0.7 and s.fusion_alpha("patent2item") == 0.2
    assert s.fusion.alpha == 0.4 and s.item_view == ("title", "abstract")      # the rest of the settings kept
    record_fusion(run, {"alpha": 0.3})                                          # joint weight only
    s = read_settings(run)
    assert s.fusion_alpha("item2patent") == s.fusion_alpha("patent2item") == 0.3
    with pytest.raises(ValueError, match="direction"):
        s.fusion_alpha("both")
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        record_fusion(run, {"alpha": 1.5})
    with pytest.raises(ValueError, match="alpha"):
        record_fusion(run, {"alpha_item2patent": 0.5})
    record_fusion(run, None)
    assert read_settings(run).fusion is None


def test_old_format_folder_loads_with_its_run_files(tmp_path, fake_store):
    """A patlink-linker/1 folder (shapes only) still loads; its views come from run.json, its fusion from
    fusion.json, and recording fusion weights upgrades it."""
    from dataclasses import asdict

    from patlink.models.linker import read_settings, record_fusion

    torch.manual_seed(0)
    model = Linker(small_cfg(init="random"), D_IN, temperature=0.05)
    best = tmp_path / "run" / "best"
    model.save(best)
    (best / "linker.json").write_text(json.dumps({"format": "patlink-linker/1", "encoder": asdict(model.config),
                                                  "d_in": D_IN, "temperature": 0.05}))
    old = Linker.load(best, store=fake_store)
    assert old.settings.item_view is None and old.settings.fusion is None
    assert old.settings.backbone == "sentence-transformers/all-MiniLM-L6-v2"   # the v1 alias, canonicalised
    (tmp_path / "run" / "run.json").write_text(json.dumps({"item_view": ["text"], "patent_view": ["claims"],
                                                           "model_dir": "best"}))
    (tmp_path / "run" / "fusion.json").write_text(json.dumps({"alpha": 0.55, "alpha_item2patent": 0.65}))
    s = read_settings(tmp_path / "run")
    assert s.item_view == ("text",) and s.patent_view == ("claims",)
    assert s.fusion_alpha("item2patent") == 0.65 and s.fusion_alpha("patent2item") == 0.55
    texts = ["topic1 w1 w2", "w3 w4 w5"]
    model.set_store(fake_store)
    np.testing.assert_array_equal(Linker.load(tmp_path / "run", store=fake_store).encode_patents(texts),
                                  model.encode_patents(texts))
    record_fusion(tmp_path / "run", {"alpha": 0.5})
    meta = json.loads((best / "linker.json").read_text())
    assert meta["format"] == "patlink-linker/2" and meta["patent_view"] == ["claims"]
    assert meta["fusion"]["alpha"] == 0.5
    (best / "linker.json").write_text(json.dumps({"format": "patlink-linker/9", "d_in": D_IN}))
    with pytest.raises(ValueError, match="unknown format"):
        Linker.load(best)


def test_check_views_applies_recorded_and_warns_on_a_different_one(tmp_path):
    import warnings

    model = Linker.load(_saved(tmp_path).save(tmp_path / "m"), store=object())
    assert model.check_views() == (("title", "abstract"), ("claims",))          # recorded views applied
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                            # the same view: no warning
        assert model.check_views("title,abstract", "claims") == (("title", "abstract"), ("claims",))
    with pytest.warns(UserWarning, match=r"patent view 'claims'.*'title,abstract'"):
        iv, pv = model.check_views(patent_view="title,abstract")
    assert iv == ("title", "abstract") and pv == ("title", "abstract")         # the explicit view is used
    bare = Linker(small_cfg(), D_IN)                                             # no views recorded
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bare.check_views() == (None, None)
        assert bare.check_views("text", "title") == (("text",), ("title",))


def test_models_layer_never_imports_training():
    import subprocess
    import sys

    code = ("import sys, patlink.models.linker, patlink.models.config, patlink.models.export; "
            "bad = sorted(m for m in sys.modules if m.startswith('patlink.training')); print(bad); "
            "sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    from patlink.models.config import EncoderConfig as Moved
    from patlink.training.config import EncoderConfig as Reexported

    assert Moved is Reexported
