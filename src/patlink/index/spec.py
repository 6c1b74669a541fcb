"""Methods to and from the JSON description a saved index records (so an index rebuilds its method without the CLI).

Only methods that rank from text can be saved: :class:`~patlink.methods.BM25`, :class:`~patlink.methods.Dense`,
a trained :class:`~patlink.methods.LinkerMethod`, a fine-tuned :class:`~patlink.methods.BiEncoderMethod`, and
:class:`~patlink.methods.Fusion` (``hybrid`` included) of these, with the weights it was tuned to (or its untuned
defaults) frozen. Profile and kNN methods rank from known links, not from an index of texts.
"""

from __future__ import annotations

from pathlib import Path

from patlink.index.manifest import model_fingerprint
from patlink.methods import BM25, BiEncoderMethod, Dense, Fusion, LinkerMethod, Method

__all__ = ["leaves", "method_from_spec", "method_to_spec", "model_folder"]


def model_folder(method: Method) -> Path | None:
    """The local folder holding the weights a vector method reads (``None`` for BM25, or a hub name)."""
    if isinstance(method, Dense):
        from patlink.config import resolve_model_path

        p = Path(resolve_model_path(method.model))
        return p if p.is_dir() else None
    if isinstance(method, LinkerMethod):
        from patlink.models.linker import resolve_model_dir

        return resolve_model_dir(method.path)
    if isinstance(method, BiEncoderMethod):
        return method.path / method.marker.get("model_dir", "best")
    return None


def method_to_spec(method: Method) -> dict:
    """A JSON-able description of ``method`` that :func:`method_from_spec` turns back into an equal method.

    A fusion records the weights it ranks with in its direction (tuned on validation, fixed, or its untuned
    default), so the saved index ranks exactly as the method did when it was built.

    Raises:
        ValueError: a method that cannot be saved in an index (profile and kNN methods), or a convex fusion that
            refuses to rank untuned.
    """
    if isinstance(method, BM25):
        c = method.config
        return {"kind": "bm25", "k1": c.k1, "b": c.b, "stem": c.stem}
    if isinstance(method, Dense):
        c = method.config
        return {"kind": "dense", "model": c.model, "max_length": c.max_length, "windows": c.max_chunks,
                "batch_size": c.batch_size, "model_fingerprint": model_fingerprint(model_folder(method))}
    if isinstance(method, LinkerMethod):
        return {"kind": "linker", "path": str(Path(method.path).resolve()), "batch_size": method.batch_size,
                "model_fingerprint": model_fingerprint(model_folder(method))}
    if isinstance(method, BiEncoderMethod):
        # windows: as asked (runs/NAME@N), None = the run's; read_windows: what the stored vectors read
        return {"kind": "biencoder", "path": str(Path(method.path).resolve()), "windows": method._windows,
                "read_windows": method.windows, "max_length": method.max_length, "batch_size": method.batch_size,
                "model_fingerprint": model_fingerprint(model_folder(method))}
    if isinstance(method, Fusion):
        u = method.untuned   # what it does without weights: "rrf" for runs/NAME+bm25 whose run stored none
        return {"kind": "fusion", "name": method.name, "how": method.how, "weights": method.weights,
                "untuned": u if u is None or isinstance(u, str) else [float(x) for x in u],
                "depth": method.depth, "rrf_k": method.rrf_k, "tuned_on_validation": method.tuned_on_validation,
                "parts": [method_to_spec(p) for p in method.parts]}
    raise ValueError(f"{method.name} cannot be saved in an index: profile and kNN methods rank from known links "
                     "(use `patlink link --dataset NAME`); index with bm25, dense, hybrid, a trained linker or "
                     "bi-encoder, or a fusion of these")


def method_from_spec(spec: dict, *, device: str = "cpu") -> Method:
    """The method :func:`method_to_spec` described (a fusion gets its recorded weights, fixed).

    Args:
        spec: the description. device: where its models run (``cpu``, ``cuda``, ``mps``, ``auto``;
            :func:`patlink.devices.resolve_device`) — not part of the description: an index is device-independent.

    Raises:
        ValueError: an unknown kind.
    """
    kind = spec.get("kind")
    if kind == "bm25":
        return BM25(k1=spec["k1"], b=spec["b"], stem=spec["stem"])
    if kind == "dense":
        m = Dense(spec["model"], max_length=spec["max_length"], windows=spec["windows"],
                  batch_size=spec.get("batch_size", 64), device=device)
        m.memo = None   # a saved index may serve queries for days: no in-memory memo that grows with each one
        return m
    if kind == "linker":
        return LinkerMethod(spec["path"], batch_size=spec.get("batch_size", 256), device=device)
    if kind == "biencoder":
        m = BiEncoderMethod(spec["path"], windows=spec.get("windows"), batch_size=spec.get("batch_size", 64),
                            device=device)
        m.memo = None   # as dense: no in-memory memo growing with each query of a long-lived index
        return m
    if kind == "fusion":
        parts = [method_from_spec(p, device=device) for p in spec["parts"]]
        m = Fusion(parts, how=spec["how"], weights=spec["weights"], depth=spec["depth"], name=spec["name"],
                   rrf_k=spec["rrf_k"], untuned=spec.get("untuned"))
        m.tuned_on_validation = bool(spec.get("tuned_on_validation"))
        return m
    raise ValueError(f"unknown method kind {kind!r} in an index manifest")


def leaves(method: Method) -> list[Method]:
    """The stored parts of a method, depth first (a fusion's parts; the method itself otherwise)."""
    if isinstance(method, Fusion):
        return [x for p in method.parts for x in leaves(p)]
    return [method]
