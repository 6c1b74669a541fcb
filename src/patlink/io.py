"""Atomic file writes used everywhere patlink writes results, splits, caches and reports.

A write goes to a temporary file in the destination folder and is moved into place with ``os.replace``, so a
crash or Ctrl-C never leaves a half-written file behind (readers see the old file or the new one).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

__all__ = ["atomic_write_text", "atomic_write_lines", "atomic_write_json", "atomic_savefig", "json_default"]


def atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write an iterable of already-terminated lines to ``path`` atomically; creates parent folders.

    Raises whatever the iterable or the file system raises; the temporary file is removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for line in lines:
                f.write(line)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    """Write ``obj`` as JSON (numpy-aware) to ``path`` atomically, with a trailing newline."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default, ensure_ascii=False) + "\n")


def atomic_savefig(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)
    return path
