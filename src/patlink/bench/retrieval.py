"""Retrieval tasks: build queries/corpus/qrels for a task and view, run BM25, dense and BM25–dense fusion.

Evaluation protocol (*Benchmarking Patent Embeddings* (multi-task evaluation of 22 models), retrieval and hybrid
sections):
  * queries are the *test* links of ``patlink.graph.split_dataset(ds, seed=0)`` (pap2pat: a seeded random
    70/15/15 split of the pairs) or a BEIR folder's ``test`` qrels; the corpus is every document of the other
    side (train/val documents stay in as distractors), plus, with ``distractors="api-patents"``, the 46,920
    api-patents (title+abstract) on the patent side;
  * dense: cosine similarity of L2-normalised sentence embeddings, exact;
  * hybrid: ``rrf`` (reciprocal rank fusion, k=60) and ``convex`` (min-max-normalised ``α·bm25 + (1-α)·dense``)
    with α tuned on the *validation* queries by MRR, never on test, as :class:`patlink.methods.Hybrid` does
    everywhere in patlink; without validation links the untuned weights of ``Hybrid`` and the result says so;
  * metrics: ``patlink.evaluation.evaluate_run`` (nDCG@10 main, MAP, MRR, Recall@k, with 95% bootstrap CIs
    over queries); the top-100 run is kept so that paired tests between models can be run later.
"""

from __future__ import annotations

from dataclasses import dataclass

from patlink.methods import BM25, Fusion, Method
from patlink.methods.base import _matrix_search
from patlink.methods.fusion import HYBRID_UNTUNED_WEIGHTS


__all__ = ["RetrievalConfig", "RetrievalData", "build_retrieval_data", "run_retrieval_task", "TaskSkipped"]


class TaskSkipped(Exception):
    """The task cannot run on this input (e.g. honeywell-vpm without patent texts); the message says why."""


@dataclass
class RetrievalConfig:
    """``top_k`` documents kept per query; ``depth`` of each run before fusion; ``max_length`` tokens per text;
    ``n_bootstrap`` resamples for CIs; ``distractors``: ``None`` or ``api-patents``."""

    top_k: int = 100
    depth: int = 200
    max_length: int = 256
    n_bootstrap: int = 1000
    distractors: str | None = None


@dataclass
class RetrievalData:
    """Everything one (task, view) evaluation needs: query texts, corpus texts, qrels of test and validation."""

    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, int]]
    val_queries: dict[str, str]
    val_qrels: dict[str, dict[str, int]]
    split_note: str
    n_empty_docs: int
    n_distractors: int = 0


def _view_fields(view: str, ds) -> tuple[str, ...]:
    from patlink.bench.tasks import VIEWS

    if view == "default":
        return tuple(ds.patent_view)
    return VIEWS[view] if view in VIEWS else tuple(view.split("+"))


def build_retrieval_data(task, view: str, distractors: str | None = None, texts=None) -> RetrievalData:
    """Queries, corpus and qrels of a retrieval task for one patent-side view.

    Args:
        texts: patent texts given to the task's dataset (a :class:`patlink.data.dataset.PatentTextSource` such
            as an opened hydration store, or a mapping; :meth:`patlink.data.Dataset.with_patent_texts`);
            ``None``: its bundled texts only.

    Raises:
        TaskSkipped: when the dataset's patents have no text in this view (honeywell-vpm without a hydration
            store passed as ``texts``), or the task has no links.
    """
    from patlink.data import load_dataset

    if task.dataset.startswith("beir:"):
        from patlink.data.beir import load_beir

        ds = load_beir(task.dataset[5:])
        ds = ds if texts is None else ds.with_patent_texts(texts)
    else:
        ds = load_dataset(task.dataset, texts=texts)
    fields = _view_fields(view, ds)
    patent_texts = ds.patent_texts(view=fields)
    if not any(patent_texts.values()):
        raise TaskSkipped(f"{task.name}: no patent has text in view {view!r} "
                          f"({ds.name} patents are known by number only; run `patlink hydrate`, then "
                          "pass the store with --texts)")
    item_texts = ds.item_texts()
    if not ds.links:
        raise TaskSkipped(f"{task.name}: the dataset has no links")
    if ds.link_splits.get("test"):
        test, val = ds.link_splits["test"], ds.link_splits.get("val", [])
        note = "the dataset's own test qrels" + (" (val qrels tune α)" if val else " (no val qrels: α = 0.5)")
    else:
        try:
            from patlink.graph import split_dataset

            sp = split_dataset(ds, seed=0)
            test, val = sp.test, sp.val
            note = f"test links of split_dataset(seed=0) ({sp.protocol}: {len(test)} test, {len(val)} val links)"
        except ImportError:
            test, val = ds.links, []
            note = "ALL links (patlink.graph unavailable): not a held-out evaluation; α = 0.5"
    direction = task.direction
    if direction == "item2patent":
        q_side, d_side = item_texts, patent_texts
    else:
        q_side, d_side = patent_texts, item_texts
    qrels = ds.qrels(test, direction)
    val_qrels = ds.qrels(val, direction) if val else {}
    queries = {q: q_side[q] for q in qrels}
    val_queries = {q: q_side[q] for q in val_qrels}
    # Queries without text cannot be answered by any model: drop them from evaluation and count them.
    queries = {q: t for q, t in queries.items() if t}
    qrels = {q: r for q, r in qrels.items() if q in queries}
    val_queries = {q: t for q, t in val_queries.items() if t}
    val_qrels = {q: r for q, r in val_qrels.items() if q in val_queries}
    corpus = dict(d_side)
    n_dis = 0
    if distractors:
        if direction != "item2patent":
            raise TaskSkipped(f"{task.name}: distractor patents only apply to item→patent tasks")
        dis = load_dataset(distractors).patent_texts(view=[f for f in fields if f in ("title", "abstract")]
                                                     or ["title", "abstract"])
        for pid, t in dis.items():
            if pid not in corpus and t:
                corpus[pid] = t
                n_dis += 1
    n_empty = sum(1 for t in corpus.values() if not t)
    corpus = {d: t for d, t in corpus.items() if t}
    return RetrievalData(queries, corpus, qrels, val_queries, val_qrels, note, n_empty, n_dis)


class _EmbeddingMethod(Method):
    """A benchmarked embedding model (:mod:`patlink.bench.models`: prefixes, GloVe, TF-IDF, …) as a method:
    cosine of its embeddings, exact."""

    def __init__(self, model, max_length: int):
        self.model, self.max_length = model, max_length
        self._ids: list[str] = []
        self._emb = None

    @property
    def name(self) -> str:
        return self.model.name

    def index(self, corpus: dict[str, str]) -> None:
        self._ids = list(corpus)
        self._emb = self.model.embed([corpus[d] for d in self._ids], max_length=self.max_length, show_progress=True)

    def score_matrix(self, queries: dict[str, str]):
        qids = list(queries)
        q = self.model.embed([queries[x] for x in qids], max_length=self.max_length)
        return qids, self._ids, q @ self._emb.T

    def search(self, queries: dict[str, str], top_k: int = 100):
        return _matrix_search(self, queries, top_k)


def _runs(method: Method, data: RetrievalData, cfg: RetrievalConfig) -> list[dict]:
    """The method's runs of the test and validation queries over the corpus."""
    method.index(data.corpus)
    return [method.search(qs, cfg.depth) if qs else {} for qs in (data.queries, data.val_queries)]


def _cut(run: dict, k: int) -> dict:
    return {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:k]) for q, d in run.items()}


def _evaluate(data: RetrievalData, run: dict, cfg: RetrievalConfig) -> dict:
    from patlink.evaluation import evaluate_run

    run = _cut(run, cfg.top_k)
    res = evaluate_run(data.qrels, run, n_bootstrap=cfg.n_bootstrap)
    res["main_score"] = res["ndcg@10"]
    res["run"] = {q: {d: round(s, 6) for d, s in docs.items()} for q, docs in run.items()}
    return res


def run_retrieval_task(task, model, view: str, config: RetrievalConfig | None = None, texts=None) -> dict:
    """Evaluate one model (and, for a dense model, its two BM25 fusions) on a retrieval task and view.

    ``texts``: patent texts for the task's dataset, as in :func:`build_retrieval_data`.

    Returns:
        ``{"variants": {name: metrics}, "split": str, "n_queries", "n_docs", "n_empty_docs",
        "n_distractors", "qrels"}``; variant names are ``MODEL`` and, for dense models, ``MODEL+bm25:rrf`` and
        ``MODEL+bm25:convex`` (with ``alpha`` and ``alpha_source``). Each metrics dict carries ``main_score``
        (nDCG@10), ``ci95`` and the top-``top_k`` ``run``.

    Raises:
        TaskSkipped: see :func:`build_retrieval_data`.
    """

    cfg = config or RetrievalConfig()
    data = build_retrieval_data(task, view, cfg.distractors, texts)
    out = {"split": data.split_note, "n_queries": len(data.queries), "n_docs": len(data.corpus),
           "n_empty_docs": data.n_empty_docs, "n_distractors": data.n_distractors, "qrels": data.qrels,
           "variants": {}}
    bm25 = BM25()
    if model.kind == "bm25":
        test_run, _ = _runs(bm25, data, cfg)
        out["variants"][model.name] = _evaluate(data, test_run, cfg)
        return out
    dense = _EmbeddingMethod(model, cfg.max_length)
    dense_test, dense_val = _runs(dense, data, cfg)
    out["variants"][model.name] = _evaluate(data, dense_test, cfg)
    bm_test, bm_val = _runs(bm25, data, cfg)
    rrf = Fusion([bm25, dense], how="rrf")
    out["variants"][f"{model.name}+bm25:rrf"] = _evaluate(data, rrf.fuse_runs([bm_test, dense_test], cfg.depth), cfg)
    # the fusion of patlink.methods.Hybrid: α tuned on validation MRR, else the untuned weights
    hybrid = Fusion([bm25, dense], untuned=HYBRID_UNTUNED_WEIGHTS)
    if data.val_qrels:
        hybrid, src = hybrid.fit_runs([bm_val, dense_val], data.val_qrels, "mrr"), "tuned on val"
    else:
        src = "default (no validation links)"
    res = _evaluate(data, hybrid.fuse_runs([bm_test, dense_test], cfg.depth), cfg)
    res.update(alpha=hybrid.alpha, alpha_source=src)
    out["variants"][f"{model.name}+bm25:convex"] = res
    return out
