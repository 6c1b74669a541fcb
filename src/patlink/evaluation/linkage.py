"""Evaluate a linkage method on a dataset split, in both directions (item→patent and patent→item).

The evaluation *pool* decides what a query is ranked against:

* ``all`` (the BEIR convention, default for BEIR folders and the new-product protocol): every document of the
  dataset (corpus);
* ``split`` (default for graph-disjoint splits of bundled datasets, as in El Bouari & de Rassenfosse,
  "Product-Patent linkage prediction"): the documents of the evaluated split — test items are ranked against
  test patents, which the model never saw;
* plus optional *distractors* (another dataset's patents, e.g. ``api-patents``) appended to the patent pool.

Whatever a method tunes (fusion weights, ``k``) is tuned on the validation links, never on the evaluated split.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patlink.data.dataset import Dataset, Direction
from patlink.data.pools import pools_for
from patlink.evaluation.metrics import evaluate_run
from patlink.methods import Method, Validation
from patlink.retrieval.base import Run

__all__ = ["LinkageEvalConfig", "check_not_trained_on", "evaluate_linkage", "pools_for", "run_split",
           "validation_for"]


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
        distractor_patents: extra patents (id → text) appended to the patent pool.
        missing_text: ``"error"`` (default) refuses a pool whose patents are only partly with text in the view;
            ``"keep"`` ranks the textless ones as empty documents (:func:`patlink.data.pools.pools_for`).
    """

    directions: tuple[str, ...] = ("item2patent", "patent2item")
    pool: str = "split"
    depth: int = 1000
    n_bootstrap: int = 1000
    seed: int = 0
    cutoffs: tuple[int, ...] = (1, 5, 10, 20, 100)
    distractor_patents: dict[str, str] = field(default_factory=dict)
    missing_text: str = "error"


def _queries_docs(direction: Direction, items: dict[str, str], patents: dict[str, str]):
    return (items, patents) if direction == "item2patent" else (patents, items)


def validation_for(ds: Dataset, val_links: Sequence[tuple[str, str]] | None, direction: Direction,
                   depth: int = 1000, metric: str = "mrr", missing_text: str = "error") -> Validation | None:
    """The :class:`~patlink.methods.Validation` of ``val_links`` in ``direction``: the validation split's queries
    ranked against the validation split's documents (pool ``split``). ``None`` without validation links."""
    if not val_links:
        return None
    items, patents = pools_for(ds, val_links, "split", missing_text=missing_text)
    queries, docs = _queries_docs(direction, items, patents)
    return Validation(queries, docs, ds.qrels(val_links, direction), metric=metric, depth=depth)


def evaluate_linkage(
    ds: Dataset,
    eval_links: Sequence[tuple[str, str]],
    method: Method,
    config: LinkageEvalConfig | None = None,
    val_links: Sequence[tuple[str, str]] | None = None,
) -> dict:
    """Evaluate ``method`` on ``eval_links`` in each direction of ``config.directions``.

    In each direction the method is configured (:meth:`~patlink.methods.Method.for_direction`), tuned on the
    validation links when it has something to tune (:meth:`~patlink.methods.Method.fit`; never on the
    evaluated links), indexed on the pool and searched with the evaluated queries.

    Returns:
        ``{direction: {"method": label, "alpha": α or None, "weights": fusion weights or None, "params",
        "metrics": evaluate_run(...) dict, "run": Run, "qrels", "doc_ids", "pool": {"queries", "documents",
        "empty_queries", "empty_documents"}}}``. Queries with empty text are counted in ``pool`` and still
        evaluated (they score 0 unless the method ranks them by chance).

    Raises:
        ValueError: an empty split, a pool without text, or a fusion that needs validation links when there are
            none.
    """
    cfg = config or LinkageEvalConfig()
    items, patents = pools_for(ds, eval_links, cfg.pool, cfg.distractor_patents, cfg.missing_text)
    out: dict = {}
    for direction in cfg.directions:
        if direction not in method.directions:
            continue
        m = method.for_direction(direction)
        if m.tunable:
            m = m.fit(validation_for(ds, val_links, direction, cfg.depth, missing_text=cfg.missing_text))
        queries, docs = _queries_docs(direction, items, patents)
        m.index(docs)
        qrels = ds.qrels(eval_links, direction)
        queries = {q: queries[q] for q in qrels}
        run: Run = m.search(queries, min(cfg.depth, len(docs)))
        metrics = evaluate_run(qrels, run, cfg.cutoffs, cfg.n_bootstrap, cfg.seed, doc_ids=list(docs))
        out[direction] = {
            "method": m.label(),
            "alpha": getattr(m, "alpha", None),
            "weights": getattr(m, "weights", None) if getattr(m, "parts", None) and len(m.parts) > 2 else None,
            "params": m.params(),
            "metrics": metrics,
            "run": run,
            "qrels": qrels,
            "doc_ids": list(docs),
            "pool": {"queries": len(queries), "documents": len(docs),
                     "empty_queries": sum(1 for t in queries.values() if not t.strip()),
                     "empty_documents": sum(1 for t in docs.values() if not t.strip())},
        }
    return out


def check_not_trained_on(method: Method, eval_links: Sequence[tuple[str, str]], split: str = "test") -> None:
    """Refuse to evaluate a trained model on links it was trained (or validated) on.

    Every trained model folder of ``method`` (:meth:`~patlink.methods.Method.trained_paths`) is checked against the
    ``train`` and ``val`` links of its ``split.json`` (only ``train`` when ``split == "val"``: a run is meant to be
    validated there). A run trained on another partition (``patlink train --seed 0`` evaluated with
    ``patlink eval --seed 1``, or folds of another seed) would otherwise score its own training pairs.

    Raises:
        ValueError: naming the run, how many evaluated links it saw and how to fix it.
    """
    evaluated = {tuple(x) for x in eval_links}
    for path in method.trained_paths():
        sp = run_split(path)
        seen = {x for k in (("train",) if split == "val" else ("train", "val")) for x in sp.get(k, [])}
        leaked = seen & evaluated
        if leaked:
            raise ValueError(
                f"{path} was trained or validated on {len(leaked)} of the {len(evaluated)} {split} links evaluated "
                f"here (e.g. {min(leaked)}): evaluate it on the split it was trained with (the same --seed, "
                f"--split-dir or --folds/--seed as `patlink train`), or retrain it")


def run_split(path: str | Path) -> dict[str, list[tuple[str, str]]]:
    """The links a trained run was trained, validated and tested on (``split.json`` written by the trainer):
    ``{"train": [(item_id, patent_id), …], "val": […], "test": […]}``; ``{}`` when the run has no ``split.json``."""
    f = Path(path) / "split.json"
    if not f.is_file():
        return {}
    return {k: [tuple(x) for x in v] for k, v in json.loads(f.read_text()).items() if isinstance(v, list)}
