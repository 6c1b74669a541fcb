"""``patlink link``: rank patents for product/paper texts (or items for patents) — one text, or a file of queries
into a links file — from a saved index or from a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import (
    BeirOpt,
    DatasetOpt,
    DeviceOpt,
    ItemViewOpt,
    JsonOpt,
    PatentViewOpt,
    PatlinkError,
    TextsOpt,
    console,
    err_console,
    load_input,
    print_json,
)
from patlink.cli.index_cmd import FormatOpt, IdFieldOpt, TextFieldsOpt, TitleFieldOpt, read_input
from patlink.cli.methods import METHOD_HELP


def _print_hits(hits, *, title: str, reverse: bool) -> None:
    profile = any(h.evidence for h in hits)
    if profile:
        t = Table("rank", "patent", "score", "evidence (linked products)", title=title)
        for h in hits:
            t.add_row(str(h.rank), h.id, f"{h.score:.3f}", "; ".join(h.evidence[:3]))
    else:
        t = Table("rank", "item" if reverse else "patent", "score", "title", "evidence", title=title)
        for h in hits:
            ev = []
            if h.matched_terms:
                ev.append("terms: " + ", ".join(h.matched_terms[:6]))
            ev += [f"{k}={v:.3f}" for k, v in h.part_scores.items() if v is not None]
            t.add_row(str(h.rank), h.id, f"{h.score:.3f}", (h.title or "")[:70], "; ".join(ev))
    console.print(t)


def _rows(hits) -> list[dict]:
    return [{"id": h.id, "rank": h.rank, "score": h.score, "title": h.title, "matched_terms": h.matched_terms,
             "part_scores": h.part_scores, "evidence": h.evidence} for h in hits]


def register(app: typer.Typer) -> None:
    @app.command("link")
    def link_cmd(
        text: Annotated[Optional[str], typer.Argument(
            help="One product/paper description (a patent text with --reverse); or give --queries FILE.")] = None,
        index: Annotated[Optional[Path], typer.Option(
            "--index", "-i", help="A saved index (`patlink index`): ranks from disk, nothing is re-embedded.")] = None,
        queries: Annotated[Optional[str], typer.Option(
            "--queries", "-q", help="A file of queries (JSONL/CSV/TSV/Parquet, a BEIR folder's queries, a dataset's "
                                    "items): one ranked list per row, written to --out.")] = None,
        out: Annotated[Optional[Path], typer.Option(
            "--out", "-o", help="Links file for --queries: .csv, .tsv, .jsonl, .parquet or a TREC run (.trec/.run)."
        )] = None,
        out_format: Annotated[Optional[str], typer.Option(
            "--out-format", help="csv, tsv, jsonl, parquet or trec when the suffix of --out does not say.")] = None,
        top: Annotated[int, typer.Option("--top", "-k", help="Candidates per query.")] = 10,
        id_field: IdFieldOpt = None,
        text_fields: TextFieldsOpt = None,
        title_field: TitleFieldOpt = None,
        fmt: FormatOpt = None,
        batch_size: Annotated[int, typer.Option(
            help="With --index: queries ranked per step (progress bar steps).")] = 256,
        dataset: DatasetOpt = None,
        beir: BeirOpt = None,
        method: Annotated[Optional[str], typer.Option(
            "--method", "-m", help="Without --index: the method (default bm25). With --index: checked against the "
                                   "index's. " + METHOD_HELP)] = None,
        reverse: Annotated[bool, typer.Option(
            help="Rank items for patent texts (with --index: an index built with `patlink index --reverse`).")
        ] = False,
        seed: Annotated[int, typer.Option(help="Seed of the split whose validation links tune the method "
                                               "(as `patlink eval --seed`; without --index).")] = 0,
        item_view: ItemViewOpt = None,
        patent_view: PatentViewOpt = None,
        texts: TextsOpt = None,
        device: DeviceOpt = "auto",
        json_out: JsonOpt = False,
    ) -> None:
        """Rank patents for product or paper texts (items for patents with --reverse), with evidence.

        From a saved index (fast, any corpus): `--index IDX` with one TEXT, or with `--queries FILE --out FILE`
        for a links file (rank, score, title, the query words BM25 matched, each fused part's score). From a
        bundled dataset or BEIR folder (`--dataset`/`--beir`, built in memory; the method ranks as in `patlink
        eval`, fusion weights tuned on the same validation links; patents without text are represented by their
        linked products, whose names are the evidence).

        Examples:
          patlink link --index idx/ "a handheld barcode scanner with a laser" --top 5
          patlink link --index idx/ --queries products.csv --text-fields name,description --out links.parquet
          patlink link --dataset pap2pat --method hybrid "a lithium battery electrode coating"
        """
        from patlink.cli.methods import parse_method

        if (text is None) == (queries is None):
            raise PatlinkError("give one query TEXT or --queries FILE (not both)")
        if text is not None and not text.strip():
            raise PatlinkError("empty query text")
        if queries is not None and out is None:
            raise PatlinkError("--queries needs --out FILE (a .csv, .tsv, .jsonl, .parquet or .trec links file)")
        if top < 1:
            raise PatlinkError(f"--top must be >= 1, got {top}")
        if index is not None and (dataset is not None or beir is not None):
            raise PatlinkError("give --index IDX or --dataset/--beir, not both")
        if out is not None:
            from patlink.linking import links_format

            links_format(out, out_format)   # a bad suffix fails before any work
        side = "patents" if reverse else "items"
        qs = {"query": text} if text is not None else read_input(
            queries, side=side, id_field=id_field, text_fields=text_fields, title_field=title_field,
            fmt=fmt).as_dict()
        if index is not None:
            from patlink.cli.index_cmd import open_index

            idx = open_index(index, method=parse_method(method, device=device) if method else None, device=device)
            if reverse != (idx.direction == "patent2item"):
                raise PatlinkError(f"{index} indexes {idx.document_side}s" + (
                    " for item queries: drop --reverse, or build an index of items with `patlink index ITEMS "
                    "--reverse`" if reverse else " for patent queries: add --reverse"))
            label, name = idx.manifest.label, f"{index}"
            answers = idx.link_batches(qs, top, batch_size=batch_size, show_progress=queries is not None)
        else:
            from patlink.linking import link
            from patlink.methods import resolve_views

            m = parse_method(method or "bm25", device=device)
            ds = load_input(dataset, beir, *resolve_views([m], item_view, patent_view), texts=texts)
            label, name = m.name, ds.name
            # one call: the method is tuned and the dataset indexed once for all the queries
            answers = [link(ds, m, qs, top_k=top, reverse=reverse, seed=seed)]
        if queries is not None:
            from patlink.linking import write_links

            n = write_links(answers, out, fmt=out_format, id_column="item_id" if reverse else "patent_id",
                            method=label)
            summary = {"queries": len(qs), "rows": n, "out": str(out), "method": label}
            if json_out:
                print_json(summary)
            else:
                err_console.print(f"{len(qs)} queries → {n} ranked links ({label}) in {out}", highlight=False)
            return
        hits = next(iter(answers))["query"]
        if json_out:
            print_json({"query": text, "method": label, "results": _rows(hits)})
            return
        _print_hits(hits, title=f"{name}: {'items' if reverse else 'patents'} for the query ({label})",
                    reverse=reverse)
