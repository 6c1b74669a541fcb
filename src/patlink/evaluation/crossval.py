"""K-fold cross-validated evaluation: every link is tested once, per-query metrics pooled over the folds.

A single 15% test split of ``pap2pat`` has 227 queries: a paired test on MRR then cannot separate methods that
differ by less than ~0.02. With :func:`patlink.graph.split.kfold_splits` each link is in exactly one fold's test
part; each method is evaluated on every fold (trained models: one per fold, fusion weights tuned on that fold's
validation part) and the per-query runs are pooled, so metrics, bootstrap CIs and paired tests use all links
(1,513 queries on ``pap2pat``). The folds' models share training data, which the pooled test ignores: it measures
the variation over test queries, as a single split does, not over training sets (Dietterich 1998). Per-fold
MRRs are kept to show that variation.

Trained models are found by folder convention: ``patlink train --folds K --out runs/NAME`` writes
``runs/NAME/fold0`` … ``runs/NAME/fold{K-1}``, and a method using ``runs/NAME`` (or ``runs/NAME+bm25``) reads
``runs/NAME/fold{f}`` in fold ``f`` (:meth:`patlink.methods.Method.with_subfolder`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from patlink.evaluation.metrics import evaluate_run

__all__ = ["pool_fold_results"]


def pool_fold_results(per_fold: Sequence[dict], cutoffs: Sequence[int] = (1, 5, 10, 20, 100),
                      n_bootstrap: int = 1000, seed: int = 0,
                      on_method: Callable[[str], None] | None = None) -> dict:
    """Pool the results of several folds into one result per method and direction.

    Args:
        per_fold: one ``{method: {direction: result}}`` mapping per fold, as returned by
            :func:`patlink.cli.eval_cmd.run_eval` / :func:`patlink.evaluation.linkage.evaluate_linkage`. When a
            direction's queries recur across folds (patent→item under the new-product protocol: patents are
            shared, each fold asks them about its own new products), they are kept apart as ``"ID@fold{f}"``.
        cutoffs / n_bootstrap / seed: as in :func:`~patlink.evaluation.metrics.evaluate_run`.

    Returns:
        The same shape (so reports, tables and paired tests work unchanged): ``run`` and ``qrels`` are the unions
        over folds, ``metrics`` are recomputed on them (pair AUCs only when every fold ranked the same candidate
        pool, e.g. ``--pool all``), ``pool["queries"]`` is the total, and ``folds`` lists each fold's
        ``{"mrr", "n_queries", "alpha", "weights", "method"}``; ``query_fold`` maps each (pooled) query id to the
        fold that tested it.

    Raises:
        ValueError: if ``per_fold`` is empty or folds have different methods/directions.
    """
    if not per_fold:
        raise ValueError("no fold results to pool")
    methods = list(per_fold[0])
    # Under the new-product protocol the patents are shared, so a patent→item query (a patent) can be tested in
    # several folds, each time against that fold's new products: those are distinct queries, renamed "ID@fold{f}".
    shared: dict[str, bool] = {}
    for d in per_fold[0][methods[0]] if methods else ():
        seen: set[str] = set()
        shared[d] = False
        for fold in per_fold:
            q = set(fold[methods[0]][d]["qrels"]) if d in fold.get(methods[0], {}) else set()
            shared[d] |= bool(seen & q)
            seen |= q
    out: dict = {}
    for m in methods:
        if on_method:
            on_method(m)
        out[m] = {}
        for d in per_fold[0][m]:
            try:
                rs = [fold[m][d] for fold in per_fold]
            except KeyError as e:
                raise ValueError(f"fold results differ: {m!r}/{d!r} missing in a fold ({e})") from None
            qrels: dict = {}
            run: dict = {}
            query_fold: dict[str, int] = {}
            for f, r in enumerate(rs):
                tag = (lambda q, f=f: f"{q}@fold{f}") if shared.get(d) else (lambda q: q)
                qrels.update({tag(q): v for q, v in r["qrels"].items()})
                run.update({tag(q): v for q, v in r["run"].items()})
                query_fold.update({tag(q): f for q in r["qrels"]})
            same_pool = all(r.get("doc_ids") == rs[0].get("doc_ids") for r in rs)
            doc_ids = rs[0].get("doc_ids") if same_pool else None
            metrics = evaluate_run(qrels, run, cutoffs, n_bootstrap, seed, doc_ids=doc_ids)
            pool = dict(rs[0]["pool"])
            pool["queries"] = sum(r["pool"]["queries"] for r in rs)
            pool["empty_queries"] = sum(r["pool"].get("empty_queries", 0) for r in rs)
            pool["folds"] = len(rs)
            alphas = [r.get("alpha") for r in rs]
            weights = [r.get("weights") for r in rs]
            out[m][d] = {
                "method": m if len({r["method"] for r in rs}) > 1 else rs[0]["method"],
                "alpha": None if all(a is None for a in alphas) else alphas,
                "weights": None if all(w is None for w in weights) else weights,
                "metrics": metrics, "run": run, "qrels": qrels, "doc_ids": doc_ids, "pool": pool,
                "query_fold": query_fold,
                "folds": [{"mrr": r["metrics"]["mrr"], "n_queries": r["metrics"]["n_queries"],
                           "alpha": r.get("alpha"), "weights": r.get("weights"), "method": r["method"]}
                          for r in rs],
            }
    return out
