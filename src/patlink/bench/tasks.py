"""Benchmark tasks declared with metadata (after mteb's ``TaskMetadata``) and their registry.

A task says *what* is measured (type, dataset, split, label, main score) and is run by the evaluator of its type:
:mod:`patlink.bench.retrieval`, :mod:`patlink.bench.classification`, :mod:`patlink.bench.clustering`. The task
families follow the retrieval / classification / clustering benchmark of *Benchmarking Patent Embeddings*
(§ "Multi-task evaluation"), scaled to the data bundled with patlink.

Text views (``title``, ``abstract``, ``claims``, ``description``, ``ta`` = title+abstract, ``tac`` =
title+abstract+claims) apply to the patent side; a view is cut down to the fields the task's dataset has
(cpc-claims has only claims, api-patents title+abstract), and views that end up identical run once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["TaskMetadata", "TASKS", "VIEWS", "get_tasks", "parse_views", "effective_view", "beir_task"]

TaskType = Literal["retrieval", "classification", "clustering"]

#: Named text views of the patent side → fields, in order.
VIEWS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "abstract": ("abstract",),
    "claims": ("claims",),
    "description": ("description",),
    "ta": ("title", "abstract"),
    "tac": ("title", "abstract", "claims"),
}
VIEW_ALIASES = {"title+abstract": "ta", "title+abstract+claims": "tac", "t+a": "ta", "t+a+c": "tac"}


@dataclass(frozen=True)
class TaskMetadata:
    """Declaration of one benchmark task (cf. ``mteb.TaskMetadata``).

    Attributes:
        name: unique task name used on the command line and in tables.
        type: ``retrieval``, ``classification`` or ``clustering``.
        dataset: bundled dataset name (``pap2pat`` …) or ``beir:<folder>``.
        description: one line for ``patlink bench --list``.
        main_score: the headline metric (``ndcg@10``, ``macro_f1``, ``v_measure``).
        eval_split: what is scored: ``test`` (of ``patlink.graph.split_dataset(ds, seed=0)`` or a
            dataset's own split), ``groups1400`` …
        direction: retrieval only: ``item2patent`` (items query a patent corpus) or ``patent2item``.
        label: classification/clustering only: the ``Dataset.labels`` key (``cpc_subclass``, ``cpc_section``,
            ``assignee``).
        params: type-specific settings (e.g. ``top_labels``, ``per_label``, ``min_per_label``).
        reference: where the task design comes from.
    """

    name: str
    type: TaskType
    dataset: str
    description: str
    main_score: str
    eval_split: str = "test"
    direction: str = "item2patent"
    label: str | None = None
    params: dict = field(default_factory=dict, hash=False, compare=False)
    reference: str = ("Benchmarking Patent Embeddings: A Multi-Task Evaluation of 22 Models Across Retrieval, "
                      "Classification, and Clustering")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


TASKS: dict[str, TaskMetadata] = {t.name: t for t in [
    TaskMetadata("pap2pat-paper2patent", "retrieval", "pap2pat",
                 "papers (title+abstract) query the 1,513 Pap2Pat patents; the test links of the seed-0 split",
                 "ndcg@10", direction="item2patent"),
    TaskMetadata("pap2pat-patent2paper", "retrieval", "pap2pat",
                 "patents (the view) query the 1,513 Pap2Pat papers (title+abstract); seed-0 test links",
                 "ndcg@10", direction="patent2item"),
    TaskMetadata("honeywell-vpm-product2patent", "retrieval", "honeywell-vpm",
                 "Honeywell products (name+description) query their VPM patents; needs hydrated patent texts",
                 "ndcg@10", direction="item2patent"),
    TaskMetadata("cpc-claims-subclass-clf", "classification", "cpc-claims",
                 "multi-label CPC subclass of claims; train 1,000 / test 100 (PatentSBERTa split); k-NN and "
                 "logistic regression on embeddings", "macro_f1", label="cpc_subclass"),
    TaskMetadata("cpc-claims-section-clf", "classification", "cpc-claims",
                 "multi-label CPC section (A–H, Y) of claims; same split", "macro_f1", label="cpc_section"),
    TaskMetadata("cpc-claims-section-clustering", "clustering", "cpc-claims",
                 "k-means (k = #sections) on the 1,411 groups1400 patents with one section", "v_measure",
                 eval_split="groups1400", label="cpc_section", params={"single_label": True}),
    TaskMetadata("cpc-claims-subclass-clustering", "clustering", "cpc-claims",
                 "k-means on groups1400 patents of the subclasses with ≥ 20 of them", "v_measure",
                 eval_split="groups1400", label="cpc_subclass", params={"single_label": True, "min_per_label": 20}),
    TaskMetadata("api-patents-assignee-clustering", "clustering", "api-patents",
                 "k-means on 100 patents (title+abstract) of each of the 10 largest assignees", "v_measure",
                 eval_split="all", label="assignee", params={"top_labels": 10, "per_label": 100}),
]}


def beir_task(folder: str | Path) -> TaskMetadata:
    """A retrieval task over a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``)."""
    p = Path(folder)
    return TaskMetadata(f"beir-{p.name}", "retrieval", f"beir:{p}", f"BEIR folder {p}", "ndcg@10",
                        direction="item2patent")


def get_tasks(spec: str) -> list[TaskMetadata]:
    """Tasks named by ``"all"``, a comma list of names, task types (``retrieval`` …) or ``beir:FOLDER`` entries.

    Raises:
        ValueError: for an unknown name; the message lists the registered tasks.
    """
    out: dict[str, TaskMetadata] = {}
    for part in [s.strip() for s in spec.split(",") if s.strip()] or ["all"]:
        if part == "all":
            out.update(TASKS)
        elif part in ("retrieval", "classification", "clustering"):
            out.update({n: t for n, t in TASKS.items() if t.type == part})
        elif part.startswith("beir:"):
            t = beir_task(part[5:])
            out[t.name] = t
        elif part in TASKS:
            out[part] = TASKS[part]
        else:
            raise ValueError(f"unknown task {part!r}; tasks: {', '.join(TASKS)}, or a type (retrieval, "
                             "classification, clustering), or beir:FOLDER, or all")
    return list(out.values())


def parse_views(spec: str | None) -> list[str]:
    """``"ta,tac"`` → ``["ta", "tac"]``; ``all`` → every view. Raises ``ValueError`` on an unknown view."""
    if not spec:
        return ["ta", "tac"]
    if spec.strip() == "all":
        return list(VIEWS)
    out = []
    for v in spec.split(","):
        v = VIEW_ALIASES.get(v.strip().lower(), v.strip().lower())
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; views: {', '.join(VIEWS)} (ta = title+abstract, "
                             "tac = title+abstract+claims), or all")
        out.append(v)
    return list(dict.fromkeys(out))


def effective_view(view: str, available: tuple[str, ...]) -> str | None:
    """The named view cut to the fields a dataset has, as a name (``tac`` on title+abstract data → ``ta``).

    Returns ``None`` when no field of the view exists there.
    """
    fields = tuple(f for f in VIEWS[view] if f in available)
    if not fields:
        return None
    for name, fs in VIEWS.items():
        if fs == fields:
            return name
    return "+".join(fields)  # pragma: no cover - every subset in use has a name
