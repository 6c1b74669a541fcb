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


# ---------------------------------------------------------------------------------------------- negative sources
def _sources_setup(n: int = 12):
    """A fixture graph (not real data): item k linked to patent k, item 0 also to patent 1; a bank of random
    embeddings so no model is needed."""
    import numpy as np

    from patlink.training.config import TrainConfig
    from patlink.training.negatives import Batch, EmbeddingBank
    from patlink.training.patents import PatentBatch, TextPatents
    from patlink.training.sampler import LinkIndex

    links = [(f"i{k:02d}", f"p{k:02d}") for k in range(n)] + [("i00", "p01")]
    idx = LinkIndex.from_links(links)
    cfg = TrainConfig.from_dict({"negatives": "random", "hard_negatives": [0, 3]})
    tokens = [np.ones((2, 4), dtype=np.float16) for _ in range(n)]
    patents = TextPatents(cfg, idx, tokens, {p: tokens[0] for p in idx.patents},
                          {p: f"text {p}" for p in idx.patents})
    g = torch.Generator().manual_seed(0)
    bank = EmbeddingBank(torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1),
                         torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1))
    bi, bp = np.array([0, 2]), np.array([0, 1, 2])
    batch = Batch(bi, bank.item[bi].clone(), PatentBatch(bp, bank.patent[bp].clone()), step=0)
    return cfg, idx, tokens, patents, bank, batch


def test_sources_follow_the_curriculum_and_never_draw_positives_or_the_batch():
    import numpy as np

    from patlink.training.negatives import BM25Negatives, InBatchNegatives, RandomNegatives

    cfg, idx, tokens, patents, bank, batch = _sources_setup()
    g = torch.Generator().manual_seed(1)
    random = RandomNegatives(idx, cfg.curriculum, tokens, g)
    random.bank = bank
    assert random.extra_negatives(batch, 0, None, patents) is None            # epoch 1: in-batch only
    neg = random.extra_negatives(batch, 1, None, patents)                     # epoch 2: 3 per query
    assert neg.draws[0].sampled.shape == (3, 3) and neg.draws[1].sampled.shape == (2, 3)
    assert not set(neg.items.tolist()) & {0, 2}                               # items of the batch
    assert not set(neg.patents.tolist()) & {0, 1, 2}                          # patents of the batch
    torch.testing.assert_close(neg.patent_embeddings, bank.patent[torch.as_tensor(neg.patents)])
    rec = random.update(batch, neg, torch.cat([batch.item_embeddings, neg.item_embeddings]),
                        torch.cat([batch.patents.embeddings, neg.patent_embeddings]))
    assert set(rec) == {"reward"} and -1.0 <= rec["reward"] <= 1.0
    inbatch = InBatchNegatives(idx, cfg.curriculum, tokens, g)
    assert inbatch.count(5) == 0 and inbatch.extra_negatives(batch, 5, None, patents) is None
    # BM25: only each query's candidate pool (texts share a word with their pool only)
    texts = [f"word{k // 2}" for k in range(len(idx.items))]
    bm25 = BM25Negatives(idx, cfg.curriculum, tokens, g, item_texts=texts, patent_texts=texts, pool=2)
    bm25.bank = bank
    neg = bm25.extra_negatives(batch, 1, None, patents)
    for d, pools, queries in ((neg.draws[0], bm25.pools_items, batch.patents.patents),
                              (neg.draws[1], bm25.pools_patents, batch.items)):
        for r, q in enumerate(queries):
            drawn = [int(x) for x in d.sampled[r] if x >= 0]
            assert set(drawn) <= set(pools[int(q)])
    assert np.all(neg.items >= 0)


def test_adversarial_source_learns_and_checkpoints(tmp_path):
    from patlink.training.negatives import AdversarialNegatives

    cfg, idx, tokens, patents, bank, batch = _sources_setup()
    adv = AdversarialNegatives(idx, cfg.curriculum, tokens, torch.Generator().manual_seed(2), out_dim=4, hidden=8,
                               lr=0.1)
    adv.bank = bank
    before = [p.detach().clone() for p in adv.adv_items.parameters()]
    neg = adv.extra_negatives(batch, 1, None, patents)
    rec = adv.update(batch, neg, torch.cat([batch.item_embeddings, neg.item_embeddings]),
                     torch.cat([batch.patents.embeddings, neg.patent_embeddings]))
    assert set(rec) == {"adv_loss", "reward"}
    assert any(not torch.equal(a, b) for a, b in zip(before, adv.adv_items.parameters()))   # the policy moved
    st = adv.state_dict()
    assert {"bank_item", "bank_patent", "adv_items", "adv_patents", "adv_opt"} <= set(st)
    other = AdversarialNegatives(idx, cfg.curriculum, tokens, torch.Generator(), out_dim=4, hidden=8, lr=0.1)
    other.load_state_dict(st)
    for a, b in zip(adv.adv_items.parameters(), other.adv_items.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(other.bank.patent, bank.patent)
