"""Clustering of frozen embeddings against known groups: k-means (scikit-learn), V-measure and ARI.

The clustering probe of *Benchmarking Patent Embeddings* (multi-task evaluation of 22 models): k-means
with k = number of gold groups, scored by V-measure (main, Rosenberg & Hirschberg 2007) and the adjusted Rand index
(Hubert & Arabie 1985). k-means is restarted with
``n_seeds`` seeds; the mean and the standard deviation over seeds are reported (the spread is the seed noise,
not a confidence interval over documents).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

__all__ = ["ClusteringConfig", "select_documents", "evaluate_clustering", "run_clustering_task"]


@dataclass
class ClusteringConfig:
    """``n_seeds`` k-means restarts scored separately (each with ``n_init`` inits); ``seed`` of the first."""

    n_seeds: int = 5
    n_init: int = 3
    seed: int = 0


def select_documents(labels: dict[str, list[str]], ids: list[str], single_label: bool = True,
                     min_per_label: int = 1, top_labels: int | None = None, per_label: int | None = None,
                     seed: int = 0) -> tuple[list[str], list[str]]:
    """Pick the documents and their gold group.

    Args:
        labels: document id → labels.
        ids: candidate documents (in a fixed order).
        single_label: keep only documents with exactly one label (else the first label is the group).
        min_per_label: drop groups smaller than this.
        top_labels: keep only the ``top_labels`` largest groups.
        per_label: sample at most this many documents per group (seeded, without replacement).

    Returns:
        ``(doc_ids, groups)`` aligned lists.
    """
    pairs = []
    for i in ids:
        labs = labels.get(i) or []
        if not labs or (single_label and len(labs) != 1):
            continue
        pairs.append((i, labs[0]))
    counts = Counter(g for _, g in pairs)
    keep = {g for g, c in counts.items() if c >= min_per_label}
    if top_labels:
        keep = {g for g, _ in sorted(((g, c) for g, c in counts.items() if g in keep),
                                     key=lambda gc: (-gc[1], gc[0]))[:top_labels]}
    pairs = [(i, g) for i, g in pairs if g in keep]
    if per_label:
        rng = np.random.default_rng(seed)
        by: dict[str, list[str]] = {}
        for i, g in pairs:
            by.setdefault(g, []).append(i)
        chosen = set()
        for g in sorted(by):
            members = by[g]
            take = rng.choice(len(members), size=min(per_label, len(members)), replace=False)
            chosen.update(members[t] for t in take)
        pairs = [(i, g) for i, g in pairs if i in chosen]
    return [i for i, _ in pairs], [g for _, g in pairs]


def evaluate_clustering(x, groups: list[str], config: ClusteringConfig | None = None) -> dict:
    """k-means on ``x`` (``(n, d)`` dense or sparse, rows L2-normalised) with k = number of distinct groups.

    Returns:
        ``{"v_measure", "ari", "v_measure_std", "ari_std", "homogeneity", "completeness", "k", "n_docs",
        "per_seed": [...]}``.

    Raises:
        ValueError: with fewer than 2 groups or fewer documents than groups.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure

    cfg = config or ClusteringConfig()
    k = len(set(groups))
    if k < 2 or len(groups) < k:
        raise ValueError(f"clustering needs ≥ 2 groups and ≥ k documents (got {k} groups, {len(groups)} docs)")
    per_seed = []
    for s in range(cfg.n_seeds):
        km = KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.seed + s)
        pred = km.fit_predict(x)
        h, c, v = homogeneity_completeness_v_measure(groups, pred)
        per_seed.append({"v_measure": float(v), "ari": float(adjusted_rand_score(groups, pred)),
                         "homogeneity": float(h), "completeness": float(c)})
    out = {m: float(np.mean([r[m] for r in per_seed])) for m in per_seed[0]}
    out.update({"v_measure_std": float(np.std([r["v_measure"] for r in per_seed])),
                "ari_std": float(np.std([r["ari"] for r in per_seed])),
                "k": k, "n_docs": len(groups), "per_seed": per_seed})
    return out


def run_clustering_task(task, model, view: str, config: ClusteringConfig | None = None) -> dict:
    """Run a clustering :class:`~patlink.bench.tasks.TaskMetadata` for one model and view. Main: ``v_measure``."""
    from patlink.bench.features import featurize
    from patlink.bench.tasks import VIEWS
    from patlink.data import load_dataset

    ds = load_dataset(task.dataset)
    texts = ds.patent_texts(view=VIEWS[view] if view in VIEWS else view.split("+"))
    pool = ds.doc_splits.get(task.eval_split) if task.eval_split != "all" else None
    pool = sorted(pool if pool is not None else ds.patents)
    pool = [p for p in pool if texts.get(p)]
    p = task.params
    ids, groups = select_documents(ds.labels[task.label], pool, single_label=p.get("single_label", True),
                                   min_per_label=p.get("min_per_label", 1), top_labels=p.get("top_labels"),
                                   per_label=p.get("per_label"))
    x, _ = featurize(model, [texts[i] for i in ids])
    res = evaluate_clustering(x, groups, config)
    res["groups"] = dict(Counter(groups).most_common())
    res["main_score"] = res["v_measure"]
    return res
