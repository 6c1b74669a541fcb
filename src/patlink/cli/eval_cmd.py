"""``patlink eval``: parse arguments, call :mod:`patlink.evaluation.experiment`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt,
    DatasetOpt,
    DeviceOpt,
    ItemViewOpt,
    JsonOpt,
    MissingTextOpt,
    PatentViewOpt,
    PatlinkError,
    TextsOpt,
    check_out_folder,
    console,
    err_console,
    load_input,
    print_json,
)
from patlink.cli.methods import METHOD_HELP, parse_methods


def _log(msg: str) -> None:
    err_console.print(f"[dim]{msg}[/dim]", highlight=False)


def _distractor_texts(ds, name: str | None) -> dict[str, str]:
    """Patent texts of the ``--distractors`` dataset in the evaluated patent view."""
    if not name:
        return {}
    from patlink.data import load_dataset

    dds = load_dataset(name)
    return dds.patent_texts(view=[f for f in ds.patent_view if f in dds.patent_fields] or None)


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


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        method: Annotated[str, typer.Option("--method", "-m", help=METHOD_HELP)] = "bm25",
        split: Annotated[str, typer.Option(help="Which split to evaluate: test or val.")] = "test",
        split_dir: Annotated[Path | None, typer.Option(help="Folder written by `patlink split`.")] = None,
        protocol: Annotated[str, typer.Option(help="graph (graph-disjoint split) or new-product (unseen items, "
                                                   "shared patents).")] = "graph",
        direction: Annotated[str, typer.Option(help="item2patent, patent2item or both.")] = "both",
        pool: Annotated[str | None, typer.Option(
            help="Candidates of each query: 'all' (the whole corpus; default for --beir folders and new-product, "
                 "the BEIR convention) or 'split' (the evaluated split's documents; default for the graph split "
                 "of bundled datasets).")] = None,
        distractors: Annotated[str | None, typer.Option(help="Add this dataset's patents to the pool, e.g. "
                                                                "api-patents (~47k).")] = None,
        item_view: ItemViewOpt = None,
        patent_view: PatentViewOpt = None,
        texts: TextsOpt = None,
        missing_text: MissingTextOpt = "error",
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
        out: Annotated[Path | None, typer.Option(help="Write metrics.json, report.md, runs and plots here.")] = None,
        device: DeviceOpt = "auto",
        json_out: JsonOpt = False,
    ) -> None:
        """Evaluate linkage: MRR, MAP, nDCG@10, Recall@k, R_cap@k, P@k, ROC-AUC, PR-AUC with 95% CIs.

        Examples:
          patlink eval --dataset pap2pat --method bm25,dense,hybrid --out reports/pap2pat
          patlink eval --dataset pap2pat --patent-view claims --method runs/claims+bm25 --json
          patlink eval --beir my_beir_folder --method dense:mpnet
        """
        from patlink.evaluation import experiment as ex

        directions = ("item2patent", "patent2item") if direction == "both" else (direction,)
        if any(d not in ("item2patent", "patent2item") for d in directions):
            raise PatlinkError(f"unknown direction {direction!r}; use item2patent, patent2item or both")
        if pool not in (None, "split", "all"):
            raise PatlinkError(f"unknown pool {pool!r}; use 'split' or 'all'")
        if folds and split_dir is not None:
            raise PatlinkError("--folds and --split-dir exclude each other (the folds are made from --seed)")
        if repeats != 1 and (repeats < 1 or not folds or out is None):
            raise PatlinkError("--repeats R needs R >= 1, --folds K and --out DIR (one report per partition, "
                               "then their comparison)")
        check_out_folder(out)   # before any work: the report is written after the evaluation
        from patlink.methods import resolve_views

        methods = parse_methods(method, device=device)
        # a trained linker reads the views it was trained on unless others are asked (then with a warning)
        ds = load_input(dataset, beir, *resolve_views(methods.values(), item_view, patent_view), texts=texts,
                        missing_text=missing_text)
        if not ds.links:
            raise PatlinkError(f"{ds.name} has no links to evaluate")
        kw = dict(split=split, protocol=protocol, pool=pool, directions=directions, depth=depth,
                  distractor_patents=_distractor_texts(ds, distractors),
                  missing_text="keep" if missing_text == "keep" else "error", log=_log)
        if repeats != 1:
            ref = reference or next(iter(methods))
            if ref not in methods:
                raise PatlinkError(f"--reference {ref!r} is not among the methods {list(methods)}")
            comps = ex.repeated_cross_validate(ds, methods, folds, repeats, out, reference=ref, seed=seed,
                                               n_bootstrap=bootstrap, **kw)
            if json_out:
                print_json([c.to_dict() for c in comps])
            else:
                console.print((out / "comparison.md").read_text(), markup=False, highlight=False)
                console.print(f"reports: {out}/seed*/, comparison: {out / 'comparison.md'}")
            return
        if folds:
            res = ex.cross_validate(ds, methods, folds, seed=seed, n_bootstrap=bootstrap, **kw)
        else:
            splits = ex.resolve_splits(ds, seed=seed, protocol=protocol, split_dir=split_dir)
            res = ex.evaluate(ds, methods, splits, seed=seed, n_bootstrap=bootstrap, **kw)
        if distractors:
            res.context["distractors"] = distractors
        if split_dir is not None and res.cv:
            res.cv["seed"] = None
        results = res.to_dict()
        if out is not None:
            what = f"{folds}-fold cross-validation, {split} parts pooled" if folds else split
            rep = res.write(out, f"patlink eval — {ds.name} ({what}, protocol {protocol})")
        if json_out:
            flat = _flat_json(results)
            print_json(flat[next(iter(methods))] if len(methods) == 1 else flat)
            return
        print_results(results, f"{ds.name} {split}" + (f" ({folds} folds pooled)" if folds else ""))
        if folds:
            print_fold_mrr(results)
        if out is not None:
            console.print(f"report: {rep['report']}")
