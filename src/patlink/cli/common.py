"""Options and helpers shared by every command: dataset/BEIR input, text views, JSON output, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

__all__ = [
    "console", "err_console", "DatasetOpt", "BeirOpt", "ItemViewOpt", "PatentViewOpt", "JsonOpt",
    "load_input", "print_json", "PatlinkError",
]

console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True)


class PatlinkError(Exception):
    """A user-facing error: printed as one line by the CLI (exit code 2), never with a traceback."""


DatasetOpt = Annotated[Optional[str], typer.Option(
    "--dataset", "-d", help="Bundled dataset: honeywell-vpm, pap2pat, api-patents, cpc-claims.")]
BeirOpt = Annotated[Optional[Path], typer.Option(
    "--beir", help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) instead of --dataset.")]
ItemViewOpt = Annotated[Optional[str], typer.Option(
    "--item-view", help="Item text fields, e.g. 'title,abstract' (papers) or 'name,description' (products).")]
PatentViewOpt = Annotated[Optional[str], typer.Option(
    "--patent-view", help="Patent text fields: title, abstract, claims, description, e.g. 'title,abstract,claims'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]


def load_input(dataset: str | None, beir: Path | None, item_view: str | None = None,
               patent_view: str | None = None):
    """Load ``--dataset`` or ``--beir`` (exactly one) and apply the text views. Raises :class:`PatlinkError`."""
    from patlink.data import load_dataset
    from patlink.data.beir import load_beir

    if (dataset is None) == (beir is None):
        raise PatlinkError("give exactly one of --dataset NAME or --beir FOLDER")
    ds = load_dataset(dataset) if dataset is not None else load_beir(beir)
    return ds.with_views(item_view, patent_view)


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
