"""Evaluate methods on a split, by k-fold cross-validation, or by repeated k-fold cross-validation.

These are the functions behind ``patlink eval`` (and :func:`patlink.evaluate` / :func:`patlink.cross_validate`);
the CLI only parses arguments and prints. Every function takes method objects (:class:`patlink.methods.Method`)
and returns typed results (:class:`~patlink.evaluation.results.EvaluationResult`).

Pools (what a query is ranked against): ``all`` ranks the whole corpus, the BEIR/MTEB convention, and is the
default for a dataset that defines its own evaluation split (a BEIR folder's qrels) and for the new-product
protocol; ``split`` ranks the documents of the evaluated split, the default of the graph protocol on bundled
datasets (test items against test patents, as in El Bouari & de Rassenfosse, "Product-Patent linkage
prediction").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from patlink.evaluation.linkage import LinkageEvalConfig, check_not_trained_on, evaluate_linkage
from patlink.evaluation.results import EvaluationResult
from patlink.methods import Method

__all__ = ["cross_validate", "default_pool", "evaluate", "repeated_cross_validate", "resolve_splits"]

Links = list[tuple[str, str]]
Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _named(methods: Method | Sequence[Method] | Mapping[str, Method]) -> dict[str, Method]:
    if isinstance(methods, Method):
        return {methods.name: methods}
    if isinstance(methods, Mapping):
        return dict(methods)
    out: dict[str, Method] = {}
    for m in methods:
        if m.name in out:
            raise ValueError(f"two methods are named {m.name!r}: pass a dict {{name: method}}")
        out[m.name] = m
    return out


def default_pool(ds, protocol: str = "graph") -> str:
    """``all`` for the new-product protocol and for datasets with their own test split (BEIR qrels); ``split``
    for the graph protocol on bundled datasets."""
    if protocol == "new-product" or "test" in (ds.link_splits or {}):
        return "all"
    return "split"


def resolve_splits(ds, *, seed: int = 0, protocol: str = "graph", split_dir: str | Path | None = None,
                   need_val: bool = False) -> dict[str, Links]:
    """The train/val/test links used by ``patlink eval`` AND ``patlink train`` (one rule for both).

    1. ``split_dir``: a folder written by ``patlink split``.
    2. A dataset with its own split (a BEIR folder's ``qrels/test.tsv``, or train + dev), in both protocols: its
       test split, as given; training links from its train split (or every other link), without any link of the
       test or validation split; validation from its ``dev``/``val`` split, else carved from the training links
       only, never from the test links (``seed``): 15% of the training links at random (graph protocol), or all
       links of 15% of the training items (``protocol="new-product"``, so validation products are unseen too).
       Fewer than 7 training links (graph) or items (new-product): no validation links.
    3. Otherwise :func:`patlink.graph.split.split_dataset` (random for one-to-one data such as pap2pat,
       graph-aware otherwise; ``protocol="new-product"`` holds out products).

    Raises:
        ValueError: ``need_val`` and the result has no validation links; ``protocol="new-product"`` on a dataset
            whose own test or validation items also have training links (its split does not hold out products).
    """
    if split_dir is not None:
        from patlink.graph import read_split

        parts = read_split(split_dir).parts()
        out = {k: list(parts.get(k) or []) for k in ("train", "val", "test")}
    elif _own_split(ds.link_splits or {}):
        out = _own_parts(ds, seed, protocol)
    else:
        from patlink.graph import split_dataset

        sp = split_dataset(ds, seed=seed, protocol=protocol)
        out = {"train": list(sp.train), "val": list(sp.val), "test": list(sp.test)}
    if need_val and not out["val"]:
        raise ValueError("the split has no validation links; the linker selects its checkpoint on validation MRR")
    return out


def _own_split(ls: Mapping[str, list]) -> bool:
    return bool(ls.get("test")) or (bool(ls.get("train")) and any(ls.get(k) for k in ("val", "dev", "validation")))


def _own_parts(ds, seed: int, protocol: str) -> dict[str, Links]:
    """Rule 2 of :func:`resolve_splits`: the dataset's own test (and validation) links; validation carved from the
    training links when it has none."""
    import numpy as np

    ls = ds.link_splits
    test = list(ls.get("test") or [])
    val_key = next((k for k in ("val", "dev", "validation") if ls.get(k)), None)
    val = list(ls[val_key]) if val_key else []
    held = set(test) | set(val)
    # a pair listed in train AND test (or dev) is held out: the test links are never trained on
    train = [x for x in (ls["train"] if ls.get("train") else ds.links) if x not in held]
    rng = np.random.default_rng(seed)
    if not val_key and protocol == "new-product":   # unseen validation products: whole items leave training
        items = sorted({i for i, _ in train})
        n_val = round(0.15 * len(items)) if len(items) >= 7 else 0
        chosen_items = {items[k] for k in rng.permutation(len(items))[:n_val]}
        val = [x for x in train if x[0] in chosen_items]
        train = [x for x in train if x[0] not in chosen_items]
    elif not val_key:
        order = rng.permutation(len(train))
        n_val = round(0.15 * len(train)) if len(train) >= 7 else 0
        val = [train[i] for i in sorted(order[:n_val])]
        chosen = set(val)
        train = [x for x in train if x not in chosen]
    if protocol == "new-product":
        seen = {i for i, _ in train}
        leaked = sorted({i for i, _ in test + val if i in seen})
        if leaked:
            raise ValueError(
                f"{ds.name}: protocol new-product holds out products, but {len(leaked)} item(s) of its own "
                f"{'test/' + val_key if val_key else 'test'} split also have training links (e.g. {leaked[:3]}); "
                "use --protocol graph for this dataset, or give each item's links to one split only")
    return {"train": train, "val": val, "test": test}


def _config(ds, protocol: str, pool: str | None, directions, depth: int, n_bootstrap: int, seed: int,
            distractor_patents: dict[str, str] | None, missing_text: str = "error") -> LinkageEvalConfig:
    if protocol not in ("graph", "new-product"):
        raise ValueError(f"unknown protocol {protocol!r}; use graph or new-product")
    pool = pool or default_pool(ds, protocol)
    if pool not in ("split", "all"):
        raise ValueError(f"unknown pool {pool!r}; use 'split' or 'all'")
    return LinkageEvalConfig(directions=tuple(directions), pool=pool, depth=depth, n_bootstrap=n_bootstrap,
                             seed=seed, distractor_patents=dict(distractor_patents or {}),
                             missing_text=missing_text)


def _context(ds, split: str, protocol: str, cfg: LinkageEvalConfig, seed: int, folds: int = 0,
             distractors: str | None = None) -> dict:
    return {"dataset": ds.name, "item view": ",".join(ds.item_view), "patent view": ",".join(ds.patent_view),
            "split": split, "protocol": protocol, "pool": cfg.pool,
            "distractors": distractors or (f"{len(cfg.distractor_patents)} patents" if cfg.distractor_patents
                                           else "none"),
            "patents with text": f"{ds.patents_with_text()} of {len(ds.patents)} in view {','.join(ds.patent_view)}"
                                 + (f" ({ds.metadata['textless_patents_dropped']} without text dropped with their "
                                    f"{ds.metadata.get('textless_links_dropped', 0)} links)"
                                    if ds.metadata.get("textless_patents_dropped") else "")
                                 + (" (the others ranked as empty documents)" if cfg.missing_text == "keep" else ""),
            "seed": seed, **({"folds": folds} if folds else {})}


def _evaluate_raw(ds, methods: dict[str, Method], splits: Mapping[str, Links], split: str, protocol: str,
                  cfg: LinkageEvalConfig, log: Log, profile_config=None) -> dict:
    eval_links = list(splits.get(split) or [])
    if not eval_links:
        raise ValueError(f"split {split!r} has no links")
    from patlink.methods import resolve_views

    resolve_views(methods.values(), ds.item_view, ds.patent_view)  # warns when a model reads other views
    for m in methods.values():  # a trained run must never score links it was trained on (e.g. another --seed)
        check_not_trained_on(m, eval_links, split)
    results = {}
    for name, m in methods.items():
        log(f"evaluating {name} on {ds.name} {split} ({len(eval_links)} links)…")
        if protocol == "new-product":
            from patlink.evaluation.new_product import evaluate_new_product

            results[name] = evaluate_new_product(ds, dict(splits), m, cfg, split=split,
                                                 profile_config=profile_config)
        else:
            results[name] = evaluate_linkage(ds, eval_links, m, cfg, val_links=splits.get("val"))
    return results


def evaluate(ds, methods: Method | Sequence[Method] | Mapping[str, Method], splits: Mapping[str, Links] | None = None,
             *, split: str = "test", protocol: str = "graph", pool: str | None = None,
             directions: Sequence[str] = ("item2patent", "patent2item"), depth: int = 1000, n_bootstrap: int = 1000,
             seed: int = 0, distractor_patents: dict[str, str] | None = None, missing_text: str = "error",
             log: Log = _quiet, profile_config=None) -> EvaluationResult:
    """Evaluate methods on one split, in both directions, with bootstrap 95% CIs.

    Args:
        ds: a :class:`patlink.data.Dataset` (bundled, BEIR or your own).
        methods: one method, a list (named by :attr:`Method.name`) or ``{name: method}``.
        splits: ``{"train", "val", "test"}`` links; ``None`` = :func:`resolve_splits` with ``seed`` and
            ``protocol``.
        split: the evaluated part (``test`` or ``val``); whatever a method tunes is tuned on ``val`` only.
        protocol: ``graph`` or ``new-product`` (held-out products, patents known by their training products).
        pool: ``all`` or ``split``; ``None`` = :func:`default_pool`.
        directions: directions evaluated.
        depth: documents retrieved per query.
        n_bootstrap: bootstrap resamples (0 = no CI).
        seed: seed of the bootstrap (and of the split when ``splits`` is ``None``).
        distractor_patents: extra patents (id → text) appended to the patent pool.
        missing_text: ``"error"`` refuses a pool where only some patents have text in the view (partly hydrated
            data); ``"keep"`` ranks the others as empty documents. To rank only patents with text, pass
            ``ds.without_textless_patents()``.
        log: called with a progress line per method.
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` of the new-product protocol's patent
            profiles (e.g. with the command's embedding ``memo``); ``None`` = defaults; unused by the graph protocol.

    Returns:
        :class:`~patlink.evaluation.results.EvaluationResult`.

    Raises:
        ValueError: an empty split, an unknown protocol or pool, a trained model evaluated on links it was
            trained on, or a method the protocol cannot use.
    """
    methods = _named(methods)
    splits = splits if splits is not None else resolve_splits(ds, seed=seed, protocol=protocol)
    cfg = _config(ds, protocol, pool, directions, depth, n_bootstrap, seed, distractor_patents, missing_text)
    raw = _evaluate_raw(ds, methods, splits, split, protocol, cfg, log, profile_config)
    first = next(iter(raw.values()))
    cv = {"folds": 1, "seed": seed, "query_fold": {d: {q: 0 for q in r["qrels"]} for d, r in first.items()},
          "fold_sizes": [{"train": len(splits.get("train") or []), "val": len(splits.get("val") or []),
                          "test": len(splits.get(split) or [])}]}
    return EvaluationResult(raw, _context(ds, split, protocol, cfg, seed), cv=cv)


def cross_validate(ds, methods: Method | Sequence[Method] | Mapping[str, Method], folds: int = 5, *,
                   seed: int = 0, split: str = "test", protocol: str = "graph", pool: str | None = None,
                   directions: Sequence[str] = ("item2patent", "patent2item"), depth: int = 1000,
                   n_bootstrap: int = 1000, distractor_patents: dict[str, str] | None = None,
                   missing_text: str = "error", log: Log = _quiet) -> EvaluationResult:
    """K-fold cross-validation: every link tested once, per-query results pooled over the folds.

    Folds come from :func:`patlink.graph.split.kfold_splits` (``seed``; node-disjoint parts for many-to-many
    graphs). A trained method's model folder ``P`` is read as ``P/fold{f}`` in fold ``f``
    (:meth:`~patlink.methods.Method.with_subfolder`; ``patlink train --folds K`` writes them); fusion weights and
    ``k`` are tuned on each fold's validation part.

    Returns:
        :class:`~patlink.evaluation.results.EvaluationResult` whose results carry ``folds`` (per-fold MRR and
        sizes) and whose ``cv`` records the fold of each query (for :func:`patlink.compare`).

    Raises:
        ValueError: ``folds < 2``, folds that cannot be made, or as :func:`evaluate`.
    """
    from patlink.evaluation.crossval import pool_fold_results
    from patlink.graph import kfold_splits

    methods = _named(methods)
    if split not in ("test", "val"):
        raise ValueError(f"unknown split {split!r}; use test or val")
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    parts = kfold_splits(ds, k=folds, seed=seed, protocol=protocol)
    cfg = _config(ds, protocol, pool, directions, depth, 0, seed, distractor_patents, missing_text)
    per_fold = []
    for f, sp in enumerate(parts):
        fm = {name: m.with_subfolder(f"fold{f}") for name, m in methods.items()}
        log(f"fold {f + 1}/{folds}: {len(sp.train)} train / {len(sp.val)} val / {len(sp.test)} test links")
        per_fold.append(_evaluate_raw(ds, fm, {"train": sp.train, "val": sp.val, "test": sp.test}, split, protocol,
                                      cfg, log))
    pooled = pool_fold_results(per_fold, n_bootstrap=n_bootstrap, seed=seed)
    for per in pooled.values():  # fold sizes in links, for the corrected repeated-CV t-test
        for r in per.values():
            for fi, sp in zip(r["folds"], parts):
                fi.update(n_train=len(sp.train), n_val=len(sp.val), n_test=len(sp.test))
    return EvaluationResult(pooled, _context(ds, split, protocol, cfg, seed, folds))


def repeated_cross_validate(ds, methods: Mapping[str, Method], folds: int, repeats: int, out: str | Path, *,
                            reference: str | None = None, seed: int = 0, title: str | None = None,
                            log: Log = _quiet, **kwargs) -> list:
    """Repeated K-fold cross-validation: :func:`cross_validate` on partitions ``seed … seed+repeats-1`` (a trained
    model folder ``P`` read as ``P/seed{s}/fold{f}``, written by ``patlink train --folds K --repeats R``), one
    report per partition in ``out/seed{s}`` (a finished report with the same methods is reused, so an interrupted
    run resumes), then :func:`patlink.evaluation.repeated.compare_reports` of all of them against ``reference``
    (default: the first method), written to ``out/comparison.md`` / ``.json``.

    Returns:
        The list of :class:`patlink.evaluation.repeated.Comparison` (one per method and direction).

    Raises:
        ValueError: ``reference`` not among the methods, or as :func:`cross_validate`.
    """
    from patlink.evaluation.repeated import compare_reports, load_report, write_comparison

    methods = dict(methods)
    reference = reference or next(iter(methods))
    if reference not in methods:
        raise ValueError(f"reference {reference!r} is not among the methods {list(methods)}")
    out = Path(out)
    directions = tuple(kwargs.get("directions", ("item2patent", "patent2item")))
    reports = []
    for r in range(repeats):
        s = seed + r
        rep_dir = out / f"seed{s}"
        rep = load_report(rep_dir) if (rep_dir / "metrics.json").is_file() else None
        if rep is not None and set(rep.methods) == set(methods):
            log(f"partition {r + 1}/{repeats} (seed {s}): report {rep_dir} exists, reused")
        else:
            log(f"partition {r + 1}/{repeats} (seed {s})")
            ms = {name: m.with_subfolder(f"seed{s}") for name, m in methods.items()}
            res = cross_validate(ds, ms, folds, seed=s, log=log, **kwargs)
            res.write(rep_dir, f"patlink eval — {ds.name} ({folds}-fold cross-validation, partition seed {s}, "
                               f"protocol {res.context.get('protocol')})")
            rep = load_report(rep_dir)
        reports.append(rep)
    comps = compare_reports(reports, {m: [m] * repeats for m in methods}, reference, "mrr", directions)
    write_comparison(comps, out, title or f"patlink eval — {ds.name}: {repeats} × {folds}-fold cross-validation "
                                          f"(seeds {seed}–{seed + repeats - 1})")
    return comps
