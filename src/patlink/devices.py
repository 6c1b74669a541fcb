"""Which torch device patlink computes on, and mixed precision where it pays.

Every part of patlink that runs a network (the frozen sentence-transformers backbone that embeds texts, the
trained linker's encoders, the trainer) takes a ``device`` string and resolves it here, once, with
:func:`resolve_device`:

=============  ==========================================================================================
``auto``       ``cuda`` when PyTorch sees a CUDA GPU, else ``mps`` (Apple GPU) when available, else ``cpu``
``cpu``        the CPU (always available; the library's default, so results never depend on the machine)
``cuda``       the current CUDA GPU; ``cuda:N`` GPU number ``N``
``mps``        Apple's Metal GPU
=============  ==========================================================================================

The command line's ``--device`` takes the same strings (default ``auto``). :func:`autocast` is the one place that
decides on mixed precision: ``torch.autocast`` with bfloat16 on CUDA GPUs that support it, float16 on the others
(with :func:`grad_scaler` to keep small float16 gradients from vanishing), and nothing at all on the CPU and MPS,
where the computation stays float32 and bitwise what it is without it.

This module is a foundation: it imports torch and nothing of patlink.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

__all__ = ["DEVICE_CHOICES", "amp_dtype", "autocast", "check_device_spec", "grad_scaler", "resolve_device"]

#: The device strings :func:`resolve_device` accepts (``cuda:N`` for any GPU number ``N``).
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "cuda:N", "mps")

_CUDA = re.compile(r"cuda(?::(\d+))?")


def check_device_spec(spec: str | None) -> str:
    """The device string ``spec`` normalised (stripped, lower case; ``None`` → ``auto``), checked for its FORM only
    (no GPU is probed, nothing is imported beyond torch).

    Raises:
        ValueError: an unknown string; the message lists :data:`DEVICE_CHOICES`.
    """
    s = "auto" if spec is None else str(spec).strip().lower()
    if s in ("auto", "cpu", "mps") or _CUDA.fullmatch(s):
        return s
    raise ValueError(f"--device {spec}: unknown device; use one of {', '.join(DEVICE_CHOICES)}")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | None = "auto") -> str:
    """The torch device to compute on for ``spec`` (see the module docstring).

    Args:
        spec: ``auto`` (or ``None``), ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (case and surrounding blanks are
            ignored).

    Returns:
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` — a device that exists on this machine (``auto`` picks
        ``cuda``, then ``mps``, then ``cpu``).

    Raises:
        ValueError: one line: an unknown string (listing the valid ones); ``cuda``/``cuda:N`` when PyTorch sees
            no CUDA GPU (``torch.cuda.is_available()`` is False) or fewer than ``N + 1`` of them; ``mps`` when
            MPS is not available.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    s = check_device_spec(spec)
    if s == "cpu":
        return s
    if s == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    if s == "mps":
        if not _mps_available():
            raise ValueError(f"--device {spec}: PyTorch sees no MPS device (torch.backends.mps.is_available() is "
                             "False); use --device cpu or auto")
        return s
    if not torch.cuda.is_available():
        raise ValueError(f"--device {spec}: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False); use "
                         "--device cpu or auto")
    index = _CUDA.fullmatch(s).group(1)
    if index is not None and int(index) >= torch.cuda.device_count():
        raise ValueError(f"--device {spec}: PyTorch sees {torch.cuda.device_count()} CUDA GPU(s) (cuda:0 … "
                         f"cuda:{torch.cuda.device_count() - 1}); use one of them, cpu or auto")
    return s


def amp_dtype(device: str) -> torch.dtype | None:
    """The mixed-precision dtype :func:`autocast` uses on ``device`` (a resolved device string):
    ``torch.bfloat16`` on a CUDA GPU that supports it, ``torch.float16`` on an older one, ``None`` (no mixed
    precision, float32) on the CPU and MPS."""
    if not str(device).startswith("cuda"):
        return None
    with torch.cuda.device(torch.device(device)):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: str, enabled: bool = True, dtype: torch.dtype | None = None) -> Iterator[torch.dtype | None]:
    """Mixed precision for the forward passes inside the ``with`` block on CUDA; a no-op on the CPU and MPS.

    Args:
        device: a resolved device string (:func:`resolve_device`).
        enabled: ``False`` turns it into a no-op everywhere (float32).
        dtype: the reduced precision on CUDA (default :func:`amp_dtype`: bfloat16 when supported, else float16).

    Yields:
        The dtype in effect (``None`` when the block runs in float32). Outputs of autocast regions may be float16
        or bfloat16: cast them (``.float()``) before they leave the block.

    Example:
        >>> with autocast("cpu") as dt:   # nothing changes on the CPU
        ...     dt is None
        True
    """
    dt = (dtype or amp_dtype(device)) if enabled and str(device).startswith("cuda") else None
    if dt is None:
        yield None
        return
    with torch.autocast(device_type="cuda", dtype=dt):
        yield dt


def grad_scaler(device: str, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A ``torch.amp.GradScaler`` for training under :func:`autocast` with ``dtype`` on ``device``: enabled only for
    float16 on CUDA (its gradients underflow without scaling); disabled — ``scale``/``unscale_``/``step``/``update``
    pass through unchanged — for bfloat16, float32 and every other device."""
    on = str(device).startswith("cuda") and dtype == torch.float16
    return torch.amp.GradScaler("cuda" if on else "cpu", enabled=on)
