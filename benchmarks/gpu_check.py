"""CPU vs GPU: embedding throughput and one linker training epoch, on a machine with a CUDA GPU.

Usage (from the repository root, on a machine where ``torch.cuda.is_available()``)::

    PYTHONPATH=src HF_HUB_OFFLINE=1 python benchmarks/gpu_check.py [--n 2000] [--out gpu-check.json]

Measures, with a fresh cache folder of its own (nothing is read from or written to ``$PATLINK_CACHE``):

1. embedding: ``--n`` api-patents texts (title+abstract, the bundled distractor corpus) with the bundled MiniLM
   at 256 tokens through :func:`patlink.retrieval.embed.encode_texts` with the disk cache off, on ``cpu`` (float32),
   ``cuda`` (float32) and ``cuda`` with mixed precision (:func:`patlink.devices.autocast`): seconds, texts/s and
   the agreement with the CPU vectors (largest absolute difference, smallest cosine). The model is loaded and run
   once on each device before timing.
2. training: one epoch of the default linker (:class:`patlink.training.config.TrainConfig`, seed 0) on pap2pat
   title+abstract, on ``cpu`` and on ``cuda`` (mixed precision): the epoch's training seconds (``train_time_s``,
   validation excluded) and the validation MRR after it. The token embeddings are computed once, on the GPU, into
   the shared store before both runs (their time is reported apart).

Prints one JSON object (and writes it to ``--out`` when given). Exits 2 with one line when no CUDA GPU is seen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def _embedding(texts: list[str], cache_dir: Path) -> dict:
    import numpy as np

    from patlink.models.backbone import load_sentence_model
    from patlink.retrieval.embed import encode_texts

    out: dict = {"n_texts": len(texts), "model": "minilm", "max_length": 256, "batch_size": 64}
    ref = None
    for label, device, mixed in (("cpu_fp32", "cpu", False), ("cuda_fp32", "cuda", False),
                                 ("cuda_mixed", "cuda", True)):
        load_sentence_model("minilm", device)
        encode_texts(texts[:64], "minilm", cache=False, show_progress=False, device=device,
                     mixed_precision=mixed, cache_dir=cache_dir)   # warm-up: kernels, allocator
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        t = time.perf_counter()
        vecs = encode_texts(texts, "minilm", cache=False, show_progress=False, device=device,
                            mixed_precision=mixed, cache_dir=cache_dir)
        s = time.perf_counter() - t
        row = {"seconds": round(s, 3), "texts_per_s": round(len(texts) / s, 1)}
        if ref is None:
            ref = vecs
        else:
            row["max_abs_diff_vs_cpu"] = float(np.abs(vecs - ref).max())
            row["min_cosine_vs_cpu"] = float((vecs * ref).sum(axis=1).min())
        out[label] = row
    out["speedup_cuda_fp32"] = round(out["cpu_fp32"]["seconds"] / out["cuda_fp32"]["seconds"], 2)
    out["speedup_cuda_mixed"] = round(out["cpu_fp32"]["seconds"] / out["cuda_mixed"]["seconds"], 2)
    return out


def _training(run_root: Path, cache_dir: Path) -> dict:
    from patlink.data import load_dataset
    from patlink.devices import amp_dtype
    from patlink.evaluation.experiment import resolve_splits
    from patlink.models.token_cache import TokenEmbeddingStore
    from patlink.training.config import TrainConfig
    from patlink.training.trainer import train_linker

    ds = load_dataset("pap2pat")
    splits = resolve_splits(ds, seed=0, need_val=True)
    store = TokenEmbeddingStore("minilm", 256, cache_dir=cache_dir, show_progress=False, device="cuda")
    texts = [t for t in list(ds.item_texts().values()) + list(ds.patent_texts().values()) if t.strip()]
    t = time.perf_counter()
    store.encode(texts)
    out: dict = {"dataset": "pap2pat", "views": "title+abstract", "epochs": 1, "n_train_links": len(splits["train"]),
                 "token_embeddings": {"texts": len(texts), "seconds_on_cuda": round(time.perf_counter() - t, 2)}}
    base = TrainConfig(epochs=1, seed=0, progress=False).replace(
        validation={"eval_at_start": False, "evals_per_epoch": 1, "tune_fusion": False})
    for device in ("cpu", "cuda"):
        cfg = base.replace(device=device)
        t = time.perf_counter()
        res = train_linker(ds, splits, cfg, run_root / device, store=store)
        ep = res.history[0]
        out[device] = {"train_time_s": round(ep["train_time_s"], 2), "wall_s": round(time.perf_counter() - t, 2),
                       "train_loss": round(ep["train_loss"], 5), "val_mrr_item2patent":
                       round(ep["val"]["mrr_item2patent"], 4), "val_mrr_patent2item":
                       round(ep["val"]["mrr_patent2item"], 4)}
    out["cuda"]["mixed_precision"] = str(amp_dtype("cuda"))
    out["speedup_epoch"] = round(out["cpu"]["train_time_s"] / out["cuda"]["train_time_s"], 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="api-patents texts embedded per device (default 2000)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--skip-training", action="store_true", help="only the embedding part")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False); run it on a GPU machine",
              file=sys.stderr)
        return 2
    from patlink.data import load_dataset

    api = load_dataset("api-patents")
    texts = [t for t in api.patent_texts().values() if t.strip()][: args.n]
    result: dict = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                                "gpu": torch.cuda.get_device_name(0), "cpu_threads": torch.get_num_threads(),
                                "bf16": torch.cuda.is_bf16_supported()}}
    with tempfile.TemporaryDirectory(prefix="patlink-gpu-check-") as tmp:
        cache_dir = Path(tmp) / "cache"
        os.environ["PATLINK_CACHE"] = str(cache_dir)   # the token store of the trainer's validation, the runs
        result["embedding"] = _embedding(texts, cache_dir)
        if not args.skip_training:
            result["training"] = _training(Path(tmp) / "runs", cache_dir)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
