"""Atomic file writes used everywhere patlink writes results, splits, caches, checkpoints, models and reports.

A write goes to a temporary file in the destination folder and is moved into place with ``os.replace``, so a
crash or Ctrl-C never leaves a half-written file behind (readers see the old file or the new one), and the
target is untouched when the writing code raises. A Ctrl-C (SIGINT) that arrives while a finished write is being
moved into place is held until the move is done and then raised (``KeyboardInterrupt``), so the new file is
complete; one that arrives while the body is still writing interrupts it at once and leaves the old file.
:func:`atomic_writer` is the one primitive (a file object for any writer: ``torch.save``, ``np.save``,
``np.savez``, bytes from ``safetensors``); :func:`atomic_path` lends a temporary *path* to writers that insist on
a file name; :func:`atomic_directory` does the same for a folder (e.g. a saved model). The rest are conveniences
on top.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_savefig",
    "atomic_write_json",
    "atomic_write_lines",
    "atomic_write_text",
    "atomic_writer",
    "json_default",
    "spreadsheet_safe",
]


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT held for the block (the moves that publish a finished write), then delivered to the handler that was
    in place (Python's raises ``KeyboardInterrupt``). Only the main thread receives signals; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    except (ValueError, OSError):   # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)
            elif previous is None:   # a handler set outside Python: Python's own stands in for it
                raise KeyboardInterrupt


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """A temporary file path next to ``path``; on normal exit it replaces ``path``, on an exception it is removed.

    For writers that take a file name (``safetensors.torch.save_file``, ``fig.savefig``). Parent folders are
    created. The temporary path does not exist yet; its name is hidden (``.<name>.<random>``) and ends with
    ``suffix`` (default: the target's suffix, so writers that infer the format from it, or append it like
    ``np.save``, keep working). The file gets mode ``0o644``.

    Raises:
        FileNotFoundError: on normal exit, if the body did not create the temporary file (it wrote elsewhere).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                suffix=path.suffix if suffix is None else suffix)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()   # a unique name; the writer creates the file
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp}: the writer did not create the temporary file for {path}")
        with _interrupts_held():
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on normal exit it replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is left as it was (absent, or the old file).
    Parent folders are created. Example: ``with atomic_writer(p) as f: torch.save(state, f)``.

    Args:
        path: the target file.
        mode: ``"wb"`` (default) or ``"w"`` (text; ``encoding`` defaults to UTF-8, newlines written unchanged).
        encoding: text encoding for ``mode="w"``.

    Raises:
        ValueError: ``mode`` is not ``"w"`` or ``"wb"``. Whatever the body or the file system raises.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer mode must be 'w' or 'wb', got {mode!r}")
    text = mode == "w"
    with atomic_path(path) as tmp:
        with open(tmp, mode, **({"encoding": encoding or "utf-8", "newline": ""} if text else {})) as f:
            yield f


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder next to ``path``; on normal exit it replaces the folder ``path``.

    An existing ``path`` is first moved aside and deleted after the swap, so readers see the old folder or the
    new one, never a half-written one (between the two renames ``path`` is briefly absent). If the body
    raises, the temporary folder is deleted and ``path`` is untouched.

    Raises:
        NotADirectoryError: ``path`` exists and is not a folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    old = None
    try:
        yield tmp
        with _interrupts_held():
            os.chmod(tmp, 0o755)
            if path.exists():
                old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
                os.replace(path, old)   # onto the empty folder just made
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            if not path.exists() and old.is_dir():   # the swap failed between its two moves: the old folder returns
                os.replace(old, path)
            else:
                shutil.rmtree(old, ignore_errors=True)


def atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write an iterable of already-terminated lines to ``path`` atomically (UTF-8); creates parent folders.

    Raises whatever the iterable or the file system raises; the temporary file is removed first.
    """
    with atomic_writer(path, "w") as f:
        for line in lines:
            f.write(line)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines unchanged) to ``path`` atomically; creates parent folders."""
    return atomic_write_lines(path, [text])


def json_default(o: Any):
    """JSON fallback: numpy scalars/arrays → Python values, paths → strings, anything else → ``str(o)``."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    return str(o)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (numpy-aware, non-ASCII kept) to ``path`` atomically, with a trailing newline."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default, ensure_ascii=False) + "\n")


def atomic_savefig(fig, path: str | os.PathLike, dpi: int = 110, **savefig_kw) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix of ``path`` (``.png`` when none).

    ``savefig_kw`` go to ``fig.savefig`` (e.g. ``bbox_inches="tight"``). Raises what matplotlib raises (an
    unknown format, ...); the target is then untouched.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_writer(path) as f:
        fig.savefig(f, dpi=dpi, format=fmt, **savefig_kw)
    return path


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV/TSV cell that Excel, LibreOffice and Google Sheets show as text: a string starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (the OWASP recommendation against CSV
    injection); numbers and other strings are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
