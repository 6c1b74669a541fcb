"""CLI: ``patlink bench`` (the patent-embedding benchmark) and ``patlink finetune`` (recipes R1–R4, PatentCL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from patlink.cli.common import DeviceOpt, JsonOpt, PatlinkError, TextsOpt, console, print_json


def bench(
    models: Annotated[str, typer.Option("--models", "-m", help="Comma list: minilm, mpnet, bm25, a "
                                        "sentence-transformers name or folder, runs/NAME (patlink finetune).")] = "minilm,bm25",
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="all, task names, a type (retrieval, "
                                       "classification, clustering) or beir:FOLDER; comma-separated.")] = "all",
    views: Annotated[str, typer.Option("--views", help="Patent text views: title, abstract, claims, description, "
                                       "ta (title+abstract), tac (title+abstract+claims), or all.")] = "ta,tac",
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (cache, tables, plots).")] = Path("bench-results"),
    distractors: Annotated[Optional[str], typer.Option("--distractors", help="Add a patent corpus as distractors "
                                                       "to item→patent retrieval: api-patents (~47k).")] = None,
    n_bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for 95% CIs.")] = 1000,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per text for dense models.")] = 256,
    force: Annotated[bool, typer.Option("--force", help="Recompute cached results.")] = False,
    texts: TextsOpt = None,
    list_tasks: Annotated[bool, typer.Option("--list", help="List the tasks and exit.")] = False,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Benchmark embedding models on patent retrieval, classification and clustering.

    One cached JSON per (task, view, model) under OUT/results, so adding a model runs only that model. Writes
    OUT/results.md, OUT/results.csv, OUT/tasks/TASK.json (with paired tests) and OUT/heatmap.png.
    """
    from patlink.bench.tasks import TASKS, get_tasks, parse_views

    if list_tasks:
        if json_out:
            print_json([t.to_dict() for t in TASKS.values()])
        else:
            for t in TASKS.values():
                console.print(f"[bold]{t.name}[/bold] ({t.type}, {t.main_score}): {t.description}", highlight=False)
        return
    from dataclasses import replace

    from patlink.bench.models import parse_models
    from patlink.bench.report import write_report
    from patlink.bench.runner import BenchConfig, run_benchmark

    if distractors and distractors != "api-patents":
        raise PatlinkError(f"unknown distractor corpus {distractors!r}; use api-patents")
    task_list, view_list, model_list = get_tasks(tasks), parse_views(views), parse_models(models, device)
    if texts is not None:  # a bad store is one clear error now, not a skipped task later
        from patlink.hydrate.store import open_texts

        try:
            open_texts(texts).close()
        except ValueError as e:
            raise PatlinkError(f"--texts: {e}") from None
    cfg = BenchConfig(out=out, views=view_list, force=force, texts=texts)
    cfg.retrieval = replace(cfg.retrieval, n_bootstrap=n_bootstrap, max_length=max_length, distractors=distractors)
    cfg.classification = replace(cfg.classification, n_bootstrap=n_bootstrap)
    log = (lambda *_: None) if json_out else (lambda m: console.print(m, highlight=False))
    summary = run_benchmark(task_list, model_list, cfg, log=log)
    rep = write_report(summary["entries"], out, summary["skipped"])
    if json_out:
        print_json({"seconds": summary["seconds"], "computed": summary["computed"], "cached": summary["cached"],
                    "skipped": summary["skipped"], "paths": rep["paths"]})
        return
    console.print(rep["markdown"], highlight=False, markup=False)
    console.print(f"{summary['computed']} computed, {summary['cached']} from cache, {summary['seconds']} s; "
                  f"wrote {', '.join(rep['paths'].values())}", highlight=False)


def finetune(
    recipe: Annotated[str, typer.Option("--recipe", "-r", help="r1 (link pairs), r2 (CPC labels), r3 (abstract↔"
                                        "claims), r4 (r1+r2+r3), patentcl (CPC triplets).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder; the model goes to OUT/model.")],
    base: Annotated[str, typer.Option("--base", help="Starting model: minilm, mpnet, a name or a folder.")] = "minilm",
    epochs: Annotated[int, typer.Option("--epochs")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    lr: Annotated[float, typer.Option("--lr")] = 2e-5,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per text while training.")] = 128,
    max_examples: Annotated[Optional[int], typer.Option("--max-examples", help="Cap on examples per source.")] = None,
    patentsview_dir: Annotated[Optional[Path], typer.Option("--patentsview-dir", help="Folder with PatentsView "
                               "g_patent, g_cpc_current [, g_us_patent_citation] tables (PatentCL, R1).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scatter: Annotated[bool, typer.Option("--scatter/--no-scatter", help="Write OUT/scatter.png: 2-D PCA of "
                                          "cpc-claims embeddings by CPC section, before vs after.")] = True,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Fine-tune a sentence-transformers model with a contrastive recipe; the result is usable by bench/eval/link."""
    from patlink.bench.finetune import FinetuneConfig, finetune as run

    if patentsview_dir is not None and not patentsview_dir.is_dir():
        raise PatlinkError(f"--patentsview-dir {patentsview_dir}: not a folder")
    cfg = FinetuneConfig(recipe=recipe, out=out, base=base, epochs=epochs, batch_size=batch_size, lr=lr,
                         max_length=max_length, max_examples=max_examples, patentsview_dir=patentsview_dir, seed=seed,
                         device=device)
    log = (lambda *_: None) if json_out else (lambda m: console.print(m, highlight=False))
    path = run(cfg, log=log)
    result = {"model": str(path)}
    if scatter:
        from patlink.bench.scatter import scatter_before_after

        result["scatter"] = str(scatter_before_after(base, str(path), out / "scatter.png"))
        log(f"[finetune] scatter plot: {result['scatter']}")
    if json_out:
        print_json(result)


def register(app: typer.Typer) -> None:
    """Add ``bench`` and ``finetune`` to the top-level app."""
    app.command("bench")(bench)
    app.command("finetune")(finetune)
