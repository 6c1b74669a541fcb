"""Entry point of the ``patlink`` command, and its one error boundary. Run ``patlink --help`` for the map of
commands.

:func:`main` (the console script ``patlink`` and ``python -m patlink.cli.main``) runs a command and turns every way
it can end into an exit code and at most one line on stderr:

====  ========================================================================================================
0     success (and ``--help``)
1     an unexpected error (a bug): ``error: internal error: TypeError: … (run with --debug …)``; the Python
      traceback only with the global option ``--debug`` (``patlink --debug eval …``) or ``PATLINK_DEBUG=1``
2     a usage error (an unknown option or command, a missing or malformed value:
      ``error: no such option: --bogus (see patlink eval --help)``) or bad input (a missing file, a malformed
      config, an existing ``--out`` file: :class:`~patlink.cli.common.PatlinkError`, ``ValueError``,
      ``FileNotFoundError`` and the other path errors); a command group given no sub-command prints its help
130   interrupted (Ctrl-C, SIGINT): ``interrupted``; files written through :mod:`patlink.io` are the old or the new
      ones, never partial
====  ========================================================================================================

The installed typer may raise the exception classes of its own copy of click (typer >= 0.2x) or those of click
itself; both are recognised.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import traceback
from typing import Annotated

import typer
from rich.markup import escape

from patlink.cli import (
    bench_cmd,
    classify_cmd,
    compare_cmd,
    data_cmd,
    demo_cmd,
    eval_cmd,
    export_cmd,
    hydrate_cmd,
    index_cmd,
    link_cmd,
    pipeline_cmd,
    review_cmd,
    serve_cmd,
    split_cmd,
    summarise_cmd,
    train_cmd,
)
from patlink.cli.common import PatlinkError, err_console

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "app", "main"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_ENV = "PATLINK_DEBUG"

app = typer.Typer(
    name="patlink",
    help=(
        "Link products and papers to the patents that protect them; embed, search, classify and benchmark "
        "patent text.\n\nStart with `patlink demo`, then `patlink data stats pap2pat`, `patlink eval --dataset "
        "pap2pat --method hybrid`, `patlink link --dataset pap2pat --method bm25 \"your text\"`; your own files: `patlink index patents.parquet "
        "--method hybrid --out idx/`, then `patlink link --index idx/ --queries products.csv --out links.csv`."
        "\n\nExit codes: 0 success, 1 internal error, 2 usage error or bad input, 130 interrupted (Ctrl-C)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an error, print the Python traceback too (also PATLINK_DEBUG=1). Give it before the "
                        "command: patlink --debug eval …")] = False,
) -> None:
    # read by main() from the command line before parsing (an error may come before any callback runs)
    pass


app.add_typer(data_cmd.app, name="data")
split_cmd.register(app)
eval_cmd.register(app)
link_cmd.register(app)
index_cmd.register(app)
compare_cmd.register(app)
train_cmd.register(app)
export_cmd.register(app)
hydrate_cmd.register(app)
summarise_cmd.register(app)
app.add_typer(pipeline_cmd.app, name="pipeline")
bench_cmd.register(app)
app.add_typer(classify_cmd.app, name="classify")
demo_cmd.register(app)
serve_cmd.register(app)
app.add_typer(review_cmd.app, name="review")


# ---------------------------------------------------------------------------------------------- exception classes
def _classes(name: str) -> tuple[type, ...]:
    """``name`` (``UsageError``, ``Exit`` …) from click and from typer's own copy of click, whichever exist."""
    found = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


_EXIT = _classes("Exit")                      # --help, ctx.exit(code)
_ABORT = _classes("Abort")                    # a prompt interrupted
_NO_ARGS = _classes("NoArgsIsHelpError")      # a group given no sub-command
_USAGE = _classes("UsageError")               # unknown option/command, missing or malformed value
_CLICK = _classes("ClickException")           # the rest of click's user-facing errors (FileError …)
#: Bad input from the user: one line, exit 2. (``KeyError`` counts when it carries a message, see ``_user_error``.)
_USER = (PatlinkError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
         PermissionError)


# ---------------------------------------------------------------------------------------------- the boundary
def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code (see the module docstring).

    Never raises for a command's error or an interrupt: it prints one line on stderr (plus the traceback with
    ``--debug`` / ``PATLINK_DEBUG=1``) and returns 1, 2 or 130. ``SystemExit`` passes through.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    command = typer.main.get_command(app)
    rc = EXIT_OK
    try:
        with command.make_context("patlink", args) as ctx:
            command.invoke(ctx)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 — the one place every error becomes an exit code
        with _interrupts_ignored():   # a second Ctrl-C while reporting the first must not print a traceback
            rc = _report(e, debug, _command_path(command, args))
    if argv is None:
        # the process's own command line (the console script, python -m): the exit code is decided and every
        # file is written, so a Ctrl-C during the interpreter's shutdown (joining threads, atexit) changes
        # nothing — without this it printed "Exception ignored … KeyboardInterrupt" and exited 0, or died by
        # the signal (-2) after a finished command
        _ignore_interrupts()
    return rc


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


def _command_path(command, args: list[str]) -> str:
    """``patlink data embed`` for ``["data", "embed", "--side"]``: the command named by the leading words of
    ``args`` (for the ``--help`` hint of a usage error that carries no context)."""
    words = ["patlink"]
    for a in args:
        if a == "--debug" and len(words) == 1:   # the global option
            continue
        sub = (getattr(command, "commands", None) or {}).get(a)
        if sub is None:
            break
        words.append(a)
        command = sub
    return " ".join(words)


def _debug_requested(args: list[str]) -> bool:
    """``--debug`` among the global options (before the command name), or ``PATLINK_DEBUG`` set to a true value."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off"):
        return True
    for a in args:
        if a == "--debug":
            return True
        if a == "--" or not a.startswith("-"):
            return False
    return False


def _report(e: BaseException, debug: bool, command_path: str = "patlink") -> int:
    """Print what ended the command (one line; the traceback too when ``debug``) and return its exit code."""
    if _EXIT and isinstance(e, _EXIT):
        return int(getattr(e, "exit_code", 0) or 0)
    if isinstance(e, BrokenPipeError):   # `patlink … | head`: the reader went away; nothing to say to anyone
        _silence_stdout()
        return EXIT_INTERNAL
    _close_progress_bars()
    if debug and not (_USAGE and isinstance(e, _USAGE)):
        traceback.print_exception(e, file=sys.stderr)
    if _NO_ARGS and isinstance(e, _NO_ARGS):
        # typer's rich help is printed while the exception is made (its message is then empty); click's is the message
        text = e.format_message()
        if text.strip():
            sys.stdout.write(text.rstrip("\n") + "\n")
        return EXIT_USAGE
    if _USAGE and isinstance(e, _USAGE):
        ctx = getattr(e, "ctx", None)
        hint = f" (see {getattr(ctx, 'command_path', '') or command_path} --help)"
        msg = _one_line(_lower_first(e.format_message()))
        _error((msg[:-1] if hint and msg.endswith(".") else msg) + hint)
        return EXIT_USAGE
    if _CLICK and isinstance(e, _CLICK):
        _error(e.format_message())
        return int(getattr(e, "exit_code", EXIT_INTERNAL) or EXIT_INTERNAL)
    if isinstance(e, KeyboardInterrupt) or (_ABORT and isinstance(e, _ABORT) and _caused_by_interrupt(e)):
        err_console.print("[red]interrupted[/red]", highlight=False)
        return EXIT_INTERRUPTED
    if _ABORT and isinstance(e, _ABORT):
        _error("aborted")
        return EXIT_INTERNAL
    if _user_error(e):
        _error(_message(e))
        return EXIT_USAGE
    if isinstance(e, Exception):
        hint = "" if debug else f" (run with --debug or {DEBUG_ENV}=1 for the traceback)"
        _error(f"internal error: {type(e).__name__}: {_message(e)}{hint}")
        return EXIT_INTERNAL
    raise e   # GeneratorExit and the like: not an error of the command


def _user_error(e: BaseException) -> bool:
    if isinstance(e, _USER):
        return True
    # patlink raises KeyError with a sentence ("unknown split 'x'; expected …"); a bare key is a bug
    return isinstance(e, KeyError) and bool(e.args) and isinstance(e.args[0], str) and " " in e.args[0].strip()


def _message(e: BaseException) -> str:
    """The exception's own text: ``KeyError``'s without the quotes, ``OSError``'s as ``FILE: reason``."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}" + (f" -> {e.filename2}" if e.filename2 is not None else "")
    return str(e) or type(e).__name__


def _lower_first(msg: str) -> str:
    """click's ``No such option: --x`` as ``no such option: --x`` (an initial acronym is kept: ``URL …``)."""
    return msg[:1].lower() + msg[1:] if msg[:2].istitle() else msg


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _error(msg: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(_one_line(msg))}", highlight=False, emoji=False)


def _caused_by_interrupt(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _close_progress_bars() -> None:
    """Close the tqdm bars the interrupted work left open, so the message starts a line of its own (and no bar is
    redrawn after it when the interpreter exits)."""
    tqdm_std = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(tqdm_std, "tqdm", None), "_instances", None) or ()):
        try:
            bar.close()
        except Exception:  # noqa: BLE001, S110 — a bar that cannot be drawn any more is no reason to fail
            pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class _interrupts_ignored:
    """SIGINT ignored inside the block (main thread only), the previous handler restored after it."""

    def __enter__(self):
        self.installed, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            try:
                self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                self.installed = True
            except (ValueError, OSError):
                pass
        return self

    def __exit__(self, *exc) -> None:
        if self.installed:   # a handler set outside Python reads as None: Python's own goes back then
            signal.signal(signal.SIGINT, signal.default_int_handler if self.previous is None else self.previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
