"""``patlink eval`` and ``patlink link``: rank patents for items (and items for patents) and measure it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt, DatasetOpt, ItemViewOpt, JsonOpt, PatentViewOpt, PatlinkError, console, err_console, load_input,
    print_json,
)

METHOD_HELP = ("bm25 | dense | dense:MODEL | hybrid | hybrid-rrf | hybrid-convex | runs/NAME (trained linker) | "
               "runs/NAME+bm25 | runs/NAME+bm25+dense (weights tuned on validation) | PATH (sentence-transformers "
               "folder); dense/hybrid/PATH take @N to read long texts as N windows of 256 tokens (dense@8, "
               "hybrid@8); comma-separate several to compare them. "
               "With --protocol new-product (and for `link` on patents without text): profile-mean | profile-bm25 | "
               "knn | knn:K | popularity | hybrid | bm25/dense (= profile-bm25/profile-mean without patent text) | "
               "profile-linker:runs/NAME | knn-linker:runs/NAME (kNN on a linker trained with set_scoring=members); "
               "knn, knn-linker:runs/NAME and profile-linker:runs/NAME take +bm25 (fused with BM25 on the profiles).")


def resolve_splits(ds, split_dir: Path | None, seed: int, protocol: str = "graph") -> dict[str, list]:
    """Links of train/val/test: from ``--split-dir``, a BEIR folder's qrels, or a fresh ``split_dataset``."""
    if split_dir is not None:
        from patlink.graph.split import read_split

        return read_split(split_dir)
    if protocol == "graph" and "test" in ds.link_splits:
        return {"train": ds.link_splits.get("train", []), "val": ds.link_splits.get("val", []),
                "test": ds.link_splits["test"]}
    from patlink.graph.split import split_dataset

    s = split_dataset(ds, seed=seed, protocol=protocol)
    return {"train": s.train, "val": s.val, "test": s.test}


def run_eval(ds, methods: list[str], splits: dict, split: str = "test", directions=("item2patent", "patent2item"),
             protocol: str = "graph", distractors: str | None = None, n_bootstrap: int = 1000, depth: int = 1000,
             seed: int = 0, show_progress: bool = True, pool: str | None = None) -> dict:
    """Evaluate each method; returns ``{method: {direction: result}}`` (see :func:`evaluate_linkage`)."""
    from patlink.evaluation.linkage import LinkageEvalConfig, check_not_trained_on, evaluate_linkage

    eval_links = splits.get(split) or []
    if not eval_links:
        raise PatlinkError(f"split {split!r} has no links")
    for m in methods:  # a trained run must never score links it was trained on (e.g. another --seed's split)
        try:
            check_not_trained_on(m, eval_links, split)
        except ValueError as e:
            raise PatlinkError(str(e)) from None
    distractor_texts: dict[str, str] = {}
    if distractors:
        from patlink.data import load_dataset

        dds = load_dataset(distractors)
        distractor_texts = dds.patent_texts(view=[f for f in ds.patent_view if f in dds.patent_fields] or None)
    if pool is None:
        pool = "all" if protocol == "new-product" else "split"
    cfg = LinkageEvalConfig(directions=tuple(directions), pool=pool,
                            depth=depth, n_bootstrap=n_bootstrap, seed=seed, distractor_patents=distractor_texts)
    results = {}
    for m in methods:
        err_console.print(f"[dim]evaluating {m} on {ds.name} {split} ({len(eval_links)} links)…[/dim]")
        if protocol == "new-product":
            from patlink.evaluation.new_product import evaluate_new_product

            results[m] = evaluate_new_product(ds, splits, m, cfg, split=split)
        else:
            results[m] = evaluate_linkage(ds, eval_links, m, cfg, val_links=splits.get("val"),
                                          show_progress=show_progress)
    return results


def run_crossval(ds, methods: list[str], folds: int, seed: int = 0, split: str = "test",
                 directions=("item2patent", "patent2item"), protocol: str = "graph", distractors: str | None = None,
                 n_bootstrap: int = 1000, depth: int = 1000, show_progress: bool = True, pool: str | None = None,
                 split_dir: Path | None = None) -> dict:
    """Evaluate each method on every fold of :func:`patlink.graph.split.kfold_splits` and pool the per-query runs
    (:func:`patlink.evaluation.crossval.pool_fold_results`). A method path ``runs/NAME`` is read as
    ``runs/NAME/fold{f}`` in fold ``f`` when that folder exists."""
    from patlink.evaluation.crossval import fold_method, pool_fold_results
    from patlink.graph.split import kfold_splits

    if split_dir is not None:
        raise PatlinkError("--folds and --split-dir exclude each other (the folds are made from --seed)")
    if split not in ("test", "val"):
        raise PatlinkError(f"unknown split {split!r}; use test or val")
    try:
        parts = kfold_splits(ds, folds, seed, protocol=protocol)  # type: ignore[arg-type]
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    per_fold = []
    for f, sp in enumerate(parts):
        fm = {m: fold_method(m, f) for m in methods}
        err_console.print(f"[bold]fold {f + 1}/{folds}[/bold]: {len(sp.train)} train / {len(sp.val)} val / "
                          f"{len(sp.test)} test links")
        res = run_eval(ds, list(fm.values()), {"train": sp.train, "val": sp.val, "test": sp.test}, split,
                       directions, protocol, distractors, 0, depth, seed, show_progress=show_progress, pool=pool)
        per_fold.append({m: res[fm[m]] for m in methods})
    pooled = pool_fold_results(per_fold, n_bootstrap=n_bootstrap, seed=seed)
    for per in pooled.values():  # fold sizes in links, for the corrected repeated-CV t-test (`patlink compare`)
        for r in per.values():
            for fi, sp in zip(r["folds"], parts):
                fi.update(n_train=len(sp.train), n_val=len(sp.val), n_test=len(sp.test))
    return pooled


def _report_context(ds, split: str, protocol: str, pool: str | None, distractors: str | None, seed: int,
                    folds: int) -> dict:
    return {"dataset": ds.name, "item view": ",".join(ds.item_view), "patent view": ",".join(ds.patent_view),
            "split": split, "protocol": protocol, "pool": pool or "default", "distractors": distractors or "none",
            "seed": seed, **({"folds": folds} if folds else {})}


def run_repeated(ds, methods: list[str], folds: int, repeats: int, seed: int, out: Path, reference: str,
                 split: str = "test", directions=("item2patent", "patent2item"), protocol: str = "graph",
                 distractors: str | None = None, n_bootstrap: int = 1000, depth: int = 1000,
                 pool: str | None = None, json_out: bool = False) -> list:
    """Repeated K-fold cross-validation: :func:`run_crossval` on partitions ``seed … seed+repeats-1`` (a trained
    ``runs/NAME`` read as ``runs/NAME/seed{s}``, :func:`patlink.evaluation.crossval.repeat_method`), one report per
    partition in ``out/seed{s}``, then :func:`patlink.evaluation.repeated.compare_reports` of all of them against
    ``reference``, written to ``out/comparison.md`` / ``.json`` and printed. A finished partition report
    (``out/seed{s}/metrics.json`` with the same methods) is reused, so an interrupted run resumes."""
    from patlink.evaluation.crossval import repeat_method
    from patlink.evaluation.repeated import compare_reports, load_report, write_comparison
    from patlink.evaluation.report import write_report

    if reference not in methods:
        raise PatlinkError(f"--reference {reference!r} is not among the methods {methods}")
    names: dict[str, list[str]] = {m: [] for m in methods}
    reports = []
    for r in range(repeats):
        s = seed + r
        ms = {m: repeat_method(m, s) for m in methods}
        rep_dir = out / f"seed{s}"
        rep = load_report(rep_dir) if (rep_dir / "metrics.json").is_file() else None
        if rep is not None and set(rep.methods) == set(ms.values()):
            err_console.print(f"partition {r + 1}/{repeats} (seed {s}): report {rep_dir} exists, reused")
        else:
            err_console.print(f"[bold]partition {r + 1}/{repeats} (seed {s})[/bold]")
            results = run_crossval(ds, list(ms.values()), folds, s, split, directions, protocol, distractors,
                                   n_bootstrap, depth, show_progress=not json_out, pool=pool)
            write_report(results, rep_dir, f"patlink eval — {ds.name} ({folds}-fold cross-validation, partition "
                                           f"seed {s}, protocol {protocol})",
                         _report_context(ds, split, protocol, pool, distractors, s, folds))
            rep = load_report(rep_dir)
        for m in methods:
            names[m].append(ms[m])
        reports.append(rep)
    try:
        comps = compare_reports(reports, names, reference, "mrr", directions)
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    md = write_comparison(comps, out, f"patlink eval — {ds.name}: {repeats} × {folds}-fold cross-validation "
                                      f"(seeds {seed}–{seed + repeats - 1})")
    if json_out:
        print_json([c.to_dict() for c in comps])
    else:
        console.print(md, markup=False, highlight=False)
        console.print(f"reports: {out}/seed*/, comparison: {out / 'comparison.md'}")
    return comps


def print_fold_mrr(results: dict) -> None:
    """One table: each method's MRR per fold and direction (the spread over training sets)."""
    for d in ("item2patent", "patent2item"):
        rows = [(m, per[d]["folds"]) for m, per in results.items() if d in per and per[d].get("folds")]
        if not rows:
            continue
        t = Table("method", *(f"fold {f}" for f in range(len(rows[0][1]))), title=f"MRR per fold — {d}")
        for m, fs in rows:
            t.add_row(m, *(f"{x['mrr']:.3f}" for x in fs))
        console.print(t)


def print_results(results: dict, title: str) -> None:
    from patlink.evaluation.report import DIRECTION_TITLES, metrics_table_rows

    cols = ("mrr", "map", "ndcg@10", "recall@10", "recall@100", "rcap@10", "roc_auc", "pr_auc")
    heads = ("MRR", "MAP", "nDCG@10", "R@10", "R@100", "Rcap@10", "ROC-AUC", "PR-AUC")
    directions = [d for d in DIRECTION_TITLES if any(d in per for per in results.values())]
    for d in directions:
        t = Table("method", *heads, title=f"{title} — {DIRECTION_TITLES[d]} (± half-width of the 95% bootstrap CI)")
        for row in metrics_table_rows(results, d, cols, compact=True):
            t.add_row(*row)
        console.print(t)


def _flat_json(results: dict) -> dict:
    """One JSON object per method: item→patent metrics at top level, patent→item under ``patent2item``."""
    out = {}
    for m, per in results.items():
        primary = per.get("item2patent") or next(iter(per.values()))
        o = {k: v for k, v in primary["metrics"].items()}
        o["method"] = primary["method"]
        for k in ("alpha", "weights"):
            if primary.get(k) is not None:
                o[k] = primary[k]
        o["pool"] = primary["pool"]
        for d, r in per.items():
            if r is not primary:
                o[d] = {**r["metrics"], "pool": r["pool"]}
        out[m] = o
    return out


def link_fusion_weights(ds, method: str, fusion, direction: str) -> list[float] | None:
    """Weights of ``runs/NAME+bm25+dense`` for ``patlink link``: tuned on the validation links the linker was
    trained with (``runs/NAME/split.json``) with ``fusion`` (its :class:`~patlink.retrieval.fusion.FusionRetriever`),
    as ``patlink eval`` does; ``None`` (keep equal weights, with a warning) when the run has no validation links in
    this dataset. ``None`` for any other method."""
    from patlink.evaluation.linkage import tune_fusion_weights
    from patlink.retrieval.factory import is_multi_fusion, run_split

    if not is_multi_fusion(method):
        return None
    run_dir = Path(method.partition("+")[0])
    split_file = run_dir / "split.json"
    known = set(ds.links)
    val = [x for x in run_split(run_dir).get("val", []) if x in known]
    if not val:
        err_console.print(f"[yellow]{split_file} lists no validation links of {ds.name}: fusing with equal "
                          "weights[/yellow]")
        return None
    return tune_fusion_weights(ds, val, fusion, direction)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        method: Annotated[str, typer.Option("--method", "-m", help=METHOD_HELP)] = "bm25",
        split: Annotated[str, typer.Option(help="Which split to evaluate: test or val.")] = "test",
        split_dir: Annotated[Optional[Path], typer.Option(help="Folder written by `patlink split`.")] = None,
        protocol: Annotated[str, typer.Option(help="graph (graph-disjoint split) or new-product (unseen items, "
                                                   "shared patents).")] = "graph",
        direction: Annotated[str, typer.Option(help="item2patent, patent2item or both.")] = "both",
        pool: Annotated[Optional[str], typer.Option(
            help="Candidates of each query: 'split' (the evaluated split's documents; default for graph splits) or "
                 "'all' (every document of the dataset: harder; default for new-product).")] = None,
        distractors: Annotated[Optional[str], typer.Option(help="Add this dataset's patents to the pool, e.g. "
                                                                "api-patents (~47k).")] = None,
        item_view: ItemViewOpt = None,
        patent_view: PatentViewOpt = None,
        seed: Annotated[int, typer.Option(help="Split seed (when no --split-dir).")] = 0,
        folds: Annotated[int, typer.Option(
            "--folds", help="K-fold cross-validation (K >= 2): every link is tested once (many-to-many graph "
                            "splits: every link inside one of the K node-disjoint parts), per-query results pooled "
                            "over the folds (CIs and paired tests on all links). A trained method runs/NAME is "
                            "read as runs/NAME/fold{f} (written by `patlink train --folds K`).")] = 0,
        repeats: Annotated[int, typer.Option(
            "--repeats", help="Repeated cross-validation: with --folds K and --out DIR, evaluate R partitions "
                              "(seeds SEED … SEED+R-1; a trained runs/NAME is read as runs/NAME/seed{s}/fold{f}, "
                              "written by `patlink train --folds K --repeats R`), one report per partition in "
                              "DIR/seed{s}, then `patlink compare` of all of them against --reference in "
                              "DIR/comparison.md.")] = 1,
        reference: Annotated[str | None, typer.Option(
            help="With --repeats: the method every other one is tested against (default: the first).")] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for 95% CIs (0 = none).")] = 1000,
        depth: Annotated[int, typer.Option(help="Documents retrieved per query.")] = 1000,
        out: Annotated[Optional[Path], typer.Option(help="Write metrics.json, report.md, runs and plots here.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Evaluate linkage: MRR, MAP, nDCG@10, Recall@k, R_cap@k, P@k, ROC-AUC, PR-AUC with 95% CIs.

        Examples:
          patlink eval --dataset pap2pat --method bm25,dense,hybrid --out reports/pap2pat
          patlink eval --dataset pap2pat --patent-view claims --method runs/claims+bm25 --json
          patlink eval --beir my_beir_folder --method dense:mpnet
        """
        ds = load_input(dataset, beir, item_view, patent_view)
        if not ds.links:
            raise PatlinkError(f"{ds.name} has no links to evaluate")
        directions = ("item2patent", "patent2item") if direction == "both" else (direction,)
        if any(d not in ("item2patent", "patent2item") for d in directions):
            raise PatlinkError(f"unknown direction {direction!r}; use item2patent, patent2item or both")
        methods = [m.strip() for m in method.split(",") if m.strip()]
        if pool not in (None, "split", "all"):
            raise PatlinkError(f"unknown pool {pool!r}; use 'split' or 'all'")
        if repeats != 1:
            if repeats < 1 or not folds or out is None:
                raise PatlinkError("--repeats R needs R >= 1, --folds K and --out DIR (one report per partition, "
                                   "then their comparison)")
            run_repeated(ds, methods, folds, repeats, seed, out, reference or methods[0], split, directions,
                         protocol, distractors, bootstrap, depth, pool, json_out)
            return
        if folds:
            results = run_crossval(ds, methods, folds, seed, split, directions, protocol, distractors, bootstrap,
                                   depth, show_progress=not json_out, pool=pool, split_dir=split_dir)
        else:
            splits = resolve_splits(ds, split_dir, seed, protocol)
            results = run_eval(ds, methods, splits, split, directions, protocol, distractors, bootstrap, depth, seed,
                               show_progress=not json_out, pool=pool)
        if out is not None:
            from patlink.evaluation.report import write_report

            what = f"{folds}-fold cross-validation, {split} parts pooled" if folds else split
            cv = None if folds else {  # a single split = one fold, so `patlink compare` can combine seeds
                "folds": 1, "seed": None if split_dir else seed,
                "query_fold": {d: {q: 0 for q in r["qrels"]} for d, r in next(iter(results.values())).items()},
                "fold_sizes": [{"train": len(splits["train"]), "val": len(splits.get("val", [])),
                                "test": len(splits.get(split, []))}]}
            rep = write_report(results, out, f"patlink eval — {ds.name} ({what}, protocol {protocol})",
                               _report_context(ds, split, protocol, pool, distractors, seed, folds), cv=cv)
        if json_out:
            flat = _flat_json(results)
            print_json(flat[methods[0]] if len(methods) == 1 else flat)
            return
        print_results(results, f"{ds.name} {split}" + (f" ({folds} folds pooled)" if folds else ""))
        if folds:
            print_fold_mrr(results)
        if out is not None:
            console.print(f"report: {rep['report']}")

    @app.command("link")
    def link_cmd(
        text: Annotated[str, typer.Argument(help="Description of a product/paper (or a patent with --reverse).")],
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        method: Annotated[str, typer.Option("--method", "-m", help=METHOD_HELP)] = "bm25",
        top: Annotated[int, typer.Option(help="How many results.")] = 10,
        reverse: Annotated[bool, typer.Option(help="Rank items for a patent text instead.")] = False,
        item_view: ItemViewOpt = None,
        patent_view: PatentViewOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Rank the dataset's patents for a new text (or its items with --reverse).

        Without patent texts (honeywell-vpm offline) patents are represented by their linked products and the
        answer lists the products that support each patent.

        Example: patlink link --dataset pap2pat --method hybrid "a lithium battery electrode coating" --top 5
        """
        ds = load_input(dataset, beir, item_view, patent_view)
        if not text.strip():
            raise PatlinkError("empty query text")
        profile_method = method.startswith(("profile-", "knn", "popularity"))
        if not reverse and (not ds.has_patent_text or profile_method):
            from patlink.retrieval.profile import link_new_product

            hits = link_new_product(ds, text, method, top)
            if json_out:
                print_json({"query": text, "method": method, "results": hits})
                return
            t = Table("rank", "patent", "score", "evidence (linked products)",
                      title=f"{ds.name}: patents for the query (no patent text: profiles of linked products)")
            for r, h in enumerate(hits, 1):
                t.add_row(str(r), h["patent_id"], f"{h['score']:.3f}", "; ".join(h.get("evidence", [])[:3]))
            console.print(t)
            return
        from patlink.retrieval.factory import get_retriever

        direction = "patent2item" if reverse else "item2patent"
        retriever = get_retriever(method, direction)
        weights = link_fusion_weights(ds, method, retriever, direction)
        if weights is not None:
            retriever.weights = weights
        docs = ds.item_texts() if reverse else ds.patent_texts()
        docs = {k: v for k, v in docs.items() if v.strip()}
        retriever.index(docs)
        run = retriever.search({"query": text}, top)["query"]
        side = ds.items if reverse else ds.patents
        results = []
        for doc_id, score in sorted(run.items(), key=lambda kv: -kv[1])[:top]:
            fields = side.get(doc_id, {})
            title = fields.get("title") or fields.get("name") or (docs.get(doc_id, "")[:80])
            results.append({"id": doc_id, "score": score, "title": title})
        if json_out:
            print_json({"query": text, "method": getattr(retriever, "name", method), "results": results})
            return
        t = Table("rank", "id", "score", "title", title=f"{ds.name}: {'items' if reverse else 'patents'} for the query")
        for r, h in enumerate(results, 1):
            t.add_row(str(r), h["id"], f"{h['score']:.3f}", h["title"][:90])
        console.print(t)
