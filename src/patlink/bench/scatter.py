"""2-D projection of patent embeddings coloured by CPC section, before vs after fine-tuning.

As PatentCL's ``patent_embedding_scatter.ipynb`` (the PatentCL model card): embed the cpc-claims ``groups1400`` patents
(unseen by every recipe) with two models, project each to 2-D (PCA or t-SNE, scikit-learn) and draw them side
by side, one colour per CPC section; patents with several sections are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from patlink.io import atomic_savefig

__all__ = ["scatter_before_after"]


def scatter_before_after(before: str, after: str, path: str | Path, method: str = "pca", max_docs: int = 800,
                         seed: int = 0) -> Path:
    """Write a PNG with one panel per model.

    Args:
        before / after: model names or folders (see :class:`patlink.bench.models.ModelSpec`).
        path: PNG path (written atomically).
        method: ``pca`` or ``tsne``.
        max_docs: patents plotted (seeded sample of the single-section groups1400 patents).

    Returns:
        ``Path`` of the PNG. Raises ``ValueError`` on an unknown method.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from patlink.bench.clustering import select_documents
    from patlink.bench.models import parse_models
    from patlink.data import load_dataset

    if method not in ("pca", "tsne"):
        raise ValueError(f"unknown projection {method!r}; use pca or tsne")
    ds = load_dataset("cpc-claims")
    texts = ds.patent_texts(view="claims")
    ids, sections = select_documents(ds.labels["cpc_section"], sorted(ds.doc_splits["groups1400"]))
    if len(ids) > max_docs:
        keep = np.random.default_rng(seed).choice(len(ids), max_docs, replace=False)
        ids, sections = [ids[i] for i in sorted(keep)], [sections[i] for i in sorted(keep)]
    specs = parse_models([before, after])
    if len(specs) == 1:
        specs = specs * 2
    secs = sorted(set(sections))
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for ax, spec, title in zip(axes, specs, ("before", "after")):
        x = spec.embed([texts[i] for i in ids])
        xy = PCA(2, random_state=seed).fit_transform(x) if method == "pca" else TSNE(
            2, random_state=seed, init="pca", perplexity=30).fit_transform(x)
        for k, s in enumerate(secs):
            m = np.array([t == s for t in sections])
            ax.scatter(xy[m, 0], xy[m, 1], s=8, alpha=0.7, color=cmap(k % 10), label=s)
        ax.set_title(f"{title}: {spec.name}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(title="CPC section", fontsize=7, markerscale=2, loc="best")
    fig.suptitle(f"cpc-claims groups1400 claims, {method.upper()} of embeddings ({len(ids)} patents)", fontsize=10)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)
