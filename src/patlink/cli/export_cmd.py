"""``patlink export``: write a trained linker in a format other tools load (sentence-transformers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patlink.cli.common import JsonOpt, PatlinkError, console, print_json


def register(app: typer.Typer) -> None:
    """Add ``patlink export`` to the top-level app."""

    @app.command("export")
    def export_cmd(
        run: Annotated[Path, typer.Argument(help="A `patlink train` run folder (its best/ model) or a model folder.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (replaced if it is an earlier export).")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="Export format: sentence-transformers.")] =
            "sentence-transformers",
        as_json: JsonOpt = False,
    ) -> None:
        """Export a trained linker, e.g. as a sentence-transformers folder whose encode_query embeds items and
        encode_document embeds patents (load it with SentenceTransformer(OUT, trust_remote_code=True)).

        Example: patlink export runs/pap2pat --format sentence-transformers --out exports/pap2pat
        """
        from patlink.models.export import EXPORT_FORMATS, export_sentence_transformers
        from patlink.models.linker import read_settings

        if fmt not in EXPORT_FORMATS:
            raise PatlinkError(f"unsupported --format {fmt!r}; supported: {', '.join(EXPORT_FORMATS)}")
        try:
            settings = read_settings(run)
            path = export_sentence_transformers(run, out)
        except ValueError as e:
            raise PatlinkError(str(e)) from None
        if as_json:
            print_json({"out": str(path), "format": fmt, "settings": settings.to_dict()})
            return
        console.print(f"exported {run} as {fmt} → {path} (query = items, document = patents; backbone "
                      f"{settings.backbone}, {settings.max_chunks} window(s) of {settings.max_length} tokens)",
                      highlight=False)
