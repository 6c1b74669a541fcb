"""``patlink index`` (build or grow a saved index) and ``patlink inspect`` (what an index holds; verify it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from patlink.cli.common import DeviceOpt, JsonOpt, PatlinkError, console, err_console, print_json
from patlink.cli.methods import METHOD_HELP, parse_method

IdFieldOpt = Annotated[Optional[str], typer.Option(
    "--id-field", help="Id column of a file (default: the first of id, _id, publication_number, number, patent_id, "
                       "doc_id, item_id, product_id).")]
TextFieldsOpt = Annotated[Optional[str], typer.Option(
    "--text-fields", help="Columns whose texts are joined, e.g. 'title,abstract' (default: the present ones of "
                          "title, abstract, claims, text, description, name; a dataset's default view).")]
TitleFieldOpt = Annotated[Optional[str], typer.Option(
    "--title-field", help="Column shown as the title in links files (default: title, else name).")]
FormatOpt = Annotated[Optional[str], typer.Option(
    "--format", help="Input format when the suffix does not say: jsonl, json, csv, tsv, parquet, beir, dataset, "
                     "store.")]


def read_input(source: str, *, side: str, id_field, text_fields, title_field, fmt, texts=None):
    """:func:`patlink.data.corpus.read_corpus` with its one-line errors turned into CLI errors, empties reported."""
    from patlink.data.corpus import CorpusError, read_corpus

    try:
        corpus = read_corpus(source, id_field=id_field, text_fields=text_fields, title_field=title_field,
                             format=fmt, side=side, texts=texts)
    except CorpusError as e:
        raise PatlinkError(str(e)) from None
    if corpus.empty:
        i, line = corpus.empty[0]
        err_console.print(f"[yellow]{len(corpus.empty)} of {len(corpus) + len(corpus.empty)} rows of {source} have "
                          f"no text in {','.join(corpus.text_fields)} and are left out (first: {i!r}, "
                          f"{getattr(corpus, 'unit', 'line')} {line})"
                          "[/yellow]", highlight=False)
    return corpus


def _tuned(method, corpus, direction: str, seed: int):
    """Tune ``method`` on the validation links of a bundled dataset the corpus comes from (as `patlink eval`)."""
    if not method.tunable or not corpus.source.startswith("dataset:"):
        return method
    from patlink.data.registry import load_dataset
    from patlink.linking import tuned_for

    name = corpus.source.split(":")[1]
    return tuned_for(load_dataset(name), method, direction, seed=seed)


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index_cmd(
        corpus: Annotated[str, typer.Argument(
            help="Documents: a JSONL/CSV/TSV/Parquet file, a BEIR folder (no qrels needed), a bundled dataset name "
                 "(pap2pat, api-patents …) or a hydration store (.duckdb).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="The index folder to write.")],
        method: Annotated[Optional[str], typer.Option(
            "--method", "-m", help="Default bm25 (with --add: the index's own). " + METHOD_HELP)] = None,
        id_field: IdFieldOpt = None,
        text_fields: TextFieldsOpt = None,
        title_field: TitleFieldOpt = None,
        fmt: FormatOpt = None,
        reverse: Annotated[bool, typer.Option(
            help="The documents are items (products, papers) ranked for patent queries (`patlink link --reverse`).")
        ] = False,
        ann: Annotated[str, typer.Option(
            help="Vector search of dense/linker/bi-encoder parts: auto (exact below a measured size, approximate "
                 "above), exact, hnsw, ivf-flat, ivf-pq.")] = "auto",
        engine: Annotated[str, typer.Option(
            help="Where to embed: local (this process) or ray (Ray Data actors; a local Ray unless --ray-address)."
        )] = "local",
        workers: Annotated[int, typer.Option(help="Ray actors (one model each) with --engine ray.")] = 1,
        ray_address: Annotated[Optional[str], typer.Option(
            help="An existing Ray cluster (ray://HOST:10001 or auto); default: start Ray on this machine.")] = None,
        add: Annotated[bool, typer.Option(
            "--add", help="Add the corpus's new documents to the existing index OUT (only they are embedded).")
        ] = False,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing index in OUT.")] = False,
        cache: Annotated[bool, typer.Option(
            help="Use patlink's embedding cache for dense vectors (reused across commands); --no-cache for corpora "
                 "of millions, whose vectors the index itself keeps.")] = True,
        texts: Annotated[Optional[Path], typer.Option(
            "--texts", metavar="STORE", help="Patent texts from a hydration store (fills what the rows lack).")
        ] = None,
        seed: Annotated[int, typer.Option(
            help="For a bundled dataset: seed of the split whose validation links tune a fusion's weights.")] = 0,
        device: DeviceOpt = "auto",
        json_out: JsonOpt = False,
    ) -> None:
        """Build a saved index of a corpus for a method (or grow one with --add); resumes an interrupted build.

        The index holds what the method needs to rank without reading or embedding the corpus again (BM25 index,
        memory-mapped vectors, an ANN index for large corpora, a trained linker's or bi-encoder's document-side
        embeddings: patents, or with --reverse items through a bi-encoder's query route) and a manifest with
        checksums. Then: `patlink link --index OUT --queries products.csv --out links.csv`.

        Examples:
          patlink index patents.parquet --id-field number --text-fields title,abstract --method hybrid --out idx/
          patlink index api-patents --method dense --out idx-api/
          patlink index patents.jsonl --method runs/be+bm25 --out idx-be/
          patlink index new_patents.jsonl --out idx/ --add
        """
        import time

        from patlink.index import InvalidIndexError, build_index

        side = "items" if reverse else "patents"
        direction = "patent2item" if reverse else "item2patent"
        m = None if add else _parse(method or "bm25", device)
        if m is not None:
            text_fields = _fields_for(m, text_fields, reverse)
        docs = read_input(corpus, side=side, id_field=id_field, text_fields=text_fields, title_field=title_field,
                          fmt=fmt, texts=texts)
        t0 = time.perf_counter()
        command = ["patlink", *sys.argv[1:]] if sys.argv and sys.argv[0].endswith("patlink") else list(sys.argv)
        try:
            if add:
                idx = open_index(out, method=_parse(method, device) if method else None, device=device,
                                 prefix="--add: ")
                if idx.direction != direction:
                    raise PatlinkError(f"--add: {out} indexes {idx.document_side}s: "
                                       + ("drop --reverse" if reverse else "add --reverse"))
                idx, n_added = idx.add(docs, engine=engine, workers=workers, ray_address=ray_address,
                                       command=command)
            else:
                m = _tuned(m, docs, direction, seed)
                idx = build_index(docs, m, out, direction=direction, ann=ann, engine=engine, workers=workers,
                                  ray_address=ray_address, cache=cache, overwrite=overwrite, command=command)
                n_added = len(idx)
        except InvalidIndexError as e:
            raise PatlinkError(str(e)) from None
        summary = _summary(idx) | {"added": n_added, "seconds": round(time.perf_counter() - t0, 1)}
        if json_out:
            print_json(summary)
            return
        console.print(f"{out}: {summary['documents']} documents ({n_added} {'added' if add else 'indexed'}) for "
                      f"{summary['method']}, {summary['bytes'] / 2**20:.1f} MiB, in {summary['seconds']} s")

    @app.command("inspect")
    def inspect_cmd(
        index: Annotated[Path, typer.Argument(help="An index folder written by `patlink index`.")],
        verify: Annotated[str, typer.Option(
            help="quick (sizes, checksums of small files, sampled ones of large), full (every byte) or none.")
        ] = "full",
        json_out: JsonOpt = False,
    ) -> None:
        """Show what an index holds (method, parts, ANN settings, sizes, how it was built) and verify its files."""
        idx = open_index(index, verify=verify)
        s = _summary(idx)
        if json_out:
            print_json(s | {"manifest": idx.manifest.__dict__})
            return
        t = Table("part", "kind", "details", title=f"{index}: {s['documents']} {idx.document_side}s, {s['method']}")
        for p in idx.manifest.parts:
            det = ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("name", "kind", "folder"))
            t.add_row(p["name"], p["kind"], det)
        console.print(t)
        console.print(f"corpus: {idx.manifest.corpus}; {s['bytes'] / 2**20:.1f} MiB in {len(idx.manifest.files)} "
                      f"files, verified ({verify}); built {idx.manifest.created} by: {' '.join(idx.manifest.command)}",
                      highlight=False)


def _fields_for(method, text_fields: str | None, reverse: bool) -> str | None:
    """The document text fields: those given, else those a trained linker of ``method`` was trained on (a
    ``UserWarning`` when the given ones differ from them, :func:`patlink.methods.resolve_views`)."""
    from patlink.methods import resolve_views

    asked = (text_fields, None) if reverse else (None, text_fields)
    view = resolve_views([method], *asked)[0 if reverse else 1]
    return text_fields if text_fields is not None else (",".join(view) if view else None)


def open_index(path, *, method=None, device: str = "cpu", verify: str = "quick", prefix: str = ""):
    """:meth:`patlink.index.CorpusIndex.open` for a command: a missing, partial, corrupt or mismatched index (or one
    not built for ``method``, a parsed :class:`~patlink.methods.Method`) is a one-line CLI error, prefixed with
    ``prefix`` (e.g. ``"--add: "``)."""
    from patlink.index import CorpusIndex, InvalidIndexError

    try:
        return CorpusIndex.open(path, method=method, device=device, verify=verify)
    except InvalidIndexError as e:
        raise PatlinkError(f"{prefix}{e}") from None


def _parse(method: str, device: str):
    """One ``--method`` string on ``--device``."""
    if "," in method:
        raise PatlinkError(f"an index holds one method, got --method {method!r}: fuse methods with + (e.g. "
                           "runs/NAME+bm25), or build one index per method")
    return parse_method(method, device=device)


def _summary(idx) -> dict:
    return {"index": str(idx.path), "documents": len(idx), "direction": idx.direction,
            "method": idx.manifest.label, "generation": idx.manifest.generation,
            "bytes": sum(f["bytes"] for f in idx.manifest.files.values()),
            "parts": [{k: v for k, v in p.items() if k != "folder"} for p in idx.manifest.parts]}
