"""``patlink demo``: the main job end to end on the bundled real data.

1. honeywell-vpm (Honeywell's VPM page): parsed from the raw table, graph statistics, graph-aware split.
2. pap2pat (real papers → real patents), title+abstract on both sides, test split: BM25, dense (MiniLM), hybrid,
   both directions, 95% CIs, paired tests.
3. pap2pat with the paper abstract as query and the patent CLAIMS as patent text (the real semantic gap): the
   baselines, the trained linker (dual encoder, SupCon, adversarial negatives) and the linker fused with BM25.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
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
        quick: Annotated[bool, typer.Option(help="Subset for a first look (< 3 min): BM25 and dense on pap2pat "
                                                 "title+abstract, 200 bootstrap resamples, no training.")] = False,
        train: Annotated[bool, typer.Option(help="Train the linker on pap2pat abstract→claims (part 3).")] = True,
        seed: Annotated[int, typer.Option(help="Split and training seed.")] = 0,
        epochs: Annotated[int, typer.Option(help="Linker training epochs (part 3).")] = 6,
    ) -> None:
        """Run patlink end to end on the bundled real data and print the results.

        Part 1: honeywell-vpm graph and split statistics. Part 2: pap2pat paper→patent and patent→paper with
        BM25, dense and hybrid (95% CIs, paired tests). Part 3: the trained linker on the harder abstract→claims
        task, beside the baselines. Reports (Markdown, JSON, PNG) go to --out.
        """
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from patlink.data import load_dataset
        from patlink.evaluation.experiment import resolve_splits
        from patlink.retrieval.embed import EmbeddingMemo

        memo = EmbeddingMemo()   # each text's vector is read (or computed) once for the whole demo
        t0 = time.time()
        console.print(Panel("1/3  honeywell-vpm: Virtual Patent Marking graph", style="bold"))
        _honeywell_section(seed)

        console.print(Panel("2/3  pap2pat: papers ↔ patents (title+abstract), test split", style="bold"))
        ds = load_dataset("pap2pat")
        splits = resolve_splits(ds, seed=seed)
        methods = ["bm25", "dense"] if quick else ["bm25", "dense", "hybrid"]
        boot = 200 if quick else 1000
        _evaluate_section(ds, methods, splits, boot, seed, out / "pap2pat-title-abstract",
                          "pap2pat test, title+abstract", "paper title+abstract → patent title+abstract", memo)

        if not quick:
            console.print(Panel("3/3  pap2pat: paper abstract → patent CLAIMS (semantic gap): baselines vs "
                                "trained linker", style="bold"))
            dsc = ds.with_views("abstract", "claims")
            methods = ["bm25", "dense", "hybrid"]
            if train:
                from patlink.training.config import NegativesConfig, TrainConfig
                from patlink.training.trainer import train_linker

                run_dir = out / "linker-pap2pat-claims"
                cfg = TrainConfig(epochs=epochs, seed=seed, negatives=NegativesConfig(source="adversarial"))
                err_console.print(f"[dim]training the linker ({epochs} epochs) → {run_dir}[/dim]")
                train_linker(dsc, splits, cfg, run_dir, resume=True)
                methods += [str(run_dir), f"{run_dir}+bm25", f"{run_dir}+bm25+dense"]
            _evaluate_section(dsc, methods, splits, boot, seed, out / "pap2pat-abstract-claims",
                              "pap2pat test, abstract → claims", "paper abstract → patent claims", memo)

        console.print(f"[green]demo finished in {time.time() - t0:.0f} s[/green]; reports under {out}/")
