"""Link new texts to a dataset: rank its patents for product (or paper) descriptions, or its items for patents.

:func:`link` is what ``patlink link`` runs. A method ranks exactly as it does in ``patlink eval`` on the same
dataset and seed: whatever it tunes (fusion weights, ``k``) is tuned on the same validation links
(:func:`patlink.evaluation.experiment.resolve_splits`, or a trained run's own validation links).

When the patents have no text (``honeywell-vpm`` before hydration), or for profile/kNN methods, patents are
represented by their linked products (:mod:`patlink.methods.profile`) and each candidate lists the known products
that support it, most similar to the query first.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from patlink.methods import (
    Fusion,
    KnownLinks,
    LinkerMethod,
    Method,
    ProfileLeaf,
    Validation,
    for_new_products,
)

__all__ = ["Candidate", "link"]


@dataclass(frozen=True)
class Candidate:
    """One ranked candidate for a query.

    Attributes:
        id: patent publication number (item id with ``reverse=True``).
        score: the method's score (higher is better; scale depends on the method).
        rank: 1-based rank.
        title: the candidate's title (or name, or the start of its text).
        evidence: for profile/kNN methods, the names of the known products linked to the patent, most similar
            to the query first.
    """

    id: str
    score: float
    rank: int
    title: str = ""
    evidence: list[str] = field(default_factory=list)


def _is_profile(method: Method) -> bool:
    if isinstance(method, ProfileLeaf):
        return True
    return isinstance(method, Fusion) and any(_is_profile(p) for p in method.parts)


def _validation_links(ds, method: Method, seed: int) -> list[tuple[str, str]]:
    """The validation links ``patlink eval`` would tune ``method`` on: a trained run's own (its ``split.json``,
    those of this dataset), else the default split's."""
    from patlink.evaluation.experiment import resolve_splits
    from patlink.evaluation.linkage import run_split

    known = set(ds.links)
    for path in method.trained_paths():
        val = [x for x in run_split(path).get("val", []) if x in known]
        if val:
            return val
    if not ds.links:
        return []
    try:
        return resolve_splits(ds, seed=seed).get("val", [])
    except ValueError:
        return []


def _title(fields: dict, text: str) -> str:
    return fields.get("title") or fields.get("name") or text[:80]


def link(ds, method: Method, queries: str | Sequence[str] | dict[str, str], *, top_k: int = 10,
         reverse: bool = False, seed: int = 0, profile_config=None) -> dict[str, list[Candidate]]:
    """Rank ``ds``'s patents for each query text (its items with ``reverse=True``).

    Args:
        ds: the dataset whose patents (or items) are ranked.
        method: any :class:`~patlink.methods.Method`.
        queries: one text, a list of texts (ids ``q0``, ``q1``, …) or ``{query id: text}``.
        top_k: candidates per query.
        reverse: rank items for patent texts.
        seed: seed of the default split whose validation links tune the method (as ``patlink eval --seed``).
        profile_config: :class:`patlink.retrieval.profiles.ProfileConfig` for profile methods.

    Returns:
        ``{query id: [Candidate, …]}``, best first.

    Raises:
        ValueError: an empty query, ``top_k < 1``, no candidate with text, or (patents without text) a dataset
            without links.
    """
    if isinstance(queries, str):
        queries = {"query": queries}
    elif not isinstance(queries, dict):
        queries = {f"q{i}": t for i, t in enumerate(queries)}
    if not queries or any(not (t or "").strip() for t in queries.values()):
        raise ValueError("empty query text")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if not reverse and (not ds.has_patent_text or _is_profile(method)):
        return _link_by_profiles(ds, method, queries, top_k, seed, profile_config)
    direction = "patent2item" if reverse else "item2patent"
    m = method.for_direction(direction)
    if m.tunable:
        val = _validation_links(ds, method, seed)
        if val:
            from patlink.evaluation.linkage import validation_for

            m = m.fit(validation_for(ds, val, direction))
        elif isinstance(m, Fusion) and m.untuned == "validation":
            warnings.warn(f"{m.name}: no validation links in {ds.name} to tune the fusion weights; equal weights",
                          stacklevel=2)
            m.untuned = None
    docs = ds.item_texts() if reverse else ds.patent_texts()
    docs = {k: v for k, v in docs.items() if v.strip()}
    if not docs:
        raise ValueError(f"no {'item' if reverse else 'patent'} of {ds.name} has text in the chosen view")
    m.index(docs)
    run = m.search(queries, top_k)
    side = ds.items if reverse else ds.patents
    out = {}
    for q in queries:
        ranked = sorted(run.get(q, {}).items(), key=lambda kv: -kv[1])[:top_k]
        out[q] = [Candidate(d, float(s), r, _title(side.get(d, {}), docs.get(d, ""))) for r, (d, s) in
                  enumerate(ranked, 1)]
    return out


def _link_by_profiles(ds, method: Method, queries: dict[str, str], top_k: int, seed: int,
                      profile_config) -> dict[str, list[Candidate]]:
    """Patents represented by their linked products: tuned on a seeded new-product split (profiles from its
    training links, its validation products as queries), then ranked with profiles built from every link."""
    from patlink.graph import new_product_split
    from patlink.retrieval.profiles import ProfileConfig

    cfg = profile_config or ProfileConfig()
    if not ds.links:
        raise ValueError(f"{ds.name} has no links: no patent can be represented by its products")
    if isinstance(method, LinkerMethod):
        raise ValueError(f"{ds.name}'s patents have no text: use knn-linker:{method.path} or "
                         f"profile-linker:{method.path}")
    full = KnownLinks(ds, ds.links, cfg)
    m = for_new_products(method, full.profiles.has_text)
    if m.tunable:
        split = new_product_split(ds, seed=seed)
        if split.val and split.train:
            tp = KnownLinks(ds, split.train, cfg)
            val_items = sorted({i for i, _ in split.val})
            val = Validation(ds.item_texts(val_items), {p: "" for p in tp.profiles.patent_ids},
                             ds.qrels(split.val, "item2patent"), metric=cfg.tune_metric)
            m = m.with_known(tp).for_direction("item2patent").fit(val)
    m = m.with_known(full).for_direction("item2patent")
    prof = full.profiles
    m.index({p: "" for p in prof.patent_ids})
    run = m.search(queries, top_k)
    lexical = all(x.leaf in ("profile-bm25", "text-bm25") for x in _leaves(m))
    pos = {i: j for j, i in enumerate(prof.items)}
    out = {}
    for q, text in queries.items():
        sim = prof.product_similarity(text, lexical)
        cands = []
        for r, (pid, score) in enumerate(sorted(run.get(q, {}).items(), key=lambda kv: -kv[1])[:top_k], 1):
            prods = sorted(prof.products_of(pid), key=lambda i: (-sim[pos[i]], i))[: cfg.max_evidence]
            cands.append(Candidate(pid, float(score), r, _title(ds.patents.get(pid, {}), ""),
                                   [ds.items[i].get("name") or i for i in prods]))
        out[q] = cands
    return out


def _leaves(m: Method) -> list[ProfileLeaf]:
    if isinstance(m, Fusion):
        return [x for p in m.parts for x in _leaves(p)]
    return [m] if isinstance(m, ProfileLeaf) else []
