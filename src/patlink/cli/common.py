"""Options and helpers shared by every command: dataset/BEIR input, patent texts, text views, JSON output, the
compute device, errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

__all__ = [
    "console", "err_console", "DatasetOpt", "BeirOpt", "DeviceOpt", "ItemViewOpt", "PatentViewOpt", "JsonOpt",
    "TextsOpt", "MissingTextOpt", "check_device", "check_out_folder", "load_input", "print_json", "PatlinkError",
]

console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long


class PatlinkError(Exception):
    """A user-facing error: printed as one line by the CLI (exit code 2), never with a traceback."""


DatasetOpt = Annotated[Optional[str], typer.Option(
    "--dataset", "-d", help="Bundled dataset: honeywell-vpm, pap2pat, api-patents, cpc-claims.")]
BeirOpt = Annotated[Optional[Path], typer.Option(
    "--beir", help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) instead of --dataset.")]
ItemViewOpt = Annotated[Optional[str], typer.Option(
    "--item-view", help="Item text fields, e.g. 'title,abstract' (papers) or 'name,description' (products).")]
PatentViewOpt = Annotated[Optional[str], typer.Option(
    "--patent-view", help="Patent text fields: title, abstract, claims, description, summary (written by `patlink "
                          "summarise`), e.g. 'title,abstract,claims'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]
TextsOpt = Annotated[Optional[Path], typer.Option(
    "--texts", metavar="STORE",
    help="Patent texts from a hydration store (the DuckDB file `patlink hydrate` wrote, by default "
         "$PATLINK_CACHE/hydrate.duckdb). Without it, datasets have their bundled texts only (honeywell-vpm "
         "patents: none). Summaries written by `patlink summarise` into the store are the 'summary' field "
         "(--patent-view summary).")]
MissingTextOpt = Annotated[str, typer.Option(
    "--missing-text", help="When only SOME patents have text in the patent view (a partly hydrated or summarised "
                           "store): error (refuse to mix them), drop (leave out the patents without text and their "
                           "links, reported) or keep (rank them as empty documents).")]


def check_device(value: str | None) -> str:
    """``--device`` checked when the command line is parsed: the string normalised (``auto``, ``cpu``, ``cuda``,
    ``cuda:N``, ``mps``); ``auto`` is resolved later, by the library, when a network first runs, so a command that
    runs none (BM25 only) never probes for a GPU.

    Raises:
        PatlinkError: one line (exit 2): an unknown string (the valid ones listed), or a GPU that PyTorch does not
            see (``--device cuda`` on a machine without CUDA).
    """
    from patlink.devices import check_device_spec, resolve_device

    try:
        spec = check_device_spec(value)
        if spec not in ("auto", "cpu"):
            resolve_device(spec)
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    return spec


DeviceOpt = Annotated[str, typer.Option(
    "--device", callback=check_device, metavar="auto|cpu|cuda|mps",
    help="Where the neural networks run (sentence embeddings, the trained linker, training): auto (a CUDA GPU "
         "when PyTorch sees one, else Apple's MPS, else the CPU), cpu, cuda (or cuda:N) or mps. Results on a GPU "
         "agree with the CPU's to float rounding (training: mixed precision on CUDA). BM25 ignores it.")]


def check_out_folder(path: Path | None, option: str = "--out") -> None:
    """Refuse, before any work is done, an output folder that cannot become one: an existing file, a path under a
    file, or a folder that cannot be written (or created) for lack of permission. ``None``: nothing to check.

    Raises:
        PatlinkError: one line naming ``option`` and the path.
    """
    if path is None:
        return
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise PatlinkError(f"{option} {path} is a file; give a folder (a new one, or a folder of an earlier run)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise PatlinkError(f"{option} {path}: no permission to write in this folder")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise PatlinkError(f"{option} {path}: {parent} is a file, so the folder cannot be created")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise PatlinkError(f"{option} {path}: no permission to create it in {parent}")


def load_input(dataset: str | None, beir: Path | None, item_view: str | None = None,
               patent_view: str | None = None, *, texts: Path | None = None, missing_text: str = "error"):
    """Load ``--dataset`` or ``--beir`` (exactly one), add the patent texts of ``--texts``, apply the text views.

    Args:
        dataset / beir: a bundled dataset name or a BEIR folder (exactly one).
        item_view / patent_view: text views (``None``: the dataset's defaults).
        texts: a hydration store (DuckDB file) whose texts fill the dataset's patents
            (:meth:`patlink.data.Dataset.with_patent_texts`); ``None``: none. The store is opened read-only
            and closed before returning.
        missing_text: ``drop`` removes the patents without text in the patent view and their links
            (:meth:`patlink.data.Dataset.without_textless_patents`, reported on stderr); ``error`` and ``keep``
            leave the dataset as it is (the evaluation applies them).

    Returns:
        the :class:`patlink.data.Dataset`; ``metadata["hydrated_patents"]`` says how many patents got texts from
        the store, :meth:`~patlink.data.Dataset.patents_with_text` how many have text in the view.

    Raises:
        PatlinkError: both or neither of ``dataset``/``beir``; a store that is missing, locked or corrupt (the
            message names the file).
    """
    from patlink.data import load_dataset
    from patlink.data.beir import load_beir

    if (dataset is None) == (beir is None):
        raise PatlinkError("give exactly one of --dataset NAME or --beir FOLDER")
    ds = load_dataset(dataset) if dataset is not None else load_beir(beir)
    if texts is not None:
        from patlink.hydrate.store import open_texts

        try:
            with open_texts(texts) as store:
                ds = ds.with_patent_texts(store)
        except ValueError as e:
            raise PatlinkError(f"--texts: {e}") from None
    if missing_text not in ("error", "drop", "keep"):
        raise PatlinkError(f"unknown --missing-text {missing_text!r}; use error, drop or keep")
    try:
        ds = ds.with_views(item_view, patent_view)
        if missing_text == "drop":
            ds = ds.without_textless_patents()
    except ValueError as e:
        raise PatlinkError(str(e)) from None
    if missing_text == "drop" and ds.metadata.get("textless_patents_dropped"):
        err_console.print(f"--missing-text drop: left out {ds.metadata['textless_patents_dropped']} patents without "
                          f"text in view {','.join(ds.patent_view)} and their {ds.metadata['textless_links_dropped']} "
                          f"links; {len(ds.patents)} patents and {len(ds.links)} links remain", highlight=False)
    return ds


def _default(o: Any):
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (numpy scalars and paths converted)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")
