"""Run the benchmark: tasks × views × models, one cached JSON per (task, view, model).

Cache layout under ``OUT/results/``: ``{task}/{view}/{model-slug}.json`` holding the task metadata, the model
(name, kind, fingerprint), the configuration and the results (for retrieval: every variant's metrics and its
top-100 run). A file is reused when its task, model fingerprint, view and configuration match, so adding a model
re-runs only that model; ``force=True`` recomputes. Files are written atomically (temp file + ``os.replace``);
an interrupted benchmark resumes at the first missing file. Skipped tasks (e.g. honeywell-vpm without patent
texts) are recorded with their reason and are not cached.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from patlink.bench.classification import ClassificationConfig
from patlink.bench.clustering import ClusteringConfig
from patlink.bench.models import ModelSpec
from patlink.bench.retrieval import RetrievalConfig, TaskSkipped
from patlink.bench.tasks import TaskMetadata, effective_view
from patlink.io import atomic_write_json

__all__ = ["BenchConfig", "run_benchmark", "result_path", "load_results", "atomic_write_json"]


@dataclass
class BenchConfig:
    """Configuration of a benchmark run (every field is part of the cache key except ``out`` and ``force``).

    ``texts``: a hydration store (DuckDB file of ``patlink hydrate``) whose patent texts the retrieval tasks'
    datasets get (needed by honeywell-vpm); part of the cache key of retrieval results.
    """

    out: Path = Path("bench-results")
    views: list[str] = field(default_factory=lambda: ["ta", "tac"])
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)
    force: bool = False
    texts: Path | None = None

    def key(self, task: TaskMetadata) -> dict:
        part = {"retrieval": self.retrieval, "classification": self.classification,
                "clustering": self.clustering}[task.type]
        return asdict(part)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", s).strip("_")[-100:] or "model"


def result_path(out: Path, task: str, view: str, model: str) -> Path:
    """``out/results/{task}/{view}/{model-slug}.json``."""
    return Path(out) / "results" / _slug(task) / _slug(view) / f"{_slug(model)}.json"


def _task_views(task: TaskMetadata, views: list[str]) -> list[str]:
    """The distinct effective views of ``task`` for the requested views (see :func:`effective_view`)."""
    if task.dataset.startswith("beir:"):
        return ["default"]
    from patlink.data import load_dataset

    ds = load_dataset(task.dataset)
    out = []
    for v in views:
        ev = effective_view(v, tuple(ds.patent_fields))
        if ev and ev not in out:
            out.append(ev)
    return out


def _run_one(task: TaskMetadata, model: ModelSpec, view: str, cfg: BenchConfig) -> dict:
    if task.type == "retrieval":
        from patlink.bench.retrieval import run_retrieval_task

        if cfg.texts is None:
            return run_retrieval_task(task, model, view, cfg.retrieval)
        from patlink.hydrate.store import open_texts

        with open_texts(cfg.texts) as store:
            return run_retrieval_task(task, model, view, cfg.retrieval, texts=store)
    if task.type == "classification":
        from patlink.bench.classification import run_classification_task

        return run_classification_task(task, model, view, cfg.classification)
    from patlink.bench.clustering import run_clustering_task

    return run_clustering_task(task, model, view, cfg.clustering)


def run_benchmark(tasks: list[TaskMetadata], models: list[ModelSpec], cfg: BenchConfig,
                  log=print) -> dict:
    """Run (or load from cache) every (task, view, model) and return a summary.

    Returns:
        ``{"entries": [cache-file dicts], "skipped": [{"task", "view", "model", "reason"}], "computed": n,
        "cached": n, "seconds": float}``.
    """
    t0 = time.time()
    entries, skipped, computed, cached = [], [], 0, 0
    for task in tasks:
        views = _task_views(task, cfg.views)
        if not views:
            skipped.append({"task": task.name, "view": ",".join(cfg.views), "model": "*",
                            "reason": f"no requested view applies to {task.dataset}"})
            continue
        for view in views:
            for model in models:
                path = result_path(cfg.out, task.name, view, model.name)
                spec = {k: v for k, v in asdict(model).items() if k != "device"}   # any device, same result
                key = {"task": task.to_dict(), "view": view, "model": spec, "config": cfg.key(task)}
                if task.type == "retrieval":  # None matches the files written before texts existed
                    key["texts"] = None if cfg.texts is None else str(cfg.texts)
                if path.exists() and not cfg.force:
                    try:
                        old = json.loads(path.read_text(encoding="utf-8"))
                        if all(old.get(k) == json.loads(json.dumps(v, default=str)) for k, v in key.items()):
                            entries.append(old)
                            cached += 1
                            continue
                    except (json.JSONDecodeError, OSError):
                        pass  # unreadable cache file: recompute
                log(f"[bench] {task.name} · {view} · {model.name}")
                t = time.time()
                try:
                    res = _run_one(task, model, view, cfg)
                except TaskSkipped as e:
                    skipped.append({"task": task.name, "view": view, "model": model.name, "reason": str(e)})
                    log(f"[bench]   skipped: {e}")
                    break  # same reason for every model of this view
                entry = dict(key, results=res, seconds=round(time.time() - t, 2))
                atomic_write_json(path, entry)
                entries.append(json.loads(json.dumps(entry, default=str)))
                computed += 1
    return {"entries": entries, "skipped": skipped, "computed": computed, "cached": cached,
            "seconds": round(time.time() - t0, 1)}


def load_results(out: Path) -> list[dict]:
    """Every cached result file under ``out/results`` (for re-reporting without running)."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((Path(out) / "results").rglob("*.json"))]
