"""Compare methods across one or more ``patlink eval`` reports: paired tests, and repeated cross-validation.

One k-fold cross-validation (``patlink eval --folds K``) tests every link once, but under *one* partition of the
links: its paired test measures the variation over test queries for that partition's training sets, and a gain of
a few thousandths of MRR can be significant on one partition and not on another. Repeated k-fold
cross-validation runs the same evaluation on ``R`` partitions (``--seed 0``, ``--seed 1``, …; each a report
directory) and combines them:

* **per query**, a method's metric is averaged over the ``R`` repeats (every query is tested once per repeat,
  each time by a model that never saw it), then the paired Student t-test, a paired randomization (Fisher) test
  and the Wilcoxon signed-rank test compare two methods over these per-query means (:func:`paired_tests`);
* **per fold**, the ``R · K`` differences of the fold means feed the *corrected resampled t-test* of Nadeau &
  Bengio (2003, "Inference for the generalization error", Machine Learning 52), the test Bouckaert & Frank
  (2004, "Evaluating the replicability of significance tests for comparing learning algorithms", PAKDD)
  recommend for repeated cross-validation (:func:`corrected_resampled_ttest`). It inflates the variance by
  ``n_test / n_train`` to account for the overlap of the folds' training sets, which the per-query tests ignore,
  so it is the conservative one: it asks whether the gain would hold for another training set, not only for
  other queries.

With a single report only the per-query tests apply (they then equal what ``patlink eval`` reports for the
t-test). Reports are matched by method *label*: the same name in every report (``hybrid``) or, for trained
models whose folder differs per partition, one name per report (``runs/cv+bm25``, ``runs/cv-s1+bm25``, …).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RepeatedComparison", "Report", "compare_reports", "corrected_resampled_ttest", "format_comparison",
           "load_report", "paired_tests", "read_qrels", "read_trec_run", "write_comparison"]

DIRECTIONS = ("item2patent", "patent2item")


@dataclass
class Report:
    """A ``patlink eval --out DIR`` report as read back from disk.

    Attributes:
        path: the report directory.
        meta: its ``metrics.json``.
        cv: cross-validation facts (``{"folds": K, "seed": S, "query_fold": {direction: {qid: f}},
            "fold_sizes": [{"train", "val", "test"}, …]}``) or ``None`` for a single-split report or one written
            before patlink stored them (see :func:`load_report`'s ``seed``).
    """

    path: Path
    meta: dict
    cv: dict | None = None

    @property
    def methods(self) -> list[str]:
        return list(self.meta.get("metrics", {}))

    def run_file(self, method: str, direction: str) -> Path:
        from patlink.evaluation.report import run_file_stem

        return self.path / "runs" / f"{run_file_stem(method)}.{direction}.trec"


def _read_trec_table(path: str | Path, layout: str, value_col: int, cast, what: str) -> dict[str, dict]:
    """``{qid: {docid: cast(column value_col)}}`` from a whitespace-separated TREC file whose lines read
    ``layout``; ids are percent-decoded (:func:`~patlink.evaluation.report.untrec_id`: patlink writes ids with
    whitespace percent-encoded); a malformed line raises ``ValueError`` with the file and line number."""
    from patlink.evaluation.report import untrec_id

    n_fields = len(layout.split())
    table: dict[str, dict] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != n_fields:
                raise ValueError(f"{path}:{n}: expected '{layout}', got {line.strip()!r}")
            try:
                value = cast(parts[value_col])
            except ValueError:
                raise ValueError(f"{path}:{n}: {what} {parts[value_col]!r} is not valid") from None
            try:
                table.setdefault(untrec_id(parts[0]), {})[untrec_id(parts[2])] = value
            except UnicodeDecodeError:
                raise ValueError(f"{path}:{n}: id {parts[0]!r} or {parts[2]!r} is not valid percent-encoded "
                                 "UTF-8") from None
    return table


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    """A TREC run file (``qid Q0 docid rank score tag``) as ``{qid: {docid: score}}``.

    Raises:
        ValueError: on a line without 6 fields or with a non-numeric score (file and line number given).
    """
    return _read_trec_table(path, "qid Q0 docid rank score tag", 4, float, "score")


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """A TREC qrels file (``qid 0 docid relevance``) as ``{qid: {docid: relevance}}``.

    Raises:
        ValueError: on a line without 4 fields or a non-integer relevance (file and line number given).
    """
    return _read_trec_table(path, "qid 0 docid relevance", 3, int, "relevance")


def _fold_facts(dataset: str, folds: int, seed: int, protocol: str) -> dict:
    """Recompute which fold tested each query (the same :func:`~patlink.graph.kfold_splits` call as
    ``patlink eval --folds K --seed S``), for reports written before patlink stored it."""
    from patlink.data.registry import load_dataset
    from patlink.graph import kfold_splits

    ds = load_dataset(dataset)
    parts = kfold_splits(ds, k=folds, seed=seed, protocol=protocol)  # type: ignore[arg-type]
    qf: dict[str, dict[str, int]] = {"item2patent": {}, "patent2item": {}}
    for f, sp in enumerate(parts):
        for i, p in sp.test:
            qf["item2patent"][i] = f
            qf["patent2item"].setdefault(p, f)
    sizes = [{"train": len(sp.train), "val": len(sp.val), "test": len(sp.test)} for sp in parts]
    return {"folds": folds, "seed": seed, "query_fold": qf, "fold_sizes": sizes, "recomputed": True}


def load_report(path: str | Path, seed: int | None = None, folds: int | None = None) -> Report:
    """Read a report directory written by ``patlink eval --out DIR``.

    Args:
        path: the directory (holds ``metrics.json`` and ``runs/``).
        seed / folds: the partition seed and K of a cross-validation report written before patlink stored its
            fold facts: they are then recomputed from the bundled dataset named in the report (one-to-one data or
            the new-product protocol, as ``kfold_splits``). Ignored when the report has them.

    Raises:
        FileNotFoundError: if ``metrics.json`` is missing.
        ValueError: if ``metrics.json`` is not valid JSON.
    """
    p = Path(path)
    f = p / "metrics.json"
    if not f.is_file():
        raise FileNotFoundError(f"{p} is not a patlink eval report (no metrics.json; write one with "
                                f"`patlink eval ... --out {p}`)")
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None
    cv = meta.get("cv")
    if cv is None and seed is not None:
        ctx = meta.get("context", {})
        k = folds or int(next((v.get("folds", 0) for per in meta.get("pools", {}).values()
                               for v in per.values()), 0) or 0)
        if k >= 2:
            cv = _fold_facts(ctx.get("dataset", ""), k, seed, ctx.get("protocol", "graph"))
    return Report(p, meta, cv)


def corrected_resampled_ttest(deltas: np.ndarray, n_train: float, n_test: float) -> tuple[float, float]:
    """Corrected resampled t-test of Nadeau & Bengio (2003) over repeated k-fold cross-validation.

    ``t = mean(d) / sqrt((1/J + n_test/n_train) · var(d))`` with ``J`` = the number of fold differences ``d``
    (``R · K``), ``var`` the sample variance (``ddof=1``), two-sided p from Student's t with ``J − 1`` degrees of
    freedom. The ``n_test/n_train`` term corrects for the folds' overlapping training sets (the plain t-test over
    folds, ``1/J`` alone, is anti-conservative).

    Args:
        deltas: ``(J,)`` float, metric of A minus metric of B on each fold of each repeat, ``J >= 2``.
        n_train / n_test: training and test sizes of a fold (links; their mean over folds when they differ).

    Returns:
        ``(t, p)``; ``(0.0, 1.0)`` when every difference is 0, ``(±inf, 0.0)`` when they are equal and non-zero.

    Raises:
        ValueError: if fewer than 2 differences or non-positive sizes are given.
    """
    d = np.asarray(deltas, dtype=np.float64).ravel()
    if d.size < 2:
        raise ValueError("the corrected resampled t-test needs at least 2 fold differences")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"fold sizes must be positive (n_train={n_train}, n_test={n_test})")
    from scipy.stats import t as student_t

    mean, var = float(d.mean()), float(d.var(ddof=1))
    if np.all(d == d[0]):  # no spread (var may be a rounding residue, not 0)
        return (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    t = mean / math.sqrt((1.0 / d.size + n_test / n_train) * var)
    return t, float(2.0 * student_t.sf(abs(t), d.size - 1))


def paired_tests(a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> dict:
    """Paired tests of per-query scores ``a`` vs ``b`` (each ``(n_queries,)`` float, same query order).

    Returns:
        ``{"t_test": p, "randomization": p, "randomization_floor": p, "wilcoxon": p, "better": n, "worse": n}``:
        scipy's paired Student t-test (what ranx's ``student`` test computes), a paired randomization test of the
        mean difference (``scipy.stats.permutation_test``, sign flips, ``n_resamples`` Monte Carlo draws, exact
        when fewer flips exist; ``randomization_floor`` = the smallest p it can give, ``2 / (n_resamples + 1)``)
        and the Wilcoxon signed-rank test; p-values two-sided, 1.0 when ``a == b`` everywhere.

    Raises:
        ValueError: if the shapes differ or fewer than 2 queries are given.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"per-query scores must be two 1-d arrays of one length, got {a.shape} and {b.shape}")
    if a.size < 2:
        raise ValueError("paired tests need at least 2 queries")
    out = {"better": int((a > b).sum()), "worse": int((a < b).sum())}
    if not np.any(a != b):
        return {"t_test": 1.0, "randomization": 1.0, "wilcoxon": 1.0, **out}
    from scipy.stats import permutation_test, ttest_rel, wilcoxon

    d = a - b
    perm = permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                            alternative="two-sided", random_state=seed)
    return {"t_test": float(ttest_rel(a, b).pvalue), "randomization": float(perm.pvalue),
            "randomization_floor": 2.0 / (n_resamples + 1), "wilcoxon": float(wilcoxon(a, b).pvalue), **out}


@dataclass
class RepeatedComparison:
    """The result of :func:`compare_reports` for one direction.

    Attributes:
        direction: ``item2patent`` or ``patent2item``.
        metric: the compared metric (``mrr``, ``map``, ``ndcg@10``, …).
        n_repeats: reports combined.
        queries: query ids present in every report and method (the paired unit).
        scores: label → ``(n_queries,)`` per-query metric averaged over repeats.
        per_repeat: label → mean metric in each repeat over that report's own queries (``(R,)``).
        per_fold: label → ``(R, K)`` fold means, when every report has fold facts, else absent (NaN for folds a
            report does not have; a single split is one fold).
        tests: label → tests against the reference (:func:`paired_tests` keys plus ``corrected_t``,
            ``corrected_p`` when fold facts exist, and ``delta``).
        dropped: queries seen in some report but not all (with ``match="common"``; listed, not silent).
        match: ``common`` or ``any`` (see :func:`compare_reports`).
    """

    direction: str
    metric: str
    n_repeats: int
    reference: str
    queries: list[str]
    scores: dict[str, np.ndarray]
    per_repeat: dict[str, np.ndarray]
    per_fold: dict[str, np.ndarray] = field(default_factory=dict)
    tests: dict[str, dict] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    fold_sizes: tuple[float, float] | None = None
    match: str = "common"

    def to_dict(self) -> dict:
        return {
            "direction": self.direction, "metric": self.metric, "n_repeats": self.n_repeats,
            "reference": self.reference, "match": self.match, "n_queries": len(self.queries), "n_dropped": len(self.dropped),
            "dropped": self.dropped[:100],
            "mean": {k: float(v.mean()) for k, v in self.scores.items()},
            "per_repeat": {k: v.tolist() for k, v in self.per_repeat.items()},
            "per_fold": {k: v.tolist() for k, v in self.per_fold.items()},
            "fold_sizes": {"train": self.fold_sizes[0], "test": self.fold_sizes[1]} if self.fold_sizes else None,
            "tests": self.tests,
        }


def _method_names(labels: Mapping[str, Sequence[str]], n: int) -> dict[str, list[str]]:
    out = {}
    for label, names in labels.items():
        names = list(names)
        if len(names) == 1:
            names = names * n
        if len(names) != n:
            raise ValueError(f"method {label!r} names {len(names)} report methods for {n} reports: give one name "
                             f"(the same in every report) or one per report")
        out[label] = names
    return out


def _per_query(qrels: dict, run: dict, metric: str) -> dict[str, float]:
    from patlink.evaluation.metrics import per_query_metrics

    qids, vals = per_query_metrics(qrels, run, [metric])
    return dict(zip(qids, vals[metric].tolist()))


def compare_reports(reports: Sequence[Report], methods: Mapping[str, Sequence[str]], reference: str,
                    metric: str = "mrr", directions: Sequence[str] = DIRECTIONS,
                    qrels: Mapping[str, dict] | None = None, n_resamples: int = 10_000,
                    seed: int = 0, match: str = "auto") -> list[RepeatedComparison]:
    """Compare every method with ``reference`` over one or more reports (repeats of a cross-validation).

    Args:
        reports: from :func:`load_report`; several = one per fold partition of the same evaluation.
        methods: label → the method name in each report (one name = the same in all). Must include ``reference``.
        reference: the label every other method is tested against (usually the best baseline).
        metric: a per-query metric (``mrr``, ``map``, ``ndcg@10``, ``recall@10``, …).
        directions: which directions to compare; those without run files for every method are skipped.
        qrels: direction → qrels; default: ``runs/qrels.{direction}.trec`` of each report, else the links of the
            bundled dataset named in the report narrowed to the queries the report's runs answer.
        match: ``common`` = compare the queries tested in every report (cross-validation: every query is tested
            once per partition); ``any`` = every query tested in at least one report, each averaged over the
            reports that tested it (repeated single splits, e.g. graph splits of many-to-many data with
            several ``--seed``); ``auto`` = ``common`` when every report is a K ≥ 2 cross-validation, else ``any``.

    Returns:
        One :class:`RepeatedComparison` per direction found.

    Raises:
        ValueError: if ``reference`` is not among ``methods``, a method is missing from a report, no direction
            has all run files, or no query is common to all reports.
    """
    if not reports:
        raise ValueError("no reports to compare")
    if reference not in methods:
        raise ValueError(f"reference {reference!r} is not among the methods {list(methods)}")
    names = _method_names(methods, len(reports))
    for label, per in names.items():
        for rep, name in zip(reports, per):
            if name not in rep.methods:
                raise ValueError(f"method {name!r} ({label}) is not in report {rep.path} (it has: "
                                 f"{', '.join(rep.methods)})")
    out = []
    for d in directions:
        if not all(rep.run_file(n, d).is_file() for label, per in names.items() for rep, n in zip(reports, per)):
            continue
        per_rep: list[dict[str, dict[str, float]]] = []
        for r_i, rep in enumerate(reports):
            runs = {label: read_trec_run(rep.run_file(per[r_i], d)) for label, per in names.items()}
            given = (qrels or {}).get(d)
            q, own = (given, True) if given else _report_qrels(rep, d)
            if not own:  # the dataset's links: keep the queries this report evaluated (those its runs answer)
                tested = set().union(*runs.values())
                q = {k: v for k, v in q.items() if k in tested}
            if not q:
                raise ValueError(f"{rep.path}: no query of the {d} runs has a relevance judgement")
            per_rep.append({label: _per_query(q, run, metric) for label, run in runs.items()})
        sets = [set(next(iter(r.values()))) for r in per_rep]
        mode = match if match != "auto" else (
            "common" if all(rep.cv and int(rep.cv.get("folds", 1)) >= 2 for rep in reports) else "any")
        if mode not in ("common", "any"):
            raise ValueError(f"unknown match {match!r}; use auto, common or any")
        chosen = set.intersection(*sets) if mode == "common" else set.union(*sets)
        if not chosen:
            raise ValueError(f"{d}: no query is common to all reports (query ids differ: e.g. new-product patent "
                             f"queries are renamed ID@fold per partition; single splits: use match='any')")
        qs = sorted(chosen)
        # per query: the mean over the reports that tested it (all of them with match='common')
        scores = {label: np.array([np.mean([r[label][q] for r in per_rep if q in r[label]]) for q in qs])
                  for label in names}
        per_repeat = {label: np.array([np.mean(list(r[label].values())) for r in per_rep]) for label in names}
        comp = RepeatedComparison(d, metric, len(reports), reference, qs, scores, per_repeat,
                                  dropped=sorted(set.union(*sets) - chosen), match=mode)
        if all(rep.cv and rep.cv.get("query_fold", {}).get(d) for rep in reports):
            k = max(int(rep.cv["folds"]) for rep in reports)
            folds = {label: np.full((len(reports), k), np.nan) for label in names}
            for r_i, rep in enumerate(reports):
                qf = rep.cv["query_fold"][d]
                own = list(per_rep[r_i][reference])
                fold_of = {q: qf.get(q, _fold_suffix(q)) for q in own}
                for f in range(int(rep.cv["folds"])):
                    fq = [q for q in own if fold_of[q] == f]
                    for label in names:
                        if fq:
                            folds[label][r_i, f] = np.mean([per_rep[r_i][label][q] for q in fq])
            comp.per_fold = folds
            sizes = [s for rep in reports for s in rep.cv.get("fold_sizes", [])]
            if sizes:
                comp.fold_sizes = (float(np.mean([s["train"] + s.get("val", 0) for s in sizes])),
                                   float(np.mean([s["test"] for s in sizes])))
        for label in names:
            if label == reference:
                continue
            t = paired_tests(scores[label], scores[reference], n_resamples=n_resamples, seed=seed)
            t["delta"] = float(scores[label].mean() - scores[reference].mean())
            if comp.per_fold and comp.fold_sizes:
                dlt = (comp.per_fold[label] - comp.per_fold[reference]).ravel()
                dlt = dlt[~np.isnan(dlt)]
                if dlt.size >= 2:
                    t["corrected_t"], t["corrected_p"] = corrected_resampled_ttest(dlt, *comp.fold_sizes)
                    t["folds_ahead"] = int((dlt > 0).sum())
                    t["n_folds"] = int(dlt.size)
            comp.tests[label] = t
        out.append(comp)
    if not out:
        raise ValueError("no direction has run files for every method in every report (runs/*.trec; reports "
                         "written with `patlink eval --out DIR`)")
    return out


def _fold_suffix(qid: str) -> int | None:
    """The fold of a query id renamed ``ID@fold{f}`` by :func:`~patlink.evaluation.crossval.pool_fold_results`."""
    _, sep, tail = qid.rpartition("@fold")
    return int(tail) if sep and tail.isdigit() else None


def _report_qrels(rep: Report, direction: str) -> tuple[dict, bool]:
    """The report's own qrels (``runs/qrels.<direction>.trec``, True) or, for reports written before patlink
    stored them, every link of the bundled dataset named in the report (False: the caller narrows them)."""
    f = rep.path / "runs" / f"qrels.{direction}.trec"
    if f.is_file():
        return read_qrels(f), True
    from patlink.data.registry import load_dataset

    name = rep.meta.get("context", {}).get("dataset")
    if not name:
        raise ValueError(f"{rep.path}: no runs/qrels.{direction}.trec and no dataset named in metrics.json")
    ds = load_dataset(name)
    return ds.qrels(list(ds.links), direction), False  # type: ignore[arg-type]


def _p(x: float) -> str:
    return "< 1e-4" if x < 1e-4 and x != 0 else f"{x:.2g}"


def format_comparison(comps: Sequence[RepeatedComparison]) -> str:
    """Markdown tables of :func:`compare_reports` results (one per direction)."""
    from patlink.evaluation.report import DIRECTION_TITLES

    lines = []
    for c in comps:
        title = (f"## {DIRECTION_TITLES.get(c.direction, c.direction)} — {c.metric}, {c.n_repeats} "
                 f"report{'s' if c.n_repeats > 1 else ''}, {len(c.queries)} queries")
        if c.match == "any":
            title += " (each averaged over the reports that tested it)"
        lines += [title, ""]
        rep_cols = " | ".join(f"repeat {r}" for r in range(c.n_repeats)) if c.n_repeats > 1 else ""
        head = f"| method | {c.metric} (mean over repeats) |" + (f" {rep_cols} |" if rep_cols else "") + \
            " Δ | better / worse | t-test | randomization | Wilcoxon |" + \
            (" corrected repeated-CV t-test | folds ahead |" if c.per_fold else "")
        lines += [head, "|---" * (head.count("|") - 1) + "|"]
        for label, s in c.scores.items():
            row = f"| {label} | {s.mean():.4f} |"
            if rep_cols:
                row += " " + " | ".join(f"{x:.4f}" for x in c.per_repeat[label]) + " |"
            t = c.tests.get(label)
            if t is None:
                row += " (reference) | | | | |" + (" | |" if c.per_fold else "")
            else:
                floor = t.get("randomization_floor", 0.0)
                rand = f"≤ {floor:.1g}" if t["randomization"] <= floor * (1 + 1e-9) else _p(t["randomization"])
                row += (f" {t['delta']:+.4f} | {t['better']} / {t['worse']} | {_p(t['t_test'])} | "
                        f"{rand} | {_p(t['wilcoxon'])} |")
                if c.per_fold:
                    row += (f" {_p(t['corrected_p'])} (t = {t['corrected_t']:.2f}) | {t['folds_ahead']} of "
                            f"{t['n_folds']} |" if "corrected_p" in t else " | |")
            lines.append(row)
        lines.append("")
        if c.dropped:
            lines += [(f"{len(c.dropped)} queries not in every report/method were left out: "
                       f"{', '.join(c.dropped[:10])}{' …' if len(c.dropped) > 10 else ''}"), ""]
        if c.per_fold and c.fold_sizes:
            lines += [(f"Corrected repeated-CV t-test: Nadeau & Bengio (2003) over the {c.n_repeats} × "
                       f"{next(iter(c.per_fold.values())).shape[1]} fold differences, n_test / n_train = "
                       f"{c.fold_sizes[1]:.0f} / {c.fold_sizes[0]:.0f}."), ""]
    return "\n".join(lines)


def write_comparison(comps: Sequence[RepeatedComparison], out_dir: str | Path, title: str) -> str:
    """Write ``comparison.md`` (``# title`` + :func:`format_comparison`) and ``comparison.json`` (each
    :meth:`RepeatedComparison.to_dict`) atomically into ``out_dir`` (created); returns the Markdown tables."""
    from patlink.io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = format_comparison(comps)
    atomic_write_text(out / "comparison.md", f"# {title}\n\n{md}")
    atomic_write_text(out / "comparison.json", json.dumps([c.to_dict() for c in comps], indent=2))
    return md
