"""Training plots of a linker run: loss, adversary reward, validation MRR, and the policy heat-map of the
adversaries (like Fig. 2 of ``000_be1f183eef23b85e.txt`` §3.4). Matplotlib, Agg backend, PNG files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from patlink.io import atomic_savefig

__all__ = ["plot_run"]


def plot_run(run_dir: str | Path, top: int = 40) -> list[Path]:
    """Write ``training.png`` (loss per step, reward per step, validation MRR at every validation point with the
    kept checkpoint marked; per epoch for runs without ``evals``) and, for adversarial runs,
    ``policy.png`` (probability of the ``top`` most-chosen actions over the snapshots) into ``run_dir``.

    Returns the written paths. Raises ``FileNotFoundError`` if ``metrics.json`` is missing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    m = json.loads((run_dir / "metrics.json").read_text())
    steps = m.get("steps", [])
    out = []
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.6))
    if steps:
        s = [r["step"] for r in steps]
        ax[0].plot(s, [r["loss"] for r in steps], lw=0.8)
        for e in m["epochs"][1:]:
            first = next((r["step"] for r in steps if r["epoch"] == e["epoch"]), None)
            if first is not None:
                ax[0].axvline(first, color="grey", ls=":", lw=0.7)
        rs = [(r["step"], r["reward"]) for r in steps if "reward" in r]
        if rs:
            ax[1].plot(*zip(*rs), lw=0.8, color="tab:red")
        else:
            ax[1].text(0.5, 0.5, "no adversarial negatives in this run", ha="center", va="center",
                       transform=ax[1].transAxes, color="grey")
    ax[0].set(title="SupCon loss (eq. 4)", xlabel="step")
    ax[1].set(title="mean reward of sampled negatives (cosine)", xlabel="step")
    evals = [e for e in m.get("evals", []) if "step" in e]
    if evals:   # every validation point (step 0 = the initial model, mid-epoch evaluations), the kept one marked
        for key, lab in (("mrr_item2patent", "item→patent"), ("mrr_patent2item", "patent→item")):
            ax[2].plot([e["step"] for e in evals], [e[key] for e in evals], marker="o", ms=3, label=lab)
        if m.get("best_step", -1) >= 0:
            ax[2].axvline(m["best_step"], color="grey", ls="--", lw=0.8, label=f"kept (step {m['best_step']})")
        ax[2].set(title="validation MRR", xlabel="step")
    else:
        ep = [e["epoch"] for e in m["epochs"]]
        for key, lab in (("mrr_item2patent", "item→patent"), ("mrr_patent2item", "patent→item")):
            ax[2].plot(ep, [e["val"][key] for e in m["epochs"]], marker="o", label=lab)
        ax[2].set(title="validation MRR", xlabel="epoch")
    ax[2].legend()
    fig.tight_layout()
    p = run_dir / "training.png"
    atomic_savefig(fig, p, dpi=110)
    plt.close(fig)
    out.append(p)

    pol = run_dir / "policy.npz"
    if pol.is_file():
        z = np.load(pol, allow_pickle=False)
        fig, ax = plt.subplots(1, 2, figsize=(13, 4))
        for a, key, title in ((ax[0], "patent_policy", "patent adversary (probe item → patents)"),
                              (ax[1], "item_policy", "item adversary (probe patent → items)")):
            P = z[key]                                        # (snapshots, n_actions)
            cols = np.argsort(-P.max(axis=0))[:top]
            im = a.imshow(P[:, cols].T, aspect="auto", cmap="viridis", interpolation="nearest")
            a.set(title=title, xlabel="snapshot (training step →)", ylabel=f"top-{len(cols)} actions")
            ticks = np.linspace(0, len(z["step"]) - 1, min(6, len(z["step"]))).astype(int)
            a.set_xticks(ticks, [str(int(z["step"][t])) for t in ticks])
            fig.colorbar(im, ax=a, label="π(action)")
        fig.tight_layout()
        p = run_dir / "policy.png"
        atomic_savefig(fig, p, dpi=110)
        plt.close(fig)
        out.append(p)
    return out
