"""A split folder: ``train.tsv``, ``val.tsv``, ``test.tsv``, ``dropped.tsv`` and ``split.json``.

Each TSV has the header ``item_id<TAB>patent_id`` and one link a line; ``split.json`` is
:meth:`Split.to_json <patlink.graph.split.Split.to_json>`. Every file is written atomically (:mod:`patlink.io`).
"""

from __future__ import annotations

import json
from pathlib import Path

from patlink.graph.split import SPLIT_NAMES, Link, Split
from patlink.io import atomic_write_json, atomic_write_text

__all__ = ["read_split", "write_split"]

_HEADER = "item_id\tpatent_id"


def write_split(split: Split, out_dir: str | Path) -> dict[str, Path]:
    """Write ``train.tsv``, ``val.tsv``, ``test.tsv``, ``dropped.tsv`` and ``split.json`` into ``out_dir``
    (created), each atomically.

    Returns:
        ``{"train": path, "val": …, "test": …, "dropped": …, "split.json": …}``.

    Raises:
        ValueError: an id contains a tab or newline (it could not be read back); nothing is written then.
    """
    for name in (*SPLIT_NAMES, "dropped"):
        for i, p in split.links(name):
            if any(ch in s for s in (i, p) for ch in "\t\r\n"):
                raise ValueError(f"id with a tab or newline cannot be written to TSV: {(i, p)!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in (*SPLIT_NAMES, "dropped"):
        path = out / f"{name}.tsv"
        atomic_write_text(path, "".join([_HEADER + "\n", *(f"{i}\t{p}\n" for i, p in split.links(name))]))
        paths[name] = path
    paths["split.json"] = atomic_write_json(out / "split.json", split.to_json())
    return paths


def _read_utf8(path: Path) -> str:
    """The text of ``path`` (UTF-8; a leading byte-order mark is skipped); bytes that are not UTF-8 are a
    ``ValueError`` naming the file and the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        line = data.count(b"\n", 0, e.start + bom) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start + bom]:02x}); save the file as "
                         "UTF-8") from None


def _read_tsv(path: Path) -> list[Link]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split file not found (expected train.tsv, val.tsv, test.tsv)")
    lines = _read_utf8(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].rstrip("\r") != _HEADER:
        got = lines[0] if lines else "an empty file"
        raise ValueError(f"{path}:1: expected header 'item_id<TAB>patent_id', got {got!r}")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.rstrip("\r").split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise ValueError(f"{path}:{n}: expected 2 non-empty tab-separated fields (item_id, patent_id), "
                             f"got {line!r}")
        out.append((parts[0], parts[1]))
    return out


def read_split(split_dir: str | Path) -> Split:
    """Read a folder written by :func:`write_split` (or by hand: only the three TSVs are required).

    ``dropped.tsv`` and ``split.json`` are optional; without ``split.json`` the split's protocol is
    ``"unknown"`` and its seed and config ``None``. ``Split.parts()`` gives the ``{"train", "val", "test"}``
    mapping.

    Raises:
        FileNotFoundError: a TSV is missing (path named).
        ValueError: bad header, malformed line or bytes that are not UTF-8, as ``file:line: message``;
            ``split.json`` not UTF-8, not a JSON object, with a ``protocol`` that is not a string, a ``seed`` that
            is not an integer, or a bad ``config``. A UTF-8 byte-order mark is skipped.
    """
    d = Path(split_dir)
    parts = {name: _read_tsv(d / f"{name}.tsv") for name in SPLIT_NAMES}
    if (d / "dropped.tsv").is_file():
        parts["dropped"] = _read_tsv(d / "dropped.tsv")
    meta_path = d / "split.json"
    if not meta_path.is_file():
        return Split(parts["train"], parts["val"], parts["test"], parts.get("dropped", []), "unknown", None, None)
    text = _read_utf8(meta_path)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path}:{e.lineno}: not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:   # an integer of > 4300 digits, arrays nested too deep
        why = str(e).splitlines()[0].split(': ')[0][:120]
        raise ValueError(f"{meta_path}: unreadable JSON ({why})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")  # noqa: TRY004
    for key in ("protocol", "method"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise ValueError(f"{meta_path}: {key!r} must be a string, got {json.dumps(meta[key])[:60]}")
    seed = meta.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"{meta_path}: 'seed' must be an integer or null, got {json.dumps(seed)[:60]}")
    try:
        return Split.from_json(meta, parts)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{meta_path}: {e}") from None
