"""``patlink data``: list, describe, check and export datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt, DeviceOpt, ItemViewOpt, JsonOpt, PatentViewOpt, PatlinkError, TextsOpt, check_out_folder, console,
    load_input, print_json,
)

app = typer.Typer(help="Bundled datasets and BEIR folders: list, stats, anomaly check, export (BEIR, JSONL, "
                       "Parquet), embed.",
                  no_args_is_help=True)


@app.command("list")
def list_datasets(json_out: JsonOpt = False) -> None:
    """List the bundled real datasets."""
    from patlink.data import DATASETS

    if json_out:
        print_json({k: v.description for k, v in DATASETS.items()})
        return
    t = Table("name", "description")
    for k, v in DATASETS.items():
        t.add_row(k, v.description)
    console.print(t)


@app.command("stats")
def stats(
    dataset: Annotated[Optional[str], typer.Argument(help="Bundled dataset name (or use --beir).")] = None,
    beir: BeirOpt = None,
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    texts: TextsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Counts, graph components, degrees and missing texts of a dataset.

    Example: `patlink data stats honeywell-vpm --json`, or with hydrated patent texts
    `patlink data stats honeywell-vpm --texts ~/.cache/patlink/hydrate.duckdb`.
    """
    from patlink.graph.stats import graph_stats

    ds = load_input(dataset, beir, item_view, patent_view, texts=texts)
    out = {**ds.summary(), **graph_stats(ds.links, n_items=len(ds.items), n_patents=len(ds.patents))}
    out["missing_text"] = ds.missing_text()
    if texts is not None:
        out["texts"] = {"store": str(texts), "hydrated_patents": ds.metadata.get("hydrated_patents", 0)}
    if json_out:
        print_json(out)
        return
    t = Table("statistic", "value", title=f"{ds.name}")
    for k in ("items", "patents", "edges", "density", "components", "share_nodes_top2", "share_edges_top2"):
        v = out[k]
        t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    t.add_row("item degree (mean/median/max)", "{mean:.2f} / {median:.0f} / {max}".format(**out["item_degree"]))
    t.add_row("patent degree (mean/median/max)", "{mean:.2f} / {median:.0f} / {max}".format(**out["patent_degree"]))
    t.add_row("missing item texts", str(out["missing_text"]["items"]))
    t.add_row("missing patent texts", str(out["missing_text"]["patents"]))
    t.add_row(f"patents with text ({'+'.join(ds.patent_view)})", str(out["patents_with_text"]))
    if texts is not None:
        t.add_row("patents given texts by --texts", str(out["texts"]["hydrated_patents"]))
    console.print(t)
    if out["largest_components"]:
        c = Table("component", "items", "patents", "edges", "density", title="largest components")
        for n, r in enumerate(out["largest_components"], 1):
            c.add_row(str(n), str(r["items"]), str(r["patents"]), str(r["edges"]), f"{r['density']:.4f}")
        console.print(c)


@app.command("check")
def check(
    dataset: Annotated[str, typer.Argument(help="Dataset to check (honeywell-vpm parses the raw VPM table).")],
    json_out: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Anomalies to print (all with --json).")] = 200,
) -> None:
    """Report every anomaly found while parsing the raw data, with line numbers.

    For honeywell-vpm: separators other than ';' (non-breaking spaces, colons, spaces), repeated numbers,
    repeated product rows (merged), short or invalid numbers, and products without a description.
    """
    from patlink.data import load_dataset
    from patlink.data.registry import load_vpm_table

    ds = load_dataset(dataset)
    if ds.name != "honeywell-vpm":
        summary = ds.summary()
        if json_out:
            print_json({"dataset": ds.name, "anomalies": [], "missing_text": summary["missing_text"]})
        else:
            console.print(f"{ds.name}: loaded without anomalies; missing texts: {summary['missing_text']}")
        return
    table = load_vpm_table()
    rows = [a.__dict__ for a in table.anomalies]
    report = {
        "dataset": ds.name,
        "raw_rows": table.n_rows,
        "raw": {"products": len(table.products), "patents": len(table.patents), "edges": len(table.links)},
        "cleaned": {"products": len(ds.items), "patents": len(ds.patents), "edges": len(ds.links)},
        "upstream": ds.metadata["upstream_counts"],
        "anomaly_counts": table.anomaly_counts(),
        "products_without_description": ds.metadata["products_without_description"],
        "descriptions_without_links": ds.metadata["descriptions_without_links"],
        "anomalies": rows,
    }
    if json_out:
        print_json(report)
        return
    t = Table("line", "kind", "product", "detail", title=f"{len(rows)} anomalies in the raw VPM table")
    for a in rows[:limit]:
        t.add_row(str(a["line"]), a["kind"], a["product"][:40], a["detail"][:70])
    console.print(t)
    console.print(f"anomaly counts: {report['anomaly_counts']}")
    console.print(f"raw: {report['raw']}  cleaned (products with a description): {report['cleaned']}  "
                  f"upstream: {report['upstream']}")
    console.print(f"{len(report['products_without_description'])} products without a description are excluded "
                  f"(list with --json); {len(report['descriptions_without_links'])} descriptions have no VPM row.")


@app.command("export-beir")
def export_beir_cmd(
    dataset: Annotated[str, typer.Argument(help="Bundled dataset to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    split_dir: Annotated[Optional[Path], typer.Option(
        "--split-dir", help="Folder of `patlink split` (train/val/test.tsv) to write as qrels; else all links as test.")] = None,
    texts: TextsOpt = None,
) -> None:
    """Write a dataset as a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)."""
    from patlink.data.beir import export_beir

    ds = load_input(dataset, None, item_view, patent_view, texts=texts)
    splits = None
    if split_dir is not None:
        from patlink.graph import read_split

        splits = read_split(split_dir).parts()
    if not ds.items:
        raise PatlinkError(f"{ds.name} has no items/links to export as queries and qrels")
    path = export_beir(ds, out, splits)
    console.print(f"wrote BEIR folder {path}")


@app.command("export")
def export_cmd(
    dataset: Annotated[Optional[str], typer.Argument(help="Bundled dataset name (or use --beir).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="beir (corpus/queries/qrels), jsonl or parquet "
                                                            "(patents, items, links + export.json).")] = "beir",
    beir: BeirOpt = None,
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    texts: TextsOpt = None,
    missing_text: Annotated[str, typer.Option(
        "--missing-text", help="keep (default: patents without text in the view are written with an empty text and "
                               "counted) or drop (left out with their links).")] = "keep",
    split_dir: Annotated[Optional[Path], typer.Option(
        "--split-dir", help="Folder of `patlink split` (train/val/test.tsv): the qrels files (beir) or the links' "
                            "split column; default the dataset's own splits.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a dataset with the texts it has — bundled, hydrated (--texts STORE) or summarised (--patent-view
    summary) — as a BEIR folder, JSON lines or Parquet, and say how many patents have text in the view.

    Examples:
      patlink data export honeywell-vpm --texts hw.duckdb --patent-view title,abstract,claims --format parquet --out hw/
      patlink data export honeywell-vpm --texts hw.duckdb --patent-view summary --format beir --out hw-beir/
    """
    from patlink.data.export import EXPORT_FORMATS, export_dataset

    if out is None:
        raise PatlinkError("give the output folder: --out DIR")
    if fmt not in EXPORT_FORMATS:
        raise PatlinkError(f"unknown --format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if missing_text not in ("keep", "drop"):
        raise PatlinkError(f"unknown --missing-text {missing_text!r}; use keep or drop")
    check_out_folder(out)
    ds = load_input(dataset, beir, item_view, patent_view, texts=texts, missing_text=missing_text)
    splits = None
    if split_dir is not None:
        from patlink.graph import read_split

        splits = read_split(split_dir).parts()
    rep = export_dataset(ds, out, fmt, splits)
    if json_out:
        print_json(rep.to_dict())
        return
    missing = rep.patents - rep.patents_with_text
    console.print(f"wrote {rep.format} export of {ds.name} to {out}/ ({', '.join(rep.files)}): {rep.patents} patents "
                  f"— {rep.patents_with_text} with text in view {','.join(rep.patent_view)}"
                  + (f", {missing} WITHOUT (written with an empty text; --missing-text drop leaves them out)"
                     if missing else "")
                  + f" — {rep.items} items, {rep.links} links"
                  + (f", {rep.negative_links} known negatives" if rep.negative_links else "")
                  + (f"; patent texts from {rep.texts_from}" if rep.texts_from else ""), highlight=False)


@app.command("embed")
def embed_cmd(
    dataset: Annotated[str | None, typer.Argument(help="Bundled dataset name (or use --beir).")] = None,
    beir: BeirOpt = None,
    side: Annotated[str, typer.Option(help="Which texts: patents, items or both.")] = "patents",
    item_view: ItemViewOpt = None,
    patent_view: PatentViewOpt = None,
    model: Annotated[str, typer.Option(help="Backbone (sentence-transformers name or path; minilm = bundled).")] = "minilm",
    max_length: Annotated[int, typer.Option(help="Tokens per window, as in training and dense (default 256).")] = 256,
    max_chunks: Annotated[int, typer.Option(help="Windows per text (as `patlink train --max-chunks`, `dense@N`).")] = 1,
    texts: TextsOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Fill the on-disk caches of a dataset's texts in ONE backbone pass: token embeddings (what a trained linker
    reads) and, for mean-pooling models such as MiniLM, the sentence embeddings of dense/hybrid (their mean).

    Resumable: an interrupted run continues where it stopped. Use it before ranking against a large corpus, e.g.
    the 46,920 api-patents distractors: `patlink data embed api-patents --patent-view title,abstract` (about an
    hour on 2 CPU cores, once), then `patlink eval --dataset pap2pat --distractors api-patents --method
    hybrid,runs/NAME+bm25`. The caches live under $PATLINK_CACHE (default ~/.cache/patlink).
    """
    import time

    from patlink.config import default_cache_dir
    from patlink.data.chunking import backbone_chunks
    from patlink.models.token_cache import TokenEmbeddingStore
    from patlink.retrieval.embed import embed_from_token_store, mean_pooling_model

    if side not in ("patents", "items", "both"):
        raise PatlinkError(f"unknown --side {side!r}; use patents, items or both")
    if max_chunks < 1:
        raise PatlinkError(f"--max-chunks must be >= 1, got {max_chunks}")
    ds = load_input(dataset, beir, item_view, patent_view, texts=texts)
    docs: list[str] = []
    if side in ("items", "both"):
        docs += [t for t in ds.item_texts().values() if t.strip()]
    if side in ("patents", "both"):
        docs += [t for t in ds.patent_texts().values() if t.strip()]
    if not docs:
        raise PatlinkError(f"{ds.name} has no {side} texts to embed (patent texts may need `patlink hydrate`, "
                           "then --texts STORE)")
    windows = list(dict.fromkeys(w for t in docs for w in backbone_chunks(t, model, max_length, max_chunks))) \
        if max_chunks > 1 else list(dict.fromkeys(docs))
    cache_dir = default_cache_dir()
    store = TokenEmbeddingStore(model, max_length=max_length, cache_dir=cache_dir, device=device)
    todo = len(store.missing(windows))
    t0 = time.perf_counter()
    dense = mean_pooling_model(model, device)
    if dense:
        embed_from_token_store(windows, model, max_length=max_length, store=store, cache_dir=cache_dir,
                               device=device)
    else:
        store.encode(windows)
    out = {"dataset": ds.name, "texts": len(docs), "windows": len(windows), "computed": todo,
           "seconds": round(time.perf_counter() - t0, 1), "token_cache": str(store.path),
           "dense_cache": dense}
    if json_out:
        print_json(out)
        return
    console.print(f"{ds.name}: {len(docs)} texts ({len(windows)} windows of ≤ {max_length} tokens), {todo} computed "
                  f"in {out['seconds']} s; token cache {store.path}"
                  + ("; dense vectors cached too" if dense else f"; {model} is not mean-pooling: dense not cached"))
