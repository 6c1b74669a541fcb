"""Training with patents encoded as SETS of their training items; synthetic fixture data."""

import json

import numpy as np
import pytest
from conftest import FakeTokenStore

from patlink.data.dataset import Dataset
from patlink.models.linker import Linker
from patlink.training.config import EncoderConfig, TrainConfig
from patlink.training.patents import MemberItemSets, PooledItemSets
from patlink.training.trainer import _Trainer, train_linker


def set_fixture(n_patents: int = 12, per_patent: int = 4, seed: int = 0):
    """Fixture (not real data): patents without text; item (k, j) is linked to patent k and shares its topic word.
    Items of the last column are held out (new-product split: val items never in train)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{j}" for j in range(30)]
    items, patents, links = {}, {}, []
    for k in range(n_patents):
        patents[f"p{k}"] = {"title": ""}
        for j in range(per_patent):
            iid = f"i{k}_{j}"
            items[iid] = {"text": " ".join([f"topic{k}"] + list(rng.choice(vocab, 4)))}
            links.append((iid, f"p{k}"))
    links.append(("i0_0", "p1"))       # one product linked to two patents
    ds = Dataset(name="set-fixture", items=items, patents=patents, links=links, patent_view=("title",))
    val = [(i, p) for i, p in links if i.endswith(f"_{per_patent - 1}")]
    train = [x for x in links if x not in val]
    return ds, {"train": train, "val": val, "test": []}


def cfg(**kw):
    base = dict(encoder=EncoderConfig(hidden=32, out_dim=16, n_heads=2, n_queries=2), epochs=3, batch_size=8,
                lr=3e-3, progress=False, patience=0, full_val_metrics=False, patent_repr="item_set",
                set_max_items=2)
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_sets_leave_batch_out_and_sampling(tmp_path, monkeypatch):
    ds, split = set_fixture()
    seen = []
    orig = PooledItemSets.encode_batch

    def spy(self, model, bp, bi, step):
        calls = []
        real = self.set_array
        self.set_array = lambda members: (calls.append(list(members)), real(members))[1]
        out = orig(self, model, bp, bi, step)
        del self.set_array
        seen.append(({int(i) for i in bi}, calls, out.patents))
        return out

    monkeypatch.setattr(PooledItemSets, "encode_batch", spy)
    res = train_linker(ds, split, cfg(), tmp_path / "r", store=FakeTokenStore())
    assert seen and res.best_epoch >= 1
    for batch_items, calls, kept in seen:
        assert len(calls) == len(kept)
        for members in calls:
            assert not batch_items & set(members)          # never the batch's own items: no identity shortcut
            assert 1 <= len(members) <= 2                  # set_max_items
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["patent_repr"] == "item_set"
    assert not (tmp_path / "r" / "fusion.json").exists()   # no patent text: no BM25 fusion


def test_sets_validation_improves_and_model_encodes_sets(tmp_path):
    ds, split = set_fixture(16, 4)
    res = train_linker(ds, split, cfg(epochs=6, set_max_items=3), tmp_path / "r", store=FakeTokenStore())
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    first = m["evals"][0]["mrr_item2patent"]
    assert res.best_val["mrr_item2patent"] >= first
    # the fixture's topic word is shared by a patent's items: the trained model ranks held-out items well
    assert res.best_val["mrr_item2patent"] > 0.5
    model = Linker.load(tmp_path / "r" / "best", store=FakeTokenStore())
    sets = [[ds.items[f"i{k}_{j}"]["text"] for j in range(3)] for k in range(16)]
    P = model.encode_patent_sets(sets)
    Q = model.encode_items([ds.items[f"i{k}_3"]["text"] for k in range(16)])
    ranks = (Q @ P.T).argmax(axis=1)
    assert (ranks == np.arange(16)).mean() > 0.25          # chance: 1/16


def test_sets_errors(tmp_path):
    ds, split = set_fixture()
    one_each = {"train": [(f"i{k}_0", f"p{k}") for k in range(12)], "val": split["val"]}
    with pytest.raises(ValueError, match=">= 2 training items"):
        train_linker(ds, one_each, cfg(), tmp_path / "a", store=FakeTokenStore())
    with pytest.raises(ValueError, match="need set_scoring='members'"):
        cfg(negatives="adversarial").validate()          # a pooled set would contain the batch's own items
    cfg(negatives="adversarial", set_scoring="members").validate()


def test_member_knn_scores_by_hand():
    from patlink.training.trainer import member_knn_scores

    q = np.array([[1.0, 0.0]], dtype=np.float32)
    members = np.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)   # cos with q: 1, 0.6, -1
    patent_members = [[0], [1, 2], [2]]
    assert member_knn_scores(q, members, patent_members, k=2)[0].tolist() == pytest.approx([1.0, 0.6, 0.0])
    # k = 1: only the nearest member counts; negative cosines never add
    assert member_knn_scores(q, members, patent_members, k=1)[0].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert member_knn_scores(q, members, patent_members, k=9)[0].tolist() == pytest.approx([1.0, 0.6, 0.0])


def test_members_scoring_trains_on_single_members_and_validates_by_knn(tmp_path, monkeypatch):
    ds, split = set_fixture(16, 4)
    sizes = []
    orig = MemberItemSets.set_array
    monkeypatch.setattr(MemberItemSets, "set_array", lambda self, members: (sizes.append(len(members)),
                                                                              orig(self, members))[1])
    c = cfg(epochs=4, set_max_items=3, set_scoring="members", members_k=3)
    res = train_linker(ds, split, c, tmp_path / "r", store=FakeTokenStore())
    assert sizes and set(sizes) == {1}   # one member per patent and step (set_max_items ignored)
    assert res.best_val["mrr_item2patent"] > 0.5
    # knn-linker reads the same model: each known item alone through the patent encoder
    from patlink.cli.methods import parse_method
    from patlink.methods import for_new_products

    spec = for_new_products(parse_method(f"knn-linker:{tmp_path / 'r'}"), has_text=False)
    assert spec.leaf == "knn-linker" and spec.param == (str(tmp_path / "r"), 10) and spec.tunable is True
    with pytest.raises(ValueError, match="trained model folder"):
        for_new_products(parse_method("knn-linker"), has_text=False)
    fused = for_new_products(parse_method(f"knn-linker:{tmp_path / 'r'}+bm25"), has_text=False)  # BM25 on profiles
    assert [p.leaf for p in fused.parts] == ["knn-linker", "profile-bm25"] and fused.alpha is None  # α: validation
    knn_bm25 = for_new_products(parse_method("knn+bm25"), has_text=False)
    assert [p.leaf for p in knn_bm25.parts] == ["knn", "profile-bm25"]
    with pytest.raises(ValueError, match="needs patent_repr='item_set'"):
        TrainConfig.from_dict({"set_scoring": "members"}).validate()
    with pytest.raises(ValueError, match="pool|members"):
        cfg(set_scoring="max").validate()


def test_blocked_patents_are_those_with_every_item_in_the_batch(tmp_path):
    ds, split = set_fixture()
    t = _Trainer(ds, split, cfg(set_scoring="members", negatives="random"), tmp_path / "r", store=FakeTokenStore())
    ix = {x: k for k, x in enumerate(t.idx.items)}
    px = {x: k for k, x in enumerate(t.idx.patents)}
    # p3's training items are i3_0..i3_2; p1 also has i0_0, so taking i1_* only leaves p1 representable
    bi = np.array([ix[f"i3_{j}"] for j in range(3)] + [ix[f"i1_{j}"] for j in range(3)])
    assert isinstance(t.patents, MemberItemSets) and t.patents.blocked(bi) == [px["p3"]]
    chosen, kept = t.patents.choose_members(np.array([px["p1"], px["p3"]]), bi, step=0)
    assert kept.tolist() == [px["p1"]] and chosen == [[ix["i0_0"]]]


@pytest.mark.parametrize("negatives,embeddings", [("random", "bank"), ("bm25", "bank"), ("adversarial", "bank"),
                                                  ("adversarial", "encode")])
def test_members_extra_negatives_are_items_outside_the_batch(tmp_path, monkeypatch, negatives, embeddings):
    ds, split = set_fixture(16, 4)
    seen = []
    orig = MemberItemSets.encode_negatives

    def spy(self, model, up, bi, step, bank):
        chosen, kept = self.choose_members(up, bi, step, stream=1)
        seen.append(({int(i) for i in bi}, [m for ms in chosen for m in ms], len(kept) == len(up),
                     bank is not None))
        return orig(self, model, up, bi, step, bank)

    monkeypatch.setattr(MemberItemSets, "encode_negatives", spy)
    c = cfg(epochs=3, set_scoring="members", members_k=3, negatives=negatives, hard_negatives=(0, 3),
            adversary={"hidden": 8, "negative_embeddings": embeddings})
    res = train_linker(ds, split, c, tmp_path / "r", store=FakeTokenStore())
    assert seen, "epochs 2-3 draw extra negative patents"
    for batch_items, members, all_kept, banked in seen:
        assert not batch_items & set(members)    # a negative patent is one of its items OUTSIDE the batch
        assert all_kept and banked == (embeddings == "bank")
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert [e["hard_negatives"] for e in m["epochs"]] == [0, 3, 3]
    assert m["epochs"][1]["reward"] is not None and np.isfinite(m["epochs"][2]["train_loss"])
    assert res.best_val["mrr_item2patent"] > 0.3
