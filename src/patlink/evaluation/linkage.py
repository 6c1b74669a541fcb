"""Evaluate a linkage method on a dataset split, in both directions (item→patent and patent→item).

The evaluation *pool* decides what a query is ranked against:

* ``split`` (default for graph-disjoint splits, as in ``000_…txt`` §4): the documents of the evaluated split —
  test items are ranked against test patents, which the model never saw;
* ``all``: every document of the dataset (e.g. the new-product protocol, where patents are shared);
* plus optional *distractors* (another dataset's patents, e.g. ``api-patents``) appended to the patent pool.

Hybrid convex weights are tuned on the validation links, never on the evaluated split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from patlink.data.dataset import Dataset, Direction
from patlink.evaluation.metrics import evaluate_run
from patlink.retrieval.base import Run

__all__ = ["LinkageEvalConfig", "check_not_trained_on", "evaluate_linkage", "pools_for", "tune_fusion_weights",
           "tune_hybrid_alpha"]


@dataclass
class LinkageEvalConfig:
    """Settings of :func:`evaluate_linkage`.

    Attributes:
        directions: which directions to evaluate.
        pool: ``split`` or ``all`` (see module docstring).
        depth: documents retrieved per query (runs are cut there; MAP/AUCs treat the rest as unranked).
        n_bootstrap: bootstrap resamples for the CIs.
        seed: seed of the bootstrap.
        cutoffs: k for P@k, Recall@k, R_cap@k.
    """

    directions: tuple[str, ...] = ("item2patent", "patent2item")
    pool: str = "split"
    depth: int = 1000
    n_bootstrap: int = 1000
    seed: int = 0
    cutoffs: tuple[int, ...] = (1, 5, 10, 20, 100)
    distractor_patents: dict[str, str] = field(default_factory=dict)


def pools_for(ds: Dataset, links: Sequence[tuple[str, str]], pool: str = "split",
              distractor_patents: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Item texts and patent texts of the evaluation pool: ``(items, patents)`` id → text.

    Raises:
        ValueError: on an unknown pool, an empty split, or a side with no text at all (e.g. ``honeywell-vpm``'s
            patents before hydration).
    """
    if not links:
        raise ValueError("the evaluated split has no links")
    if pool == "split":
        item_ids = sorted({i for i, _ in links})
        patent_ids = sorted({p for _, p in links})
    elif pool == "all":
        item_ids, patent_ids = list(ds.items), list(ds.patents)
    else:
        raise ValueError(f"unknown pool {pool!r}; use 'split' or 'all'")
    items = ds.item_texts(item_ids)
    patents = ds.patent_texts(patent_ids)
    for pid, text in (distractor_patents or {}).items():
        patents.setdefault(pid, text)
    name = getattr(ds, "name", "the dataset")
    if patents and not any(t.strip() for t in patents.values()):
        raise ValueError(
            f"none of the {len(patents)} candidate patents has text in view {','.join(ds.patent_view)}: {name} "
            f"ships its patents without text. Hydrate them (`patlink hydrate {name} --source ...`), or evaluate "
            "new products against patents known by their products (`--protocol new-product`)")
    if items and not any(t.strip() for t in items.values()):
        raise ValueError(f"none of the {len(items)} items has text in view {','.join(ds.item_view)}")
    return items, patents


def _queries_docs(direction: Direction, items: dict[str, str], patents: dict[str, str]):
    return (items, patents) if direction == "item2patent" else (patents, items)


def _validation_runs(ds: Dataset, val_links: Sequence[tuple[str, str]], retrievers, direction: Direction,
                     depth: int) -> tuple[list[Run], dict]:
    """Each retriever's run over the validation pool (the validation split's items and patents) and its qrels."""
    items, patents = pools_for(ds, val_links, "split")
    queries, docs = _queries_docs(direction, items, patents)
    qrels = ds.qrels(val_links, direction)
    queries = {q: queries[q] for q in qrels}
    runs = []
    for r in retrievers:
        r.index(docs)
        runs.append(r.search(queries, depth))
    return runs, qrels


def tune_hybrid_alpha(ds: Dataset, val_links: Sequence[tuple[str, str]], first, second,
                      direction: Direction = "item2patent", metric: str = "mrr", depth: int = 1000) -> float:
    """Tune the convex weight of ``first`` (vs ``second``) on validation links (pool = validation split)."""
    from patlink.retrieval.fusion import tune_convex_weight

    (run_a, run_b), qrels = _validation_runs(ds, val_links, (first, second), direction, depth)
    return tune_convex_weight(run_a, run_b, qrels, metric)


def tune_fusion_weights(ds: Dataset, val_links: Sequence[tuple[str, str]], fusion,
                        direction: Direction = "item2patent", metric: str = "mrr", depth: int = 1000,
                        step: float = 0.1) -> list[float]:
    """Convex weights of a :class:`~patlink.retrieval.fusion.FusionRetriever`'s runs, tuned on validation links
    (pool = validation split) over the weight simplex (:func:`~patlink.retrieval.fusion.tune_convex_weights`).

    Returns:
        One weight per retriever of ``fusion`` (summing to 1); ``fusion`` itself is left unchanged (its
        retrievers are indexed on the validation pool: index them again before searching another pool).
    """
    from patlink.retrieval.fusion import tune_convex_weights

    runs, qrels = _validation_runs(ds, val_links, fusion.retrievers, direction, depth)
    return tune_convex_weights(runs, qrels, metric, step)[0]


def evaluate_linkage(
    ds: Dataset,
    eval_links: Sequence[tuple[str, str]],
    method: str,
    config: LinkageEvalConfig | None = None,
    val_links: Sequence[tuple[str, str]] | None = None,
    show_progress: bool = False,
) -> dict:
    """Evaluate ``method`` (see :func:`patlink.retrieval.factory.get_retriever`) on ``eval_links``.

    Returns:
        ``{direction: {"metrics": evaluate_run(...) dict, "run": Run, "pool": {"queries", "documents"},
        "method": name, "alpha": α or None, "weights": fusion weights of ``runs/NAME+A+B`` or None}}``. Queries
        with empty text are reported in ``pool`` (``empty_queries``) and still evaluated (they score 0 unless the
        method ranks them by chance).

    Raises:
        ValueError: ``runs/NAME+A+B`` (weights tuned on validation) without validation links.
    """
    from patlink.retrieval.factory import get_retriever, is_multi_fusion, split_chunks

    cfg = config or LinkageEvalConfig()
    items, patents = pools_for(ds, eval_links, cfg.pool, cfg.distractor_patents)
    multi = is_multi_fusion(method)
    out: dict = {}
    for direction in cfg.directions:
        alpha = weights = None
        low = split_chunks(method)[0].lower()
        needs_alpha = not multi and (low in ("hybrid", "hybrid-convex") or low.endswith("+bm25"))
        retriever = None
        if needs_alpha and val_links and not _has_stored_alpha(method):
            # a two-run convex fusion: built once, its weight tuned in place on the validation links
            retriever = get_retriever(method, direction, alpha=0.5, show_progress=show_progress)
            if hasattr(retriever, "first"):
                alpha = tune_hybrid_alpha(ds, val_links, retriever.first, retriever.second, direction,
                                          depth=cfg.depth)
                retriever.set_alpha(alpha)
            else:
                retriever = None
        if retriever is None:
            retriever = get_retriever(method, direction, alpha=alpha, show_progress=show_progress)
        if multi:
            if not val_links:
                raise ValueError(f"{method!r} fuses several runs with weights tuned on validation links, and this "
                                 "split has none")
            weights = retriever.weights = tune_fusion_weights(ds, val_links, retriever, direction, depth=cfg.depth)
        queries, docs = _queries_docs(direction, items, patents)
        retriever.index(docs)
        qrels = ds.qrels(eval_links, direction)
        queries = {q: queries[q] for q in qrels}
        run: Run = retriever.search(queries, min(cfg.depth, len(docs)))
        metrics = evaluate_run(qrels, run, cfg.cutoffs, cfg.n_bootstrap, cfg.seed, doc_ids=list(docs))
        out[direction] = {
            "method": getattr(retriever, "name", method),
            "alpha": getattr(retriever, "alpha", None) if needs_alpha else None,
            "weights": weights,
            "metrics": metrics,
            "run": run,
            "qrels": qrels,
            "doc_ids": list(docs),
            "pool": {"queries": len(queries), "documents": len(docs),
                     "empty_queries": sum(1 for t in queries.values() if not t.strip()),
                     "empty_documents": sum(1 for t in docs.values() if not t.strip())},
        }
    return out


def check_not_trained_on(method: str, eval_links: Sequence[tuple[str, str]], split: str = "test") -> None:
    """Refuse to evaluate a trained linker on links it was trained (or validated) on.

    Every ``+``-part of ``method`` that is a trained run (``runs/NAME``, ``knn-linker:runs/NAME``, …) is checked
    against the ``train`` and ``val`` links of its ``split.json`` (only ``train`` when ``split == "val"``: a run is
    meant to be validated there). A run trained on another partition (``patlink train --seed 0`` evaluated with
    ``patlink eval --seed 1``, or ``--folds`` folds of another seed) would otherwise score its own training pairs.

    Raises:
        ValueError: naming the run, how many evaluated links it saw and how to fix it.
    """
    from patlink.retrieval.factory import is_linker_dir, run_split

    evaluated = {tuple(x) for x in eval_links}
    for part in method.split("+"):
        path = part.rpartition(":")[2]
        if not path or not is_linker_dir(path):
            continue
        sp = run_split(path)
        seen = {x for k in (("train",) if split == "val" else ("train", "val")) for x in sp.get(k, [])}
        leaked = seen & evaluated
        if leaked:
            raise ValueError(
                f"{path} was trained or validated on {len(leaked)} of the {len(evaluated)} {split} links evaluated "
                f"here (e.g. {min(leaked)}): evaluate it on the split it was trained with (the same --seed, "
                f"--split-dir or --folds/--seed as `patlink train`), or retrain it")


def _has_stored_alpha(method: str) -> bool:
    from pathlib import Path

    base = method.partition("+")[0]
    return (Path(base) / "fusion.json").is_file()
