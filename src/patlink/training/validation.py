"""Validation metrics of a linker during training, in both ranking directions.

The measures come from :mod:`patlink.retrieval.measures` (the ranking-metric core below the training layer):
:func:`~patlink.retrieval.measures.exact_mrr` on the full score matrix, and with ``full=True`` MRR, MAP, nDCG@10,
P@k, Recall@k and R_cap@k (k = 1, 5, 10, 20, 100) of the top-100 run, computed with ranx by
:func:`~patlink.retrieval.measures.per_query_metrics`. The ``mrr`` a checkpoint is selected on is the top-100 run's
MRR with ``full=True``, the exact one otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from patlink.retrieval.measures import exact_mrr, per_query_metrics

__all__ = ["FULL_METRICS", "member_knn_scores", "ranking_metrics", "two_directions", "validation_scores"]

#: The metrics of a full validation (the names of :mod:`patlink.retrieval.measures`).
FULL_METRICS = ["mrr", "map", "ndcg@10"] + [f"{m}@{k}" for k in (1, 5, 10, 20, 100) for m in ("p", "recall", "rcap")]


def ranking_metrics(scores: np.ndarray, qids: Sequence[str], dids: Sequence[str], qrels: dict[str, dict[str, int]],
                    top_k: int = 100, full: bool = True) -> dict[str, float]:
    """Metrics of the score matrix ``scores`` ``(len(qids), len(dids))`` against ``qrels`` (query → {doc: 1}).

    Returns:
        ``{"mrr_exact", "n_queries", "mrr"}`` and, with ``full``, every metric of :data:`FULL_METRICS` on the run
        of each query's ``top_k`` documents (queries with a relevant document among ``dids``).
    """
    didx = {d: k for k, d in enumerate(dids)}
    relevant = [[didx[d] for d in qrels.get(q, {}) if d in didx] for q in qids]
    out: dict[str, Any] = {"mrr_exact": exact_mrr(scores, relevant), "n_queries": sum(1 for r in relevant if r)}
    if not full or not out["n_queries"]:
        out["mrr"] = out["mrr_exact"]
        return out
    k = min(top_k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    run = {q: {dids[j]: float(scores[r, j]) for j in top[r]} for r, q in enumerate(qids) if relevant[r]}
    judged, vals = per_query_metrics({q: qrels[q] for q in run}, run, FULL_METRICS)
    out["n_queries"] = len(judged)
    for m in FULL_METRICS:
        out[m] = float(vals[m].mean())
    return out


def two_directions(i2p: dict, p2i: dict) -> dict[str, Any]:
    """``{"item2patent", "patent2item", "mrr_item2patent", "mrr_patent2item", "mrr_mean"}`` of two directions'
    :func:`ranking_metrics`."""
    out: dict[str, Any] = {"item2patent": i2p, "patent2item": p2i, "mrr_item2patent": i2p["mrr"],
                           "mrr_patent2item": p2i["mrr"]}
    out["mrr_mean"] = 0.5 * (out["mrr_item2patent"] + out["mrr_patent2item"])
    return out


def validation_scores(model, item_arrays: dict[str, np.ndarray], patent_arrays: dict[str, np.ndarray],
                      val_links: list[tuple[str, str]], train_links: list[tuple[str, str]],
                      batch_size: int = 256, full: bool = True, lexical=None, lexical_weight: float = 0.0) -> dict:
    """Validation metrics of a linker whose patents have text, in both directions, in the *filtered* setting.

    item→patent: each validation item ranks every patent of the dataset; patent→item: each validation patent ranks
    every item. Training links are removed from the rankings (they are known, not predictions). With ``lexical``
    (a :class:`~patlink.training.lexical.LexicalPrior`) the scores are ``cos + lexical_weight · B`` per direction,
    the function residual training optimises.

    Args:
        model: a :class:`~patlink.models.linker.Linker`. item_arrays / patent_arrays: id → token array of every
            candidate. batch_size: arrays per forward pass. full: :func:`ranking_metrics`'s ``full``.

    Returns:
        :func:`two_directions` of the two :func:`ranking_metrics`.
    """
    all_items, all_patents = list(item_arrays), list(patent_arrays)
    I = model.encode_arrays("item", [item_arrays[i] for i in all_items], batch_size)
    Pt = model.encode_arrays("patent", [patent_arrays[p] for p in all_patents], batch_size)
    S = I @ Pt.T
    ii = {x: k for k, x in enumerate(all_items)}
    pi = {x: k for k, x in enumerate(all_patents)}
    ST = S.T   # a view: without a prior both directions share one matrix
    if lexical is not None and lexical_weight:
        B, Bt = lexical.block(all_items, all_patents)
        S, ST = S + lexical_weight * B.numpy(), ST + lexical_weight * Bt.numpy()
    for i, p in train_links:
        if i in ii and p in pi:
            S[ii[i], pi[p]] = -np.inf
            ST[pi[p], ii[i]] = -np.inf
    res = {}
    for direction in ("item2patent", "patent2item"):
        qrels: dict[str, dict[str, int]] = {}
        for i, p in val_links:
            q, d = (i, p) if direction == "item2patent" else (p, i)
            qrels.setdefault(q, {})[d] = 1
        qids = sorted(qrels)
        if direction == "item2patent":
            sub, dids = S[[ii[q] for q in qids]], all_patents
        else:
            sub, dids = ST[[pi[q] for q in qids]], all_items
        res[direction] = ranking_metrics(np.nan_to_num(sub, neginf=-1e9), qids, dids, qrels, full=full)
    return two_directions(res["item2patent"], res["patent2item"])


def member_knn_scores(queries: np.ndarray, members: np.ndarray, patent_members: Sequence[Sequence[int]],
                      k: int) -> np.ndarray:
    """kNN scores of patents known by their member items (``patents.scoring="members"``, ``knn-linker``).

    ``score(q, p) = Σ_{n ∈ N_k(q), n ∈ members(p)} max(0, cos(q, n))`` over the ``k`` members most similar to
    ``q`` (the ``knn`` baseline's formula, :mod:`patlink.retrieval.profiles`, on learned embeddings).

    Args:
        queries: ``(n_q, d)`` L2-normalised query embeddings (item encoder).
        members: ``(n_members, d)`` L2-normalised member embeddings (patent encoder, one item each).
        patent_members: for each patent, the row indices of its members in ``members``.
        k: neighbours per query (clipped to ``n_members``).

    Returns:
        ``(n_q, n_patents)`` float32; 0 where no neighbour supports a patent.
    """
    from scipy.sparse import csr_matrix

    from patlink.retrieval.profiles import knn_link_scores

    rows = np.concatenate([np.asarray(ms, dtype=np.int64) for ms in patent_members]) if patent_members else \
        np.zeros(0, dtype=np.int64)
    cols = np.repeat(np.arange(len(patent_members)), [len(ms) for ms in patent_members])
    link = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(members.shape[0], len(patent_members)))
    return knn_link_scores(queries, members, link, k)
