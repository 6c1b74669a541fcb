"""The manifest of a saved index folder: what was indexed, with what, and the checksum of every file.

``manifest.json`` is written last, atomically, after every other file of the index is in place: a folder without
it is a build in progress (or an interrupted one, which ``patlink index`` resumes) and is never searched. Opening
an index checks every file the manifest lists against its recorded size and checksum, so a truncated, missing or
altered file is refused with one line naming it instead of producing wrong rankings.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from patlink.io import atomic_write_text

__all__ = ["FORMAT", "IndexManifest", "InvalidIndexError", "file_checksum", "model_fingerprint"]

#: Version of the index folder layout (``manifest.json["format"]``).
FORMAT = "patlink-index/1"
#: Files larger than this get a sampled checksum on a quick check (full SHA-256 with ``verify="full"``).
QUICK_FULL_BYTES = 64 << 20
_BLOCK = 1 << 20


class InvalidIndexError(ValueError):
    """An index folder that must not be used: incomplete, corrupt, of another format, or built for another model or
    text view than the one asked. The message is one line naming the folder (and file) and what to do."""


def _sample_sha256(path: Path, size: int) -> str:
    """SHA-256 of the size and 16 blocks of 1 MiB spread evenly over the file (the whole file when small)."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= 16 * _BLOCK:
            h.update(f.read())
        else:
            for i in range(16):
                f.seek((size - _BLOCK) * i // 15)
                h.update(f.read(_BLOCK))
    return h.hexdigest()


def file_checksum(path: str | os.PathLike) -> dict:
    """``{"bytes", "sha256", "sample_sha256"}`` of a file (full SHA-256 and the sampled one used by quick checks)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 * _BLOCK), b""):
            h.update(block)
    return {"bytes": size, "sha256": h.hexdigest(), "sample_sha256": _sample_sha256(path, size)}


def model_fingerprint(folder: str | os.PathLike | None) -> str | None:
    """A checksum of a model folder's files (names, sizes, sampled contents): changes when the model is retrained or
    replaced. ``None`` when ``folder`` is not a local folder (a hub name)."""
    if folder is None or not Path(folder).is_dir():
        return None
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            size = p.stat().st_size
            h.update(f"{p.relative_to(folder).as_posix()}\0{size}\0".encode())
            h.update(_sample_sha256(p, size).encode())
    return h.hexdigest()


@dataclass
class IndexManifest:
    """Contents of ``manifest.json``.

    Attributes:
        direction: ``item2patent`` (the documents are patents, queries are items) or ``patent2item``.
        method: the method's structured description (:func:`patlink.index.spec.method_to_spec`), tuned weights
            included.
        label: the method's label (``hybrid[convex(α=0.50)]``).
        corpus: where the documents came from: ``source``, ``id_field``, ``text_fields``, ``n_docs``, ``n_empty``.
        parts: per stored part, ``{"name", "kind", "folder", ...}`` (model, max length, windows, dim, ANN config).
        files: path relative to the folder → :func:`file_checksum`.
        generation: incremented by each :meth:`patlink.index.CorpusIndex.add`.
        command: the command line that built it; created: ISO time; patlink: the version.
    """

    direction: str
    method: dict
    label: str
    corpus: dict
    parts: list[dict]
    files: dict[str, dict] = field(default_factory=dict)
    generation: int = 0
    command: list[str] = field(default_factory=list)
    created: str = ""
    patlink: str = ""
    format: str = FORMAT

    @property
    def n_docs(self) -> int:
        return int(self.corpus.get("n_docs", 0))

    def write(self, folder: str | os.PathLike) -> Path:
        """Checksum the files listed in :attr:`files` (keys only are read) and write ``manifest.json`` atomically."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            self.patlink = version("patlink")
        except PackageNotFoundError:  # running from a source tree that is not installed
            self.patlink = "unknown"
        folder = Path(folder)
        self.files = {rel: file_checksum(folder / rel) for rel in sorted(self.files)}
        self.created = self.created or time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return atomic_write_text(folder / "manifest.json", json.dumps(asdict(self), indent=1, ensure_ascii=False))

    @classmethod
    def read(cls, folder: str | os.PathLike, *, verify: str = "quick") -> IndexManifest:
        """Read and check ``folder/manifest.json``.

        Args:
            verify: ``quick`` (sizes; full SHA-256 of files up to 64 MiB, sampled SHA-256 of larger ones),
                ``full`` (SHA-256 of every file) or ``none``.

        Raises:
            InvalidIndexError: no such folder, no manifest (an interrupted build: rerun it to resume), a manifest of
                another format, or a listed file that is missing, truncated or altered.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise InvalidIndexError(f"{folder}: no such index folder (build one with `patlink index`)")
        path = folder / "manifest.json"
        if not path.is_file():
            hint = ("an interrupted build: run the same `patlink index` command again to resume it"
                    if (folder / "build").is_dir() else "not a patlink index folder")
            raise InvalidIndexError(f"{folder}: no manifest.json ({hint})")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidIndexError(f"{path}: unreadable manifest ({e}); rebuild the index") from None
        if raw.get("format") != FORMAT:
            raise InvalidIndexError(f"{path}: index format {raw.get('format')!r}, this patlink reads {FORMAT!r}; "
                                    "rebuild the index")
        try:
            m = cls(**raw)
        except TypeError as e:
            raise InvalidIndexError(f"{path}: malformed manifest ({e}); rebuild the index") from None
        if verify not in ("quick", "full", "none"):
            raise ValueError(f"verify must be quick, full or none, got {verify!r}")
        if verify != "none":
            m.check_files(folder, full=verify == "full")
        return m

    def check_files(self, folder: Path, *, full: bool = False) -> None:
        """Raise :class:`InvalidIndexError` on the first listed file that is missing or differs from its checksum."""
        for rel, rec in self.files.items():
            p = folder / rel
            if not p.is_file():
                raise InvalidIndexError(f"{folder}: {rel} is missing (a partial or damaged index); rebuild it")
            size = p.stat().st_size
            if size != rec["bytes"]:
                raise InvalidIndexError(f"{folder}: {rel} has {size} bytes, the manifest says {rec['bytes']} "
                                        "(truncated or replaced); rebuild the index")
            if full or size <= QUICK_FULL_BYTES:
                ok = file_checksum(p)["sha256"] == rec["sha256"]
            else:
                ok = _sample_sha256(p, size) == rec["sample_sha256"]
            if not ok:
                raise InvalidIndexError(f"{folder}: {rel} does not match its checksum (corrupt); rebuild the index")
