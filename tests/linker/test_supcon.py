"""SupCon loss (El Bouari & de Rassenfosse, Product-Patent linkage prediction, §3.3 eqs. 1–4) vs a slow loop
reference, several positives, gradient check."""

import math

import pytest
import torch

from patlink.losses.supcon import supcon_from_logits, supcon_loss


def slow_reference(S, pos, denominator):
    n, m = S.shape

    def direction(S, pos):
        total, count = 0.0, 0
        for i in range(len(S)):
            P = [j for j in range(len(S[i])) if pos[i][j]]
            N = [j for j in range(len(S[i])) if not pos[i][j]]
            if not P or (denominator == "negatives" and not N):
                continue
            den_set = N if denominator == "negatives" else list(range(len(S[i])))
            log_den = math.log(sum(math.exp(float(S[i][k])) for k in den_set))
            total += -sum(float(S[i][j]) - log_den for j in P) / len(P)
            count += 1
        return total / count if count else None

    a = direction(S.tolist(), pos.tolist())
    b = direction(S.T.tolist(), pos.T.tolist())
    vals = [v for v in (a, b) if v is not None]
    return 0.5 * (a + b) if len(vals) == 2 else (vals[0] if vals else 0.0)


def random_case(seed, n=6, m=7, p=0.3):
    g = torch.Generator().manual_seed(seed)
    S = torch.randn(n, m, generator=g, dtype=torch.float64) * 3
    pos = torch.rand(n, m, generator=g) < p
    pos[0, :3] = True      # a row with several positives
    pos[:, 1] = True       # a column with several positives ...
    pos[2, :] = True       # ... and a row with no negative (skipped by the paper's denominator)
    pos[n - 1, :] = False  # a row with no positive (e.g. an extra hard negative)
    return S, pos


@pytest.mark.parametrize("denominator", ["negatives", "all"])
@pytest.mark.parametrize("seed", range(5))
def test_matches_slow_reference(seed, denominator):
    S, pos = random_case(seed)
    got = supcon_from_logits(S, pos, denominator)["loss"].item()
    assert got == pytest.approx(slow_reference(S, pos, denominator), rel=1e-10, abs=1e-10)


def test_known_value_one_positive_per_row():
    # 2x2, identity positives, S = [[a, b], [c, d]]: paper loss row 0 = -(a - b)
    S = torch.tensor([[2.0, 0.5], [0.1, 1.0]], dtype=torch.float64)
    pos = torch.eye(2, dtype=torch.bool)
    rows = (-(2.0 - 0.5) - (1.0 - 0.1)) / 2
    cols = (-(2.0 - 0.1) - (1.0 - 0.5)) / 2
    assert supcon_from_logits(S, pos, "negatives")["loss"].item() == pytest.approx(0.5 * (rows + cols))


def test_all_variant_is_nonnegative_and_differs():
    S, pos = random_case(3)
    a = supcon_from_logits(S, pos, "all")["loss"].item()
    b = supcon_from_logits(S, pos, "negatives")["loss"].item()
    assert a > 0 and a != pytest.approx(b)


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    P = torch.nn.functional.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    Q = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    pos = torch.zeros(5, 6, dtype=torch.bool)
    pos[0, 0] = pos[0, 1] = pos[1, 2] = pos[2, 3] = pos[3, 3] = pos[4, 5] = True
    for den in ("negatives", "all"):
        assert torch.autograd.gradcheck(lambda p, q: supcon_loss(p, q, pos, 0.1, den), (P, Q))


def test_pulls_positives_together():
    g = torch.Generator().manual_seed(1)
    P = torch.randn(8, 4, generator=g, requires_grad=True)
    Q = torch.randn(8, 4, generator=g, requires_grad=True)
    pos = torch.eye(8, dtype=torch.bool)
    opt = torch.optim.SGD([P, Q], lr=0.5)
    first = None
    for _ in range(50):
        loss = supcon_loss(torch.nn.functional.normalize(P, dim=1), torch.nn.functional.normalize(Q, dim=1), pos, 0.1)
        first = first if first is not None else loss.item()
        opt.zero_grad(); loss.backward(); opt.step()
    assert loss.item() < first - 1.0


def test_errors():
    with pytest.raises(ValueError):
        supcon_from_logits(torch.zeros(2, 3), torch.zeros(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError):
        supcon_from_logits(torch.zeros(2, 2), torch.eye(2, dtype=torch.bool), "bogus")
    with pytest.raises(ValueError):
        supcon_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.eye(2, dtype=torch.bool), tau=0)


def test_no_scorable_rows_gives_zero_with_graph():
    S = torch.randn(3, 3, requires_grad=True)
    out = supcon_from_logits(S, torch.zeros(3, 3, dtype=torch.bool))["loss"]
    out.backward()
    assert out.item() == 0.0


def test_module_equals_the_functional_form_and_adds_priors_per_direction():
    from patlink.losses.supcon import SupConLoss

    g = torch.Generator().manual_seed(2)
    P = torch.nn.functional.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1)
    Q = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1)
    _, pos = random_case(4, 5, 6)
    for den in ("negatives", "all"):
        module = SupConLoss(temperature=0.1, denominator=den)
        assert module(P, Q, pos).item() == supcon_loss(P, Q, pos, 0.1, den).item()
    # priors: the item→patent term sees S + B, the patent→item term S + B'
    B, Bt = torch.rand(5, 6, generator=g, dtype=torch.float64), torch.rand(5, 6, generator=g, dtype=torch.float64)
    S = P @ Q.T / 0.1
    t = SupConLoss(0.1).terms(P, Q, pos, item_prior=B, patent_prior=Bt)
    ref = supcon_from_logits(S + B, pos, "negatives", S + Bt)
    assert t["loss"].item() == ref["loss"].item() and t["item_loss"].item() == ref["item_loss"].item()
    assert t["patent_loss"].item() != supcon_from_logits(S + B, pos)["patent_loss"].item()
    with pytest.raises(ValueError, match="tau"):
        SupConLoss(temperature=0.0)
    with pytest.raises(ValueError, match="denominator"):
        SupConLoss(denominator="bogus")
