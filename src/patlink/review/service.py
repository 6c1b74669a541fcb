"""The review workbench: an index that ranks, the links already known, and the decisions store, behind the calls
the ``patlink serve`` API and page make (and that a notebook can make directly).

:class:`ReviewService` answers in plain JSON-ready dicts. It never reads a path from its callers: the index, the
known items and links, and the store are given when it is built.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping
from typing import Any

from patlink.linking import Candidate, rank_with_evidence
from patlink.review.decisions import DECISIONS, Decision, DecisionStore

__all__ = ["ReviewService", "UnknownId"]


def _known(ds) -> dict:
    """Known items, links and patent metadata of a dataset (items named by their ``name``/``title`` field)."""
    texts = ds.item_texts()
    items = {i: {"name": str(f.get("name") or f.get("title") or i), "text": texts.get(i, "")}
             for i, f in ds.items.items()}
    meta_fields = [f for f in ("assignee", "date") if any(f in d for d in ds.patents.values())]
    meta = {p: {f: d[f] for f in meta_fields if d.get(f)} for p, d in ds.patents.items()} if meta_fields else {}
    return {"items": items, "links": ds.links, "patent_metadata": meta}


@dataclass(eq=False)
class _Request:
    queries: dict
    top_k: int
    answer: dict | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _release_freed_memory() -> None:
    """Hand memory that Python and PyTorch freed back to the OS (glibc ``malloc_trim``); a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def snippet(text: str, terms, width: int = 320) -> str:
    """Up to ``width`` characters of ``text`` starting a little before the first occurrence of any of ``terms``
    (case-insensitive), cut at word boundaries, with ``…`` where text was cut; the start of the text when no term
    occurs."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    low = text.lower()
    hits = [i for i in (low.find(t.lower()) for t in terms if t) if i >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    if start:
        start = text.find(" ", start) + 1 or start
    end = min(len(text), start + width)
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


class UnknownId(KeyError):
    """An item or patent id the service does not know (the API answers 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown id"


class ReviewService:
    """Rank, look up and record decisions for one index.

    Args:
        index: a :class:`patlink.index.CorpusIndex` or :class:`patlink.linking.DatasetIndex` whose documents are
            patents (``direction == "item2patent"``): anything with ``link(queries, top_k)``, ``title_of(id)``,
            ``texts(ids)``, ``label``, ``len()`` and ``in``.
        store: the :class:`~patlink.review.decisions.DecisionStore` decisions go to.
        items: known items (products, papers): item id → ``{"name": ..., "text": ...}`` (either may be missing).
        links: links known before the review, ``(item id, patent id)`` pairs (e.g. a VPM page's).
        patent_metadata: patent id → extra fields shown and filtered on (``assignee``, ``date`` …).
        max_supporting: known items listed per candidate patent.
        max_batch: texts ranked together when requests arrive at once (several threads of a server): the
            service's ranking thread ranks every waiting request with the same ``top_k`` in one call (one
            embedding batch for dense methods), up to this many texts.

    Raises:
        ValueError: an index whose documents are not patents.
    """

    def __init__(self, index, store: DecisionStore, *, items: Mapping[str, Mapping[str, str]] | None = None,
                 links: Iterable[tuple[str, str]] = (), patent_metadata: Mapping[str, Mapping[str, Any]] | None = None,
                 max_supporting: int = 5, max_batch: int = 64):
        if getattr(index, "direction", "item2patent") != "item2patent":
            raise ValueError("the review page ranks patents for products: give an index built without --reverse")
        self.index, self.store = index, store
        self.items = {str(k): dict(v) for k, v in (items or {}).items()}
        self.links = sorted({(str(i), str(p)) for i, p in links})
        self.patent_metadata = {str(k): dict(v) for k, v in (patent_metadata or {}).items()}
        self._texts_of_items = {i: t for i, it in self.items.items() if (t := str(it.get("text") or "")).strip()}
        self.max_supporting = max_supporting
        self._patents_of: dict[str, list[str]] = {}
        self._items_of: dict[str, list[str]] = {}
        for i, p in self.links:
            self._patents_of.setdefault(i, []).append(p)
            self._items_of.setdefault(p, []).append(i)
        self._lock = threading.Lock()          # rankers are not all thread-safe: one ranking at a time
        self._queue_lock = threading.Lock()
        self._wake = threading.Condition(self._queue_lock)
        self._pending: list[_Request] = []
        self._worker: threading.Thread | None = None
        self._trimmed = 0.0
        self.max_batch = max_batch
        self._reverse = None

    # ------------------------------------------------------------------ building
    @classmethod
    def for_dataset(cls, ds, method, store: DecisionStore, *, seed: int = 0, **kw) -> ReviewService:
        """Serve a dataset in memory: its patents ranked by ``method`` (tuned as ``patlink eval`` tunes it;
        patents without text are represented by their linked products), its items and links as the known ones
        (``items=``, ``links=``, ``patent_metadata=`` given in ``kw`` replace the dataset's).

        Raises:
            ValueError: what :class:`patlink.linking.DatasetIndex` raises (no text, no links).
        """
        from patlink.linking import DatasetIndex

        return cls(DatasetIndex(ds, method, seed=seed), store, **{**_known(ds), **kw})

    @classmethod
    def for_index(cls, index, store: DecisionStore, *, dataset=None, **kw) -> ReviewService:
        """Serve a saved :class:`patlink.index.CorpusIndex`; ``dataset`` (a :class:`patlink.data.Dataset`, e.g. the
        one the index was built from) gives the known items and links (``items=``, ``links=``,
        ``patent_metadata=`` given in ``kw`` replace the dataset's)."""
        return cls(index, store, **{**(_known(dataset) if dataset is not None else {}), **kw})

    # ------------------------------------------------------------------ facts
    @property
    def method(self) -> str:
        """The label of the method that ranks."""
        return str(getattr(self.index, "label", "") or "")

    def info(self) -> dict:
        """What is served: method, counts of documents, known items and links, decisions by kind."""
        return {"method": self.method, "documents": len(self.index), "document_side": "patent",
                "known_items": len(self.items), "known_links": len(self.links),
                "decisions": self.store.counts(), "reverse_ranking": bool(self._texts_of_items)}

    def _name(self, item_id: str) -> str:
        it = self.items.get(item_id) or {}
        return str(it.get("name") or item_id)


    def _known_patent(self, patent_id: str) -> bool:
        return patent_id in self.index or patent_id in self._items_of

    # ------------------------------------------------------------------ items and patents
    def list_items(self, query: str = "", *, limit: int = 50, offset: int = 0) -> dict:
        """Known items whose id, name or text contains ``query`` (case-insensitive; id and name matches first),
        plus items only seen in decisions; ``{"total", "items": [{"id", "name", "known_links", "decided"}]}``."""
        q = query.strip().lower()
        decided: dict[str, int] = {}
        for d in self.store.decisions():
            decided[d.item_id] = decided.get(d.item_id, 0) + 1
        ids = set(self.items) | set(decided)
        by_name = sorted((self._name(i), i) for i in ids if not q or q in i.lower() or q in self._name(i).lower())
        named = {i for _, i in by_name}
        by_text = sorted((self._name(i), i) for i in ids if q and i not in named
                         and q in str((self.items.get(i) or {}).get("text") or "").lower())
        rows = by_name + by_text
        page = rows[offset: offset + limit]
        return {"total": len(rows), "items": [{"id": i, "name": n, "known_links": len(self._patents_of.get(i, [])),
                                               "decided": decided.get(i, 0)} for n, i in page]}

    def item(self, item_id: str) -> dict:
        """One item: name, text (known, else the text recorded with its decisions), known patents, decisions.

        Raises:
            UnknownId: neither a known item nor one with recorded decisions.
        """
        decisions = self.store.decisions(item_id=item_id)
        if item_id not in self.items and not decisions:
            raise UnknownId(f"unknown item {item_id!r}")
        text = str((self.items.get(item_id) or {}).get("text") or "")
        if not text:
            # from every row: a later decision on the same pair without the text must not lose it
            text = self.store.item_texts().get(item_id, "")
        return {"id": item_id, "name": self._name(item_id), "text": text, "known": item_id in self.items,
                "known_patents": [self._patent_row(p) for p in self._patents_of.get(item_id, [])],
                "decisions": [d.to_dict() for d in decisions]}

    def _patent_row(self, patent_id: str) -> dict:
        return {"id": patent_id, "title": self.index.title_of(patent_id), **self.patent_metadata.get(patent_id, {})}

    def patent(self, patent_id: str) -> dict:
        """One patent: title, text, metadata, the known items linked to it, its decisions.

        Raises:
            UnknownId: the index does not hold it and no known link names it.
        """
        if not self._known_patent(patent_id):
            raise UnknownId(f"unknown patent {patent_id!r}")
        text = self.index.texts([patent_id]).get(patent_id, "")
        return {**self._patent_row(patent_id), "text": text, "in_index": patent_id in self.index,
                "known_items": [{"id": i, "name": self._name(i)} for i in self._items_of.get(patent_id, [])],
                "decisions": [d.to_dict() for d in self.store.decisions(patent_id=patent_id)]}

    # ------------------------------------------------------------------ ranking
    def _candidate(self, c: Candidate, item_id: str | None, current: Mapping[str, Decision]) -> dict:
        support = self._items_of.get(c.id, [])
        d = current.get(c.id)
        return {"id": c.id, "rank": c.rank, "score": c.score, "title": c.title,
                **self.patent_metadata.get(c.id, {}),
                "matched_terms": list(c.matched_terms), "evidence": list(c.evidence),
                "part_scores": dict(c.part_scores),
                "known": item_id is not None and c.id in self._patents_of.get(item_id, ()),
                "supporting_items": [self._name(i) for i in support[: self.max_supporting]],
                "n_supporting": len(support), "decision": d.to_dict() if d else None}

    def link_texts(self, queries: Mapping[str, str], top_k: int = 10) -> dict[str, list[dict]]:
        """Ranked candidates for several texts: ``{query id: [candidate, …]}`` (the fields of
        :meth:`link`'s candidates; decisions and known links looked up when a query id is an item id).

        Raises:
            ValueError: an empty text or ``top_k < 1``.
        """
        queries = dict(queries)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        bad = [q for q, t in queries.items() if not (t or "").strip()]
        if not queries or bad:
            raise ValueError(f"query {bad[0]!r} has an empty text" if bad else "no query")
        answer = self._rank(queries, top_k)
        return {q: [self._candidate(c, q, self.store.current(q)) for c in cands] for q, cands in answer.items()}

    def _rank(self, queries: dict[str, str], top_k: int) -> dict[str, list[Candidate]]:
        """``index.link(queries, top_k)`` run on the service's one ranking thread, batched with the other waiting
        requests of the same ``top_k``.

        One thread runs every model call: the ranker needs no locking of its own, and a long-lived server does
        not spread the model's allocations over one malloc arena per request thread (with per-thread arenas a
        process embedding new texts from many threads grew by ~0.3 MB per request on glibc)."""
        req = _Request(queries, top_k)
        with self._queue_lock:
            self._pending.append(req)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve_requests, name="patlink-ranker", daemon=True)
                self._worker.start()
            self._wake.notify()
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.answer

    def _serve_requests(self) -> None:
        """The ranking thread: take the oldest request and every waiting one with its ``top_k`` (up to
        ``max_batch`` texts), rank them in one call, answer them; sleep when nothing waits."""
        while True:
            with self._queue_lock:
                while not self._pending:
                    self._wake.wait()
                top_k = self._pending[0].top_k
                batch, n = [], 0
                for r in self._pending:
                    if r.top_k == top_k and (not batch or n + len(r.queries) <= self.max_batch):
                        batch.append(r)
                        n += len(r.queries)
                self._pending = [r for r in self._pending if r not in batch]
            with self._lock:
                self._run(batch, top_k)
            for r in batch:
                r.done.set()
            if time.monotonic() - self._trimmed > 2.0:       # at most every 2 s
                self._trimmed = time.monotonic()
                _release_freed_memory()

    def _run(self, batch: list, top_k: int) -> None:
        merged = {f"{k}\x1f{q}": t for k, r in enumerate(batch) for q, t in r.queries.items()}
        try:
            answer = self.index.link(merged, top_k)
        except Exception:
            if len(batch) == 1:
                batch[0].error = sys.exc_info()[1]
                return
            for r in batch:                  # one bad request must not fail the others: rank each alone
                self._run([r], top_k)
            return
        for k, r in enumerate(batch):
            r.answer = {q: answer[f"{k}\x1f{q}"] for q in r.queries}

    def link(self, text: str | None = None, *, item_id: str | None = None, top_k: int = 10,
             min_score: float | None = None, assignee: str | None = None) -> dict:
        """Rank the patents for one item (a known item by id, or a new text).

        Args:
            text: the description to rank for (default: the known item's text).
            item_id: the item; its known links and decisions are shown on its candidates.
            top_k: candidates ranked. min_score: drop candidates scoring below. assignee: keep candidates whose
                ``assignee`` contains this (case-insensitive).

        Returns:
            ``{"item_id", "method", "text", "candidates": [{"id", "rank", "score", "title", "snippet",
            "matched_terms", "evidence", "part_scores", "known", "supporting_items", "n_supporting", "decision",
            …metadata}]}`` — ``snippet``: up to 320 characters of the patent's text around its first matched term
            (the start of the text when none matches; ``""`` without text).

        Raises:
            UnknownId: ``item_id`` without text and not a known item. ValueError: no text at all; ``top_k < 1``.
        """
        if text is None or not text.strip():
            if item_id is None:
                raise ValueError("give a text or a known item id")
            text = self.item(item_id)["text"]
            if not text.strip():
                raise ValueError(f"item {item_id!r} has no text: paste a description")
        qid = item_id or "query"
        cands = self.link_texts({qid: text}, top_k)[qid]
        texts = self.index.texts([c["id"] for c in cands]) if cands else {}
        for c in cands:
            c["snippet"] = snippet(texts.get(c["id"], ""), c["matched_terms"])
        if item_id is None:
            for c in cands:
                c["known"], c["decision"] = False, None
        if min_score is not None:
            cands = [c for c in cands if c["score"] >= min_score]
        if assignee:
            a = assignee.lower()
            cands = [c for c in cands if a in str(c.get("assignee") or "").lower()]
        return {"item_id": item_id, "method": self.method, "text": text, "candidates": cands}

    def rank_items(self, patent_id: str, top_k: int = 10) -> dict:
        """The reverse view: the known items ranked for a patent's text (BM25 over the known items' texts), with
        the items already linked to it and its decisions.

        Returns:
            ``{"patent": patent(patent_id), "candidates": [{"id", "name", "rank", "score", "matched_terms",
            "known", "decision"}]}`` — no candidates when the patent or the items have no text.

        Raises:
            UnknownId: an unknown patent. ValueError: ``top_k < 1``.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        pat = self.patent(patent_id)
        text = (pat["title"] + "\n" + pat["text"]).strip()
        cands: list[dict] = []
        if text and self._texts_of_items:
            with self._lock:
                if self._reverse is None:
                    from patlink.methods import BM25

                    m = BM25().for_direction("patent2item")
                    m.index(self._texts_of_items)
                    self._reverse = m
                answer = rank_with_evidence(self._reverse, {patent_id: text}, top_k, self._name)[patent_id]
            current = {d.item_id: d for d in self.store.decisions(patent_id=patent_id)}
            known = set(self._items_of.get(patent_id, ()))
            cands = [{"id": c.id, "name": c.title, "rank": c.rank, "score": c.score,
                      "matched_terms": list(c.matched_terms), "known": c.id in known,
                      "decision": current[c.id].to_dict() if c.id in current else None} for c in answer]
        return {"patent": pat, "candidates": cands}

    # ------------------------------------------------------------------ decisions
    def decide(self, item_id: str, patent_id: str, decision: str, *, note: str = "", reviewer: str = "",
               score: float | None = None, rank: int | None = None, item_text: str = "") -> dict:
        """Record a decision on the pair (the method label is the served one).

        Raises:
            UnknownId: the patent is not in the index nor in a known link. ValueError: an unknown decision, an
                item that is neither known nor given a text, any field the store refuses.
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        if not self._known_patent(patent_id):
            raise UnknownId(f"unknown patent {patent_id!r}")
        if item_id not in self.items and not item_text.strip() and not self.store.decisions(item_id=item_id):
            raise ValueError(f"item {item_id!r} is not a known item: send its text (item_text) with the decision")
        if item_id in self.items and item_text == str(self.items[item_id].get("text") or ""):
            item_text = ""                              # a known item's text is not stored again
        d = self.store.record(item_id, patent_id, decision, note=note, reviewer=reviewer, method=self.method,
                              score=score, rank=rank, item_text=item_text)
        return d.to_dict()

    def decisions(self, **filters) -> list[dict]:
        """:meth:`DecisionStore.decisions` as dicts (same filters)."""
        return [d.to_dict() for d in self.store.decisions(**filters)]

    def patent_documents(self, ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Patent id → ``{"title", "text"}`` from the index (for :func:`patlink.review.export.export_training`)."""
        ids = list(ids)
        texts = self.index.texts(ids)
        return {p: {"title": self.index.title_of(p), "text": texts.get(p, "")} for p in ids}
