"""Entry point of the ``patlink`` command. Run ``patlink --help`` for the map of commands."""

from __future__ import annotations

import sys

import click
import typer

from patlink.cli import (
    bench_cmd, classify_cmd, compare_cmd, data_cmd, demo_cmd, eval_cmd, export_cmd, hydrate_cmd, index_cmd, link_cmd,
    pipeline_cmd, review_cmd, serve_cmd, split_cmd, train_cmd,
)
from patlink.cli.common import PatlinkError, err_console

app = typer.Typer(
    name="patlink",
    help=(
        "Link products and papers to the patents that protect them; embed, search, classify and benchmark "
        "patent text.\n\nStart with `patlink demo`, then `patlink data stats pap2pat`, `patlink eval --dataset "
        "pap2pat --method hybrid`, `patlink link --dataset pap2pat --method bm25 \"your text\"`; your own files: `patlink index patents.parquet "
        "--method hybrid --out idx/`, then `patlink link --index idx/ --queries products.csv --out links.csv`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_cmd.app, name="data")
split_cmd.register(app)
eval_cmd.register(app)
link_cmd.register(app)
index_cmd.register(app)
compare_cmd.register(app)
train_cmd.register(app)
export_cmd.register(app)
hydrate_cmd.register(app)
app.add_typer(pipeline_cmd.app, name="pipeline")
bench_cmd.register(app)
app.add_typer(classify_cmd.app, name="classify")
demo_cmd.register(app)
serve_cmd.register(app)
app.add_typer(review_cmd.app, name="review")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one red line on stderr and exit with code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        err_console.print("[red]aborted[/red]")
        return 130
    except (PatlinkError, ValueError, FileNotFoundError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        err_console.print(f"[red]error:[/red] {msg}", highlight=False)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
