"""Adversary masks, Gumbel top-k without replacement, REINFORCE with a per-query baseline
(El Bouari & de Rassenfosse, Product-Patent linkage prediction, §3.4)."""

import torch

from patlink.models.adversary import Adversary, build_mask, gumbel_topk, reinforce_loss


def test_mask_excludes_positives_and_in_batch():
    m = build_mask(3, 10, positives=[[0, 1], [], [9]], in_batch=[4, 5])
    assert not m[:, 4].any() and not m[:, 5].any()
    assert not m[0, 0] and not m[0, 1] and not m[2, 9]
    assert m[1, 0] and m[1, 9] and m[0, 9]
    assert int(m.sum()) == 3 * 10 - 6 - 3


def test_samples_never_violate_mask_and_are_distinct():
    g = torch.Generator().manual_seed(0)
    n = 30
    for trial in range(20):
        logits = torch.randn(6, n, generator=g) * 5   # peaked policies: masking must still win
        positives = [[(r + trial) % n, (r * 7) % n] for r in range(6)]
        in_batch = [3, 11, 17]
        mask = build_mask(6, n, positives, in_batch)
        for exclusive in (False, True):
            idx = gumbel_topk(logits, mask, 4, exclusive=exclusive, generator=g)
            assert idx.shape == (6, 4)
            for r in range(6):
                row = [int(x) for x in idx[r] if x >= 0]
                assert len(row) == len(set(row)) == 4                         # without replacement
                assert not set(row) & set(positives[r]) and not set(row) & set(in_batch)
            if exclusive:                                                    # already-drawn never redrawn
                flat = [int(x) for x in idx.flatten() if x >= 0]
                assert len(flat) == len(set(flat))


def test_runs_out_of_actions_gives_minus_one():
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, :2] = True
    mask[1, :2] = True
    idx = gumbel_topk(torch.zeros(2, 5), mask, 3, exclusive=True, generator=torch.Generator().manual_seed(0))
    assert sorted(idx[0, :2].tolist()) == [0, 1] and idx[0, 2] == -1
    assert (idx[1] == -1).all()   # both allowed actions already drawn by row 0


def test_gumbel_topk_first_draw_follows_softmax():
    # The first Gumbel top-k draw is a categorical sample of softmax(logits) over the allowed set.
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0, 5.0]]).expand(20000, 4)
    mask = torch.ones(20000, 4, dtype=torch.bool)
    mask[:, 3] = False
    first = gumbel_topk(logits, mask, 1, generator=g)[:, 0]
    freq = torch.bincount(first, minlength=4).float() / 20000
    expected = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    assert freq[3] == 0
    assert torch.allclose(freq[:3], expected, atol=0.015)


def test_reinforce_baseline_and_direction():
    logits = torch.zeros(1, 4, requires_grad=True)
    mask = torch.ones(1, 4, dtype=torch.bool)
    actions = torch.tensor([[0, 1]])
    rewards = torch.tensor([[0.9, 0.1]])
    loss, mean_r = reinforce_loss(logits, mask, actions, rewards)
    loss.backward()
    assert abs(mean_r.item() - 0.5) < 1e-6
    # baseline 0.5: action 0 reinforced (+0.4), action 1 penalised (-0.4) → gradient descent raises logit 0
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]
    # equal rewards → zero advantage → zero gradient
    logits.grad = None
    loss, _ = reinforce_loss(logits, mask, actions, torch.tensor([[0.3, 0.3]]))
    loss.backward()
    assert torch.allclose(logits.grad, torch.zeros_like(logits.grad))


def test_policy_learns_to_prefer_high_reward_action():
    torch.manual_seed(0)
    adv = Adversary(4, 10, hidden=8)
    opt = torch.optim.Adam(adv.parameters(), lr=0.05)
    q = torch.randn(8, 4)
    mask = torch.ones(8, 10, dtype=torch.bool)
    reward_of = torch.linspace(0, 1, 10)  # action 9 is the hardest negative
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        logits = adv(q)
        a = gumbel_topk(logits, mask, 3, generator=g)
        loss, _ = reinforce_loss(logits, mask, a, reward_of[a])
        opt.zero_grad(); loss.backward(); opt.step()
    assert torch.softmax(adv(q), 1).argmax(1).eq(9).all()
