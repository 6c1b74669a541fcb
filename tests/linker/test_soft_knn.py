"""Soft-kNN (NCA-style) loss for member-scored patents, and training with it (synthetic fixture data)."""

import json

import numpy as np
import pytest
import torch
from conftest import FakeTokenStore
from test_item_sets import cfg, set_fixture

from patlink.losses.soft_knn import soft_knn_loss
from patlink.training.config import TrainConfig


def _reference(queries, members, link, target, self_idx, tau, eps=1e-8):
    """Slow loop over queries, patents and members (the module docstring's formulas)."""
    losses = []
    for q in range(queries.shape[0]):
        cand = [j for j in range(members.shape[0]) if j != int(self_idx[q])]
        w = torch.stack([torch.exp(queries[q] @ members[j] / tau) for j in cand])
        pi = dict(zip(cand, w / w.sum()))
        terms = []
        for p in range(link.shape[1]):
            if target[q, p] > 0:
                a = sum((pi[j] for j in cand if link[j, p] > 0), torch.tensor(0.0, dtype=queries.dtype))
                terms.append(-torch.log(a + eps))
        if terms:
            losses.append(torch.stack(terms).mean())
    return torch.stack(losses).mean()


def test_soft_knn_loss_matches_loop_reference_and_its_gradient():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 6, generator=g, dtype=torch.float64), dim=1)
    m = torch.nn.functional.normalize(torch.randn(7, 6, generator=g, dtype=torch.float64), dim=1)
    link = (torch.rand(7, 5, generator=g) < 0.4).double()
    link[0, 0] = link[1, 0] = 1.0                        # patent 0 has members 0 and 1
    target = torch.zeros(4, 5, dtype=torch.float64)
    target[0, 0] = target[0, 2] = target[1, 0] = target[2, 3] = 1.0   # query 3: no target (skipped)
    self_idx = torch.tensor([0, -1, 2, 5])               # queries 0 and 2 are members themselves
    q1, q2 = q.clone().requires_grad_(), q.clone().requires_grad_()
    fast = soft_knn_loss(q1, m, link, target, self_idx, tau=0.1)
    slow = _reference(q2, m, link, target, self_idx, tau=0.1)
    assert fast.item() == pytest.approx(slow.item(), rel=1e-9)
    fast.backward()
    slow.backward()
    assert torch.allclose(q1.grad, q2.grad, atol=1e-10)
    assert q1.grad[3].abs().sum() == 0                   # a query without target gets no gradient


def test_soft_knn_loss_by_hand_and_errors():
    # one query, members at cos 1 and 0 (tau = 1): pi = (e, 1) / (e + 1); patent 0 belongs to member 0
    q = torch.tensor([[1.0, 0.0]])
    m = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    link = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([[1.0, 0.0]])
    e = float(np.e)
    got = soft_knn_loss(q, m, link, target, torch.tensor([-1]), tau=1.0)
    assert got.item() == pytest.approx(-np.log(e / (e + 1)), rel=1e-6)
    # leaving member 0 out (it is the query itself): all mass on member 1, which lacks patent 0
    got = soft_knn_loss(q, m, link, target, torch.tensor([0]), tau=1.0)
    assert got.item() == pytest.approx(-np.log(1e-8), rel=1e-6)
    assert soft_knn_loss(q, m, link, torch.zeros(1, 2), torch.tensor([-1]), 1.0).item() == 0.0
    with pytest.raises(ValueError, match="tau"):
        soft_knn_loss(q, m, link, target, torch.tensor([-1]), tau=0.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        soft_knn_loss(q, m, link[:1], target, torch.tensor([-1]), tau=1.0)


def test_nca_training_moves_only_the_query_encoder(tmp_path):
    from patlink.training.trainer import _Trainer

    ds, split = set_fixture(16, 4)
    c = cfg(epochs=4, set_scoring="members", members_k=3, member_loss="nca", temperature=0.1)
    t = _Trainer(ds, split, c, tmp_path / "r", store=FakeTokenStore())
    before_p = {k: v.clone() for k, v in t.model.patent_encoder.state_dict().items()}
    before_i = {k: v.clone() for k, v in t.model.item_encoder.state_dict().items()}
    res = t.run()
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert res.best_step > 0 and res.best_metric > m["evals"][0]["metric"]   # training beat the untrained model
    losses = [s["loss"] for s in m["steps"]]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])      # the soft-kNN loss goes down
    after_p, after_i = t.model.patent_encoder.state_dict(), t.model.item_encoder.state_dict()
    assert all(torch.equal(before_p[k], after_p[k]) for k in before_p)     # the members' encoder is fixed
    assert not all(torch.equal(before_i[k], after_i[k]) for k in before_i)  # the query encoder learned


def test_nca_config_errors():
    with pytest.raises(ValueError, match="supcon|nca"):
        cfg(set_scoring="members", member_loss="ncaa").validate()
    with pytest.raises(ValueError, match="member_loss='nca' needs"):
        cfg(member_loss="nca").validate()                    # pooled sets
    with pytest.raises(ValueError, match="member_loss='nca' needs"):
        cfg(set_scoring="members", member_loss="nca", negatives="random").validate()
    TrainConfig.from_dict({"patent_repr": "item_set", "set_scoring": "members", "member_loss": "nca"}).validate()


def test_soft_knn_module_equals_the_functional_form():
    from patlink.losses.soft_knn import SoftKNNLoss

    g = torch.Generator().manual_seed(3)
    q = torch.nn.functional.normalize(torch.randn(3, 4, generator=g), dim=1)
    m = torch.nn.functional.normalize(torch.randn(5, 4, generator=g), dim=1)
    link = torch.eye(5)[:, :3] + torch.cat([torch.zeros(3, 3), torch.eye(2, 3)])
    target, self_idx = link[:3], torch.tensor([0, 1, -1])
    assert SoftKNNLoss(0.2)(q, m, link, target, self_idx).item() == \
        soft_knn_loss(q, m, link, target, self_idx, tau=0.2).item()
    assert SoftKNNLoss(0.2, eps=1e-3)(q, m, link, target, self_idx).item() != \
        soft_knn_loss(q, m, link, target, self_idx, tau=0.2).item()
    with pytest.raises(ValueError, match="tau"):
        SoftKNNLoss(temperature=-1.0)
