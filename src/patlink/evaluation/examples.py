"""New products linked to a company's patents: an evaluation of the new-product protocol with worked examples.

:func:`new_product_examples` answers "which of our patents cover this new product?" on a dataset whose patents are
known by their products (``honeywell-vpm``): it evaluates the given methods on the held-out products of a
new-product split (:func:`patlink.evaluation.experiment.evaluate`, ``protocol="new-product"``; whatever a method
tunes — fusion weights, ``k`` — is tuned on the validation products, never on test), tests the chosen method
against the best of the others (paired two-sided Student t-test over queries, ranx), and shows a few test products
with the chosen method's top patents, each with its score, whether it is a held-out (true) link and its evidence:
the patent's known (training) products most similar to the product first, the evidence ``patlink link`` gives
(:meth:`patlink.retrieval.profiles.PatentProfiles.evidence`).

The examples are drawn by a rule fixed before any ranking is seen (:func:`pick_examples`: a seeded sample of the
sorted test product ids), never by outcome. ``patlink demo`` prints the result.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from patlink.evaluation.experiment import evaluate, resolve_splits
from patlink.evaluation.results import EvaluationResult
from patlink.methods import Method

__all__ = ["ExampleCandidate", "NewProductExamples", "ProductExample", "new_product_examples", "pick_examples"]

Links = list[tuple[str, str]]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ExampleCandidate:
    """One ranked patent of an example product.

    Attributes:
        patent_id: the patent's publication number. rank: 1-based rank. score: the method's score (fused scores of
            a convex fusion lie in [0, 1]; the scale depends on the method).
        true_link: the product–patent link is a held-out (test) link of the dataset.
        evidence: ids of the patent's known (training) products, most similar to the product first (at most
            ``ProfileConfig.max_evidence``). evidence_names: their names.
        known_products: how many known products the patent has.
    """

    patent_id: str
    rank: int
    score: float
    true_link: bool
    evidence: tuple[str, ...]
    evidence_names: tuple[str, ...]
    known_products: int


@dataclass(frozen=True)
class ProductExample:
    """A test product, never seen by the method, with its top patents.

    Attributes:
        item_id / name: the product. text: its text in the evaluated view (the query).
        true_patents: its held-out links (sorted patent ids). representable: how many of them have a known product
            (only those can be ranked; the others count as misses).
        first_true_rank: rank of its first true patent in the method's full run (``None``: none retrieved).
        candidates: the top patents, best first.
    """

    item_id: str
    name: str
    text: str
    true_patents: tuple[str, ...]
    representable: int
    first_true_rank: int | None
    candidates: tuple[ExampleCandidate, ...]


@dataclass
class NewProductExamples:
    """What :func:`new_product_examples` returns.

    Attributes:
        result: the evaluation (every method, the directions asked for, 95% bootstrap CIs; ``result.write(dir)``
            writes the report).
        method: the name of the shown method. baselines: the other methods' names.
        reference: direction → the baseline with the best MRR there (the one the method is tested against).
        tests: direction → ``{metric: p}`` of the paired two-sided t-test of the method vs ``reference``
            (``mrr``, ``map``, ``ndcg@10``).
        examples: the example products. rule: how they were chosen (a sentence).
        facts: sizes of the split and pool (``train_products``, ``val_products``, ``test_products``,
            ``test_links``, ``pool_patents``, ``links_outside_pool``, ``seed``).
    """

    result: EvaluationResult
    method: str
    baselines: list[str]
    reference: dict[str, str]
    tests: dict[str, dict[str, float]]
    examples: list[ProductExample]
    rule: str
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form: metrics (mean, 95% CI) per method and direction, the tests, the examples, the facts."""
        metrics = {m: {d: {"label": r.method, **{k: r.metrics[k] for k in ("mrr", "map", "ndcg@10", "recall@10",
                                                                            "recall@100") if k in r.metrics},
                           "ci95": {k: list(v) for k, v in (r.metrics.get("ci95") or {}).items()}}
                       for d, r in per.items()} for m, per in self.result.items()}
        return {"method": self.method, "baselines": self.baselines, "reference": self.reference,
                "tests": self.tests, "metrics": metrics, "rule": self.rule, "facts": self.facts,
                "examples": [asdict(e) for e in self.examples]}

    def write(self, out_dir, title: str | None = None) -> dict:
        """Write the evaluation report (:meth:`EvaluationResult.write`: ``metrics.json``, ``report.md``, TREC runs,
        plots) and ``examples.json`` (:meth:`to_dict`) under ``out_dir``, atomically. Returns the written paths
        (the report's, plus ``examples``)."""
        from pathlib import Path

        from patlink.io import atomic_write_json

        out = Path(out_dir)
        paths = dict(self.result.write(out, title))
        paths["examples"] = atomic_write_json(out / "examples.json", self.to_dict())
        return paths


def pick_examples(items: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """``n`` of ``items`` drawn by ``random.Random(seed).sample`` from their sorted distinct ids, in draw order
    (all of them, sorted, when there are at most ``n``). Depends only on the ids and ``seed``, not on any ranking.

    Raises:
        ValueError: ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"need at least one example, got {n}")
    ids = sorted(set(items))
    return ids if len(ids) <= n else random.Random(seed).sample(ids, n)


def new_product_examples(ds, methods: Mapping[str, Method], method: str, *,
                         splits: Mapping[str, Links] | None = None, seed: int = 0, example_seed: int = 0,
                         n_examples: int = 3, top_k: int = 5, directions: Sequence[str] = ("item2patent",),
                         depth: int = 1000, n_bootstrap: int = 1000, profile_config=None,
                         log: Callable[[str], None] = _quiet) -> NewProductExamples:
    """Evaluate ``methods`` on the new-product protocol and show ``n_examples`` test products ranked by ``method``.

    Args:
        ds: a dataset whose patents are known by their products (``honeywell-vpm``).
        methods: ``{name: method}``, e.g. ``knn+bm25`` and its baselines (``knn``, ``profile-bm25``,
            ``profile-mean``, ``popularity``); profile methods as ``patlink eval --protocol new-product`` takes.
        method: the name (a key of ``methods``) of the method shown in the examples and tested against the best
            of the others.
        splits: train/val/test links of a new-product split; ``None`` = ``resolve_splits(ds, seed=seed,
            protocol="new-product")``, the split of ``patlink eval --protocol new-product --seed SEED``.
        seed: split seed (when ``splits`` is ``None``) and bootstrap seed.
        example_seed: seed of :func:`pick_examples` over the test products.
        n_examples / top_k: example products, and patents shown per example.
        directions: evaluated directions (``item2patent`` is required: the examples rank patents for products;
            ``patent2item`` is costly for fusions: ~3.5 min for ``knn+bm25`` on honeywell-vpm on 2 cores).
        depth: patents retrieved per product (the run's depth; MRR/MAP count deeper true links as misses).
        n_bootstrap: resamples of the 95% CIs.
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` (e.g. with the command's embedding
            memo); ``None`` = defaults.
        log: called with a progress line per method.

    Returns:
        :class:`NewProductExamples`.

    Raises:
        ValueError: ``method`` not in ``methods``, fewer than two methods, no ``item2patent`` direction, a split
            that is not a new-product split (held-out products with training links), or as
            :func:`~patlink.evaluation.experiment.evaluate`.
    """
    from patlink.evaluation.metrics import compare_runs
    from patlink.evaluation.new_product import new_product_pool
    from patlink.methods.profile import evidence_is_lexical, for_new_products
    from patlink.retrieval.profiles import ProfileConfig

    methods = dict(methods)
    if method not in methods:
        raise ValueError(f"method {method!r} is not among the evaluated methods {list(methods)}")
    if len(methods) < 2:
        raise ValueError("new_product_examples needs the method and at least one baseline")
    if "item2patent" not in directions:
        raise ValueError("the examples rank patents for products: directions must include item2patent")
    cfg = profile_config or ProfileConfig()
    splits = dict(splits) if splits is not None else resolve_splits(ds, seed=seed, protocol="new-product")
    train, test = list(splits.get("train") or []), list(splits.get("test") or [])
    profiles = new_product_pool(ds, train, test, cfg)   # refuses a split whose test products have training links
    res = evaluate(ds, methods, splits, protocol="new-product", directions=directions, depth=depth,
                   n_bootstrap=n_bootstrap, seed=seed, log=log, profile_config=cfg)

    baselines = [m for m in methods if m != method]
    reference, tests = {}, {}
    for d in res.directions:
        if d not in res[method]:
            continue
        present = [b for b in baselines if d in res[b]]
        if not present:
            continue
        ref = max(present, key=lambda b: res[b][d]["mrr"])
        mine = res[method][d]
        c = compare_runs(mine.qrels, {method: mine.run, ref: res[ref][d].run})
        reference[d], tests[d] = ref, dict(c["pvalues"][method][ref])

    best = res[method]["item2patent"]
    qrels = best.qrels
    test_items = sorted({i for i, _ in test})
    chosen = pick_examples(test_items, n_examples, example_seed)
    lexical = evidence_is_lexical(for_new_products(methods[method], profiles.has_text))
    pool = set(profiles.patent_ids)
    texts = ds.item_texts(chosen)
    examples = []
    for item in chosen:
        ranked = sorted(best.run.get(item, {}).items(), key=lambda kv: -kv[1])
        true = set(qrels.get(item, {}))
        first = next((r for r, (p, _) in enumerate(ranked, 1) if p in true), None)
        top = ranked[:top_k]
        ev = profiles.evidence(texts[item], [p for p, _ in top], lexical)
        cands = tuple(ExampleCandidate(p, r, float(s), p in true, tuple(ev[p]),
                                       tuple(ds.items.get(i, {}).get("name") or i for i in ev[p]),
                                       len(profiles.products_of(p)))
                      for r, (p, s) in enumerate(top, 1))
        examples.append(ProductExample(item, ds.items.get(item, {}).get("name") or item, texts[item],
                                       tuple(sorted(true)), len(true & pool), first, cands))
    pool_facts = best.pool
    facts = {"seed": seed, "train_products": len({i for i, _ in train}),
             "val_products": len({i for i, _ in splits.get("val") or []}), "test_products": len(test_items),
             "test_links": len(test), "pool_patents": len(pool),
             "links_outside_pool": pool_facts.get("links_outside_pool"), "depth": depth, "n_bootstrap": n_bootstrap}
    rule = (f"{len(chosen)} of the {len(test_items)} test products drawn by random.Random({example_seed}).sample "
            "from their sorted ids, before any ranking is seen")
    return NewProductExamples(res, method, baselines, reference, tests, examples, rule, facts)
