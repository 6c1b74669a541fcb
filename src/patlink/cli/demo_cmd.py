"""``patlink demo``: the main job end to end on the bundled real data.

1. honeywell-vpm (Honeywell's VPM page): parsed from the raw table, graph statistics, graph-aware split.
2. honeywell-vpm NEW products linked to Honeywell patents (the new-product protocol: test products never seen,
   patents known by their training products): ``knn+bm25`` (the best method so far, weights tuned on validation)
   beside its baselines, product → patent, 95% CIs, paired test vs the best baseline; then three test products
   drawn by a seeded rule, each with its top-5 patents, the score, whether each is a held-out link and the known
   products that support it (:func:`patlink.evaluation.examples.new_product_examples`).
3. pap2pat (real papers → real patents), title+abstract on both sides, test split: BM25, dense (MiniLM), hybrid,
   both directions, 95% CIs, paired tests.
4. pap2pat with the paper abstract as query and the patent CLAIMS as patent text (the real semantic gap): the
   baselines, the trained linker (dual encoder, SupCon, adversarial negatives) and the linker fused with BM25.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from patlink.cli.common import console, err_console


def _honeywell_section(seed: int) -> None:
    from patlink.data import load_dataset
    from patlink.graph import split_dataset
    from patlink.graph.stats import graph_stats

    ds = load_dataset("honeywell-vpm")
    st = graph_stats(ds.links, n_items=len(ds.items), n_patents=len(ds.patents))
    md = ds.metadata
    t = Table("", "products", "patents", "edges", title="honeywell-vpm: raw VPM table → cleaned graph")
    t.add_row("raw table (parsed)", str(md["raw_products"]), str(md["raw_patents"]), str(md["raw_edges"]))
    t.add_row("cleaned (products with a description)", str(st["items"]), str(st["patents"]), str(st["edges"]))
    up = md["upstream_counts"]
    t.add_row("upstream (El Bouari & de Rassenfosse)", str(up["products"]), str(up["patents"]), str(up["edges"]))
    console.print(t)
    console.print(f"density {st['density']:.4f}; {st['components']} components; the two largest hold "
                  f"{st['share_nodes_top2']:.0%} of nodes and {st['share_edges_top2']:.0%} of edges; "
                  f"anomalies repaired in the raw table: {sum(md['anomalies'].values())} "
                  f"(`patlink data check honeywell-vpm`).")
    split = split_dataset(ds, seed=seed)
    s = split.stats()
    upstream = {"train": (1270, 3033, 16689), "val": (279, 730, 1542), "test": (277, 680, 1959)}
    t = Table("split", "products", "patents", "edges", "upstream (products/patents/edges)",
              title="graph-aware split (bridge cutting, no node in two splits)")
    for name in ("train", "val", "test"):
        c = s[name]
        t.add_row(name, str(c["items"]), str(c["patents"]), str(c["edges"]), "/".join(map(str, upstream[name])))
    console.print(t)
    console.print(f"edges cut by the split (dropped, not leaked): {len(split.dropped)}")


#: Methods of part 2: the shown method first, then its baselines (``--quick``: the best baseline and popularity).
NEW_PRODUCT_METHODS = ("knn+bm25", "knn", "profile-bm25", "profile-mean", "popularity")
NEW_PRODUCT_METHODS_QUICK = ("knn+bm25", "knn", "popularity")


def _new_products_section(seed: int, quick: bool, out: Path, memo) -> None:
    """Part 2: new honeywell-vpm products linked to patents (the library call), printed and written under ``out``."""
    from patlink.cli.eval_cmd import _log
    from patlink.cli.methods import parse_method
    from patlink.data import load_dataset
    from patlink.evaluation.examples import new_product_examples
    from patlink.retrieval.profiles import ProfileConfig

    ds = load_dataset("honeywell-vpm")
    specs = NEW_PRODUCT_METHODS_QUICK if quick else NEW_PRODUCT_METHODS
    methods = {s: parse_method(s, memo=memo) for s in specs}
    ex = new_product_examples(ds, methods, specs[0], seed=seed, example_seed=seed,
                              n_bootstrap=200 if quick else 1000, profile_config=ProfileConfig(memo=memo), log=_log)
    print_new_product_examples(ex)
    rep = ex.write(out, "honeywell-vpm new products → patents (new-product protocol, test)")
    console.print(f"report: {rep['report']}; examples: {rep['examples']}")


def _p(p: float) -> str:
    return f"{p:.2g}"


def print_new_product_examples(ex) -> None:
    """Print a :class:`patlink.evaluation.examples.NewProductExamples`: the metrics table per direction, the paired
    test against the best baseline, then each example product with its top patents and their evidence."""
    f = ex.facts
    console.print(f"Split (new-product protocol, seed {f['seed']}): {f['train_products']:,} training products form "
                  f"the patents' profiles; {f['val_products']:,} validation products tune k and the fusion weight; "
                  f"{f['test_products']:,} test products ({f['test_links']:,} held-out links), never seen, each rank "
                  f"the {f['pool_patents']:,} patents that have a training product ({f['links_outside_pool']:,} test "
                  "links point to other patents and count as misses).")
    cols = ("mrr", "map", "ndcg@10", "recall@10", "recall@100")
    for d in ex.result.directions:
        arrow = "product → patent" if d == "item2patent" else "patent → product"
        t = Table("method", "tuned on validation", "MRR", "MAP", "nDCG@10", "R@10", "R@100",
                  title=f"honeywell-vpm new products, test — {arrow} (95% bootstrap CI)")
        for name, per in ex.result.items():
            r = per.get(d)
            if r is None:
                continue
            cells = []
            for c in cols:
                lo, hi = r.ci(c)
                cells.append(f"{r[c]:.3f}" if math.isnan(lo) else f"{r[c]:.3f} [{lo:.3f}, {hi:.3f}]")
            shown = escape(name)
            t.add_row(f"[bold]{shown}[/bold]" if name == ex.method else shown,
                      escape(r.method) if r.method != name else "–", *cells)
        console.print(t)
        if d in ex.tests:
            p = ex.tests[d]
            console.print(f"{escape(ex.method)} vs the best baseline ({escape(ex.reference[d])}), paired two-sided "
                          "t-test over the "
                          f"{ex.result[ex.method][d].n_queries} queries: MRR p = {_p(p['mrr'])}, MAP p = "
                          f"{_p(p['map'])}, nDCG@10 p = {_p(p['ndcg@10'])}.")
    if "patent2item" not in ex.result.directions:
        console.print("[dim]patent → product is not run here (evaluating the fusion in that direction takes ~3.5 "
                      "min on 2 cores, mostly tuning its weight on validation): patlink eval --dataset honeywell-vpm "
                      "--protocol new-product --direction patent2item "
                      f"--method {escape(ex.method)},{escape(ex.reference.get('item2patent', ''))}[/dim]")
    console.print(f"Examples, ranked by {escape(ex.method)}: {escape(ex.rule)}. Score: the fused score, min-max "
                  "normalised per product (1 = its best patent); true link = a held-out link of the product; "
                  "evidence = the patent's known (training) products, most similar to the product first.")
    for k, e in enumerate(ex.examples, 1):
        first = f"first true patent at rank {e.first_true_rank}" if e.first_true_rank else "no true patent ranked"
        text = e.text.split("\n", 1)[-1] if e.text.startswith(e.name) else e.text
        text = " ".join(text.split())
        console.print(f"\n[bold]example {k}/{len(ex.examples)}: {escape(e.name)}[/bold] — "
                      f"{escape(text[:220] + ('…' if len(text) > 220 else ''))}", highlight=False)
        t = Table("rank", "patent", "score", "true link", "evidence: its known products, most similar first",
                  title=f"{len(e.true_patents)} held-out patent(s), {e.representable} rankable (with a training "
                        f"product); {first}")
        for c in e.candidates:
            names = "; ".join(c.evidence_names[:3])
            more = c.known_products - min(3, len(c.evidence_names))
            t.add_row(str(c.rank), c.patent_id, f"{c.score:.3f}", "[green]yes[/green]" if c.true_link else "no",
                      escape(names + (f" (+{more} more)" if more > 0 else "")))
        console.print(t)


def _evaluate_section(ds, methods: list[str], splits: dict, boot: int, seed: int, out: Path, title: str,
                      views: str, memo) -> None:
    """Evaluate ``methods`` on the pap2pat test split, print the tables and write the report under ``out``;
    ``memo``: the demo's :class:`~patlink.retrieval.embed.EmbeddingMemo` (every section's dense parts share it)."""
    from patlink.cli.eval_cmd import _log, print_results
    from patlink.cli.methods import parse_method
    from patlink.evaluation.experiment import evaluate
    from patlink.evaluation.results import EvaluationResult

    named = {Path(k).name if "/" in k else k: parse_method(k, memo=memo) for k in methods}
    res = evaluate(ds, named, splits, n_bootstrap=boot, seed=seed, log=_log)
    print_results(res.to_dict(), title)
    res = EvaluationResult(res.to_dict(), {"dataset": "pap2pat (Bosch, MIT)",
                                           "split": f"seeded random 70/15/15, seed {seed}", "views": views},
                           cv=res.cv)
    rep = res.write(out, title)
    console.print(f"report: {rep['report']}")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option(help="Folder for reports, plots and the trained model.")] = Path("patlink-demo"),
        quick: Annotated[bool, typer.Option(help="Subset for a first look (< 3 min): honeywell-vpm new products with "
                                                 "knn+bm25, knn and popularity; BM25 and dense on pap2pat "
                                                 "title+abstract; 200 bootstrap resamples, no training.")] = False,
        train: Annotated[bool, typer.Option(help="Train the linker on pap2pat abstract→claims (part 4).")] = True,
        seed: Annotated[int, typer.Option(help="Split, training and example seed.")] = 0,
        epochs: Annotated[int, typer.Option(help="Linker training epochs (part 4).")] = 6,
    ) -> None:
        """Run patlink end to end on the bundled real data and print the results.

        Part 1: honeywell-vpm graph and split statistics. Part 2: new Honeywell products (never seen) linked to
        Honeywell patents known by their other products: knn+bm25 beside knn, profile-bm25, profile-mean and
        popularity (95% CIs, paired test), then three test products drawn by a seeded rule with their top-5
        patents, whether each is a held-out link, and the known products behind each. Part 3: pap2pat
        paper→patent and patent→paper with BM25, dense and hybrid (95% CIs, paired tests). Part 4: the trained
        linker on the harder abstract→claims task, beside the baselines. Reports (Markdown, JSON, PNG) go to
        --out.
        """
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from patlink.data import load_dataset
        from patlink.evaluation.experiment import resolve_splits
        from patlink.retrieval.embed import EmbeddingMemo

        memo = EmbeddingMemo()   # each text's vector is read (or computed) once for the whole demo
        t0 = time.time()
        n = 3 if quick else 4
        console.print(Panel(f"1/{n}  honeywell-vpm: Virtual Patent Marking graph", style="bold"))
        _honeywell_section(seed)
        err_console.print(f"[dim]part 1 took {time.time() - t0:.0f} s[/dim]")

        console.print(Panel(f"2/{n}  honeywell-vpm: NEW products linked to Honeywell patents (products never seen; "
                            "patents known by their other products)", style="bold"))
        t1 = time.time()
        _new_products_section(seed, quick, out / "honeywell-new-products", memo)
        err_console.print(f"[dim]part 2 took {time.time() - t1:.0f} s[/dim]")

        console.print(Panel(f"3/{n}  pap2pat: papers ↔ patents (title+abstract), test split", style="bold"))
        t1 = time.time()
        ds = load_dataset("pap2pat")
        splits = resolve_splits(ds, seed=seed)
        methods = ["bm25", "dense"] if quick else ["bm25", "dense", "hybrid"]
        boot = 200 if quick else 1000
        _evaluate_section(ds, methods, splits, boot, seed, out / "pap2pat-title-abstract",
                          "pap2pat test, title+abstract", "paper title+abstract → patent title+abstract", memo)
        err_console.print(f"[dim]part 3 took {time.time() - t1:.0f} s[/dim]")

        if not quick:
            console.print(Panel("4/4  pap2pat: paper abstract → patent CLAIMS (semantic gap): baselines vs "
                                "trained linker", style="bold"))
            t1 = time.time()
            dsc = ds.with_views("abstract", "claims")
            methods = ["bm25", "dense", "hybrid"]
            if train:
                from patlink.training.config import NegativesConfig, TrainConfig
                from patlink.training.trainer import train_linker

                run_dir = out / "linker-pap2pat-claims"
                cfg = TrainConfig(epochs=epochs, seed=seed, negatives=NegativesConfig(source="adversarial"))
                err_console.print(f"[dim]training the linker ({epochs} epochs) → {run_dir}[/dim]")
                train_linker(dsc, splits, cfg, run_dir, resume=True)
                err_console.print(f"[dim]training took {time.time() - t1:.0f} s[/dim]")
                methods += [str(run_dir), f"{run_dir}+bm25", f"{run_dir}+bm25+dense"]
            _evaluate_section(dsc, methods, splits, boot, seed, out / "pap2pat-abstract-claims",
                              "pap2pat test, abstract → claims", "paper abstract → patent claims", memo)
            err_console.print(f"[dim]part 4 took {time.time() - t1:.0f} s[/dim]")

        console.print(f"[green]demo finished in {time.time() - t0:.0f} s[/green]; reports under {out}/")
