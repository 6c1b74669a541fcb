"""Fusion weight of a trained linker with BM25, tuned on VALIDATION links and stored with the model.

``patlink eval --method runs/NAME+bm25`` fuses the linker's run with BM25's by a min-max convex combination
(``ranx`` ``wsum``, :func:`patlink.retrieval.fusion.fuse`): ``s = α·linker + (1-α)·bm25``. This module picks α at the
end of training on the validation split, in the same pool setting as ``patlink eval`` (validation items ranked
against validation patents, :func:`patlink.data.pools.pools_for` with ``pool="split"``), and records it in
the model's own ``linker.json`` (``"fusion"``, read back as :attr:`patlink.models.linker.Linker.settings`, whose
:meth:`~patlink.models.config.LinkerSettings.fusion_alpha` gives the weight of a direction)::

    {"alpha": α maximising the mean validation MRR of both directions,
     "alpha_item2patent": α of item→patent alone, "alpha_patent2item": α of patent→item alone,
     "metric": "mrr", "grid": [...], "val_mrr": {"item2patent": [...], "patent2item": [...]} (per grid value),
     "tuned_on": "val", "n_val_links": n}

The same record is also written to ``RUN/fusion.json``, the file older readers look for. Never tuned on test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["DEFAULT_GRID", "tune_linker_fusion"]

DEFAULT_GRID: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))   # 0, 0.05, …, 1


def tune_linker_fusion(run_dir: str | Path, ds, val_links: Sequence[tuple[str, str]], *, store=None,
                       grid: Sequence[float] = DEFAULT_GRID, metric: str = "mrr", depth: int = 1000,
                       write: bool = True, device: str = "cpu") -> dict:
    """Tune α (weight of the linker vs BM25) on ``val_links`` for both directions; write ``run_dir/fusion.json``.

    Args:
        run_dir: a ``patlink train`` output folder (its ``best/`` model is used).
        ds: the dataset with the training text views applied.
        val_links: validation ``(item, patent)`` pairs (the pool is the validation split's items and patents).
        store: token-embedding provider for the linker (tests inject a fixture store).
        grid: α values tried. metric: ``mrr`` (any metric of ``patlink.evaluation.metrics``). depth: run depth.
        write: record the weights in ``run_dir``'s model (``linker.json``) and write ``run_dir/fusion.json``, each
            atomically.
        device: where the linker's encoders run (:func:`patlink.devices.resolve_device`).

    Returns:
        The fusion record (see the module docstring).

    Raises:
        ValueError: no validation links, or ``run_dir`` holds no trained linker.
    """
    from patlink.data.pools import pools_for
    from patlink.retrieval.bm25 import BM25Retriever
    from patlink.retrieval.fusion import convex_weight_curve, pick_weight
    from patlink.retrieval.linker import LinkerRetriever

    if not val_links:
        raise ValueError("tuning the BM25 fusion weight needs validation links")
    grid = [float(a) for a in grid]
    items, patents = pools_for(ds, list(val_links), "split")
    curves: dict[str, list[float]] = {}
    for direction in ("item2patent", "patent2item"):
        queries, docs = (items, patents) if direction == "item2patent" else (patents, items)
        qrels = ds.qrels(list(val_links), direction)
        queries = {q: queries[q] for q in qrels}
        lin = LinkerRetriever(run_dir, direction=direction, store=store, device=device)
        bm = BM25Retriever()
        lin.index(docs)
        bm.index(docs)
        k = min(depth, len(docs))
        ra, rb = lin.search(queries, k), bm.search(queries, k)
        curves[direction] = convex_weight_curve(ra, rb, qrels, metric, grid)
    joint = [0.5 * (x + y) for x, y in zip(curves["item2patent"], curves["patent2item"])]
    out = {"alpha": pick_weight(grid, joint),
           "alpha_item2patent": pick_weight(grid, curves["item2patent"]),
           "alpha_patent2item": pick_weight(grid, curves["patent2item"]),
           "metric": metric, "grid": grid, "val_mrr": curves, "tuned_on": "val",
           "n_val_links": len(set(map(tuple, val_links)))}
    if write:
        from patlink.io import atomic_write_json
        from patlink.models.linker import record_fusion

        record_fusion(run_dir, out)
        atomic_write_json(Path(run_dir) / "fusion.json", out)
    return out
