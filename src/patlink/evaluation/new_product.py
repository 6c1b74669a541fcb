"""Evaluate linking NEW products to a company's existing patents (the new-product protocol).

The split (:func:`patlink.graph.split.new_product_split`) holds out PRODUCTS: test/val products never appear in
training, patents are shared. Patents are represented by their training products (patent *profiles*,
:mod:`patlink.retrieval.profiles`), so:

* **item → patent**: each held-out product ranks ALL patents with at least one training product (the
  *representable pool*; plus patents with their own text when hydrated). Held-out links to patents outside the
  pool stay in the qrels and count as misses; their number is reported (``pool["links_outside_pool"]``).
* **patent → item** ("which of the new products does this patent cover?"): each patent with a held-out link ranks
  the held-out products of the split. Patents with no training product (and no text) get an empty ranking (their
  links count as misses; ``pool["empty_queries"]``). ``popularity`` has no patent → item form and is skipped.

Fusion weights α and the ``knn`` neighbourhood are tuned on the *validation* split (profiles from training links,
validation products as queries), never on the evaluated split. The result mirrors
:func:`patlink.evaluation.linkage.evaluate_linkage`, so :func:`patlink.evaluation.report.write_report` and
``patlink eval`` print it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from patlink.evaluation.linkage import LinkageEvalConfig
from patlink.evaluation.metrics import evaluate_run
from patlink.methods import Method

__all__ = ["evaluate_new_product", "new_product_pool"]


def new_product_pool(ds, train_links: Sequence[tuple[str, str]], eval_links: Sequence[tuple[str, str]],
                     config=None, extra_patent_texts: dict[str, str] | None = None):
    """Profiles built from ``train_links`` and checked against ``eval_links``.

    Returns:
        :class:`patlink.retrieval.profiles.PatentProfiles` (its ``patent_ids`` are the item → patent pool).

    Raises:
        ValueError: no training links, no evaluated links, or a held-out product that also has training links
            (then the split is not a new-product split: the product would be in its own patents' profiles).
    """
    from patlink.retrieval.profiles import PatentProfiles

    if not train_links:
        raise ValueError("the new-product protocol needs training links to build patent profiles")
    if not eval_links:
        raise ValueError("the evaluated split has no links")
    leaked = {i for i, _ in train_links} & {i for i, _ in eval_links}
    if leaked:
        raise ValueError(f"{len(leaked)} held-out product(s) also have training links (e.g. {sorted(leaked)[:3]}): "
                         "not a new-product split; use `--protocol new-product` / new_product_split")
    return PatentProfiles(ds, train_links, config, extra_patent_texts)


def _sets(ds, links, direction: str, profiles):
    """(queries id → text, docs id → text or None, qrels, doc_ids) of one split and direction."""
    qrels = ds.qrels(links, direction)
    if direction == "item2patent":
        queries = ds.item_texts(sorted(qrels))
        return queries, None, qrels, list(profiles.patent_ids)
    items = sorted({i for i, _ in links})
    docs = ds.item_texts(items)
    queries = {p: "" for p in sorted(qrels)}
    return queries, docs, qrels, items


def evaluate_new_product(ds, splits: dict[str, list[tuple[str, str]]], method: Method,
                         cfg: LinkageEvalConfig | None = None, split: str = "test", profile_config=None) -> dict:
    """Evaluate ``method`` on the new-product protocol (patents known by their training products).

    Args:
        ds: the dataset (e.g. ``honeywell-vpm``).
        splits: ``{"train": links, "val": links, "test": links}`` from a new-product split.
        method: any :class:`~patlink.methods.Method`; text methods are converted by
            :func:`patlink.methods.for_new_products` (``bm25`` → ``profile-bm25`` without patent text, …).
        cfg: :class:`~patlink.evaluation.linkage.LinkageEvalConfig` (directions, depth, bootstrap, seed, cutoffs,
            distractor patents; its ``pool`` is ignored: the pool is defined by the protocol).
        split: the evaluated split (``test`` or ``val``; α and ``k`` are tuned on ``val`` only when evaluating
            another split).
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` (``None`` = defaults).

    Returns:
        ``{direction: {"method", "alpha", "params", "metrics", "run", "qrels", "doc_ids", "pool"}}`` for each
        direction of ``cfg.directions`` that the method supports. ``metrics`` is :func:`evaluate_run`'s output
        (with ``ci95``, ``roc_auc``/``pr_auc`` over the pool); ``pool`` has ``queries``, ``documents``,
        ``empty_queries``, ``empty_documents``, ``held_out_links``, ``links_outside_pool``,
        ``patents_outside_pool``, ``train_links``, ``profile_products``.

    Raises:
        ValueError: unknown split, empty splits, a split that leaks held-out products into training, or a method
            the protocol cannot use (a text linker).
    """
    from patlink.methods import KnownLinks, Validation, for_new_products

    cfg = cfg or LinkageEvalConfig(pool="all")
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; available: {', '.join(splits)}")
    train, eval_links = list(splits.get("train") or []), list(splits[split] or [])
    val = list(splits.get("val") or []) if split != "val" else []
    profiles = new_product_pool(ds, train, eval_links, profile_config, cfg.distractor_patents)
    if val:
        new_product_pool(ds, train, val)  # the validation products must be unseen as well
    known = KnownLinks(ds, train, profile_config, cfg.distractor_patents)
    known._profiles = profiles
    base = for_new_products(method, profiles.has_text).with_known(known)
    pool_set = set(profiles.patent_ids)
    out: dict = {}
    for direction in cfg.directions:
        if direction not in base.directions:
            continue
        m = base.for_direction(direction)
        if val and m.tunable:
            vq, vd, vqrels, vdoc_ids = _sets(ds, val, direction, profiles)
            m = m.fit(Validation(vq, vd if vd is not None else {p: "" for p in vdoc_ids}, vqrels,
                                 metric=profiles.cfg.tune_metric, depth=cfg.depth))
        queries, docs, qrels, doc_ids = _sets(ds, eval_links, direction, profiles)
        m.index(docs if docs is not None else {p: "" for p in doc_ids})
        run = m.search(queries, min(cfg.depth, len(doc_ids)))
        run = {q: run.get(q, {}) for q in qrels}
        metrics = evaluate_run(qrels, run, cfg.cutoffs, cfg.n_bootstrap, cfg.seed, doc_ids=doc_ids)
        outside = [(i, p) for i, p in eval_links if p not in pool_set]
        if direction == "item2patent":
            empty_q = sum(1 for t in queries.values() if not t.strip())
            empty_d = sum(1 for p in doc_ids if not profiles.has_profile[profiles._pcol[p]]
                          and p not in profiles.patent_text)
        else:
            empty_q = sum(1 for q in queries if q not in pool_set)
            empty_d = sum(1 for t in docs.values() if not t.strip())
        out[direction] = {
            "method": m.label(),
            "alpha": getattr(m, "alpha", None),
            "params": m.params(),
            "metrics": metrics,
            "run": run,
            "qrels": qrels,
            "doc_ids": doc_ids,
            "pool": {"queries": len(queries), "documents": len(doc_ids), "empty_queries": empty_q,
                     "empty_documents": empty_d, "held_out_links": len(eval_links),
                     "links_outside_pool": len(outside), "patents_outside_pool": len({p for _, p in outside}),
                     "train_links": len(set(train)), "profile_products": len(profiles.items),
                     "patent_text": profiles.has_text, "protocol": "new-product"},
        }
    return out
