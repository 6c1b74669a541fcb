"""Losses against hand computations (Mueller & Stone, Appendix A)."""

import math

import pytest
import torch

from patlink.classify.losses import LossConfig, bce_loss, focal_loss, make_loss, weighted_bce_loss


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


P = [[0.9, 0.2], [0.4, 0.7]]
Y = [[1.0, 0.0], [1.0, 1.0]]
LOGITS = torch.tensor([[_logit(p) for p in row] for row in P], dtype=torch.float64)
TARGETS = torch.tensor(Y, dtype=torch.float64)


def test_bce_matches_hand_computation():
    # -(log .9 + log .8 + log .4 + log .7) / 4
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.7)) / 4
    assert bce_loss(LOGITS, TARGETS).item() == pytest.approx(expected, rel=1e-9)


def test_weighted_bce_matches_listing_2():
    # weights = y*alpha + (1-y): positives (0.9, 0.4, 0.7) x2, the negative (0.2) x1; K.mean over 4 entries
    alpha = 2.0
    expected = (alpha * -math.log(0.9) + -math.log(0.8) + alpha * -math.log(0.4) + alpha * -math.log(0.7)) / 4
    assert weighted_bce_loss(LOGITS, TARGETS, alpha).item() == pytest.approx(expected, rel=1e-9)


def test_weighted_bce_alpha_one_is_bce_and_grows_with_alpha():
    assert weighted_bce_loss(LOGITS, TARGETS, 1.0).item() == pytest.approx(bce_loss(LOGITS, TARGETS).item())
    assert weighted_bce_loss(LOGITS, TARGETS, 3.0) > weighted_bce_loss(LOGITS, TARGETS, 2.0)
    # only positives are up-weighted: all-negative targets give plain BCE for any alpha
    zeros = torch.zeros_like(TARGETS)
    assert weighted_bce_loss(LOGITS, zeros, 5.0).item() == pytest.approx(bce_loss(LOGITS, zeros).item())


def test_weighted_bce_gradient_on_positive_is_alpha_times_bce_gradient():
    x = torch.tensor([[0.3]], dtype=torch.float64, requires_grad=True)
    y = torch.ones(1, 1, dtype=torch.float64)
    weighted_bce_loss(x, y, 2.5).backward()
    g_w = x.grad.item()
    x.grad = None
    bce_loss(x, y).backward()
    assert g_w == pytest.approx(2.5 * x.grad.item())


def test_focal_loss_hand_computation_and_reductions():
    gamma = 2.0
    pt = [0.9, 0.8, 0.4, 0.7]
    expected = sum((1 - p) ** gamma * -math.log(p) for p in pt) / 4
    assert focal_loss(LOGITS, TARGETS, gamma).item() == pytest.approx(expected, rel=1e-9)
    assert focal_loss(LOGITS, TARGETS, 0.0).item() == pytest.approx(bce_loss(LOGITS, TARGETS).item())
    a = 0.25  # positives x0.25, the negative x0.75
    expected_a = (a * 0.1 ** 2 * -math.log(0.9) + (1 - a) * 0.2 ** 2 * -math.log(0.8)
                  + a * 0.6 ** 2 * -math.log(0.4) + a * 0.3 ** 2 * -math.log(0.7)) / 4
    assert focal_loss(LOGITS, TARGETS, gamma, a).item() == pytest.approx(expected_a, rel=1e-9)


def test_make_loss_and_errors():
    assert make_loss(LossConfig("wbce"))(LOGITS, TARGETS).item() == pytest.approx(
        weighted_bce_loss(LOGITS, TARGETS, 2.0).item())
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss(LossConfig("hinge"))
    with pytest.raises(ValueError, match="alpha"):
        make_loss(LossConfig("wbce", alpha=0.0))
    with pytest.raises(ValueError, match="focal alpha"):
        make_loss(LossConfig("focal", alpha=2.0))
