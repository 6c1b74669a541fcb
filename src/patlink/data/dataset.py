"""The one dataset abstraction of patlink: items, patents, links, text views.

An *item* is whatever is linked to patents: a commercial product (``honeywell-vpm``), a research paper
(``pap2pat``), a BEIR query. Items and patents are documents with named text fields (``title``, ``abstract``,
``claims``, ``description`` for patents; ``name``, ``description`` for products; ``title``, ``abstract``, ``body``
for papers). A *text view* picks and orders fields (``title,abstract`` by default for patents); a document whose
view is empty is *counted and reported* by :meth:`Dataset.missing_text`, never silently dropped.

Links are ``(item_id, patent_id)`` pairs (the edges of the bipartite graph of El Bouari & de Rassenfosse,
"Product-Patent linkage prediction", §3.1). Qrels in the ranx/TREC sense are derived from links for either
direction with :meth:`Dataset.qrels`.

Patent texts fetched later (``patlink hydrate``) reach a dataset only when they are passed to it:
:meth:`Dataset.with_patent_texts` takes any :class:`PatentTextSource` (e.g. a
:class:`patlink.hydrate.store.HydrationStore`) or a plain mapping; nothing is looked up implicitly.
"""

from __future__ import annotations

import copy
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Dataset", "TextView", "parse_view", "Direction", "PatentTextSource", "PATENT_TEXT_FIELDS"]

Direction = Literal["item2patent", "patent2item"]
TextView = tuple[str, ...]

#: The text fields a patent may have, in reading order: the four texts of the patent document (El Bouari & de
#: Rassenfosse, "Product-Patent linkage prediction", §2.1: title, abstract, claims, description) and ``summary``, the
#: dense summary of them that the paper encodes (written by ``patlink summarise`` into a hydration store).
PATENT_TEXT_FIELDS = ("title", "abstract", "claims", "description", "summary")


def parse_view(spec: str | Sequence[str] | None, available: Sequence[str], default: Sequence[str]) -> TextView:
    """Parse a text-view spec such as ``"title,abstract,claims"`` or ``"title+abstract"``.

    Args:
        spec: comma- or plus-separated field names, a sequence of names, or ``None`` for ``default``.
        available: the fields documents of this side can have.
        default: view used when ``spec`` is ``None`` or empty.

    Returns:
        Tuple of field names in the order given.

    Raises:
        ValueError: if a field is unknown; the message lists the available fields.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return tuple(default)
    parts = spec.replace("+", ",").split(",") if isinstance(spec, str) else list(spec)
    view = tuple(p.strip().lower() for p in parts if p.strip())
    unknown = [p for p in view if p not in available]
    if unknown:
        raise ValueError(f"unknown text field(s) {unknown}; available: {', '.join(available)}")
    return view


@runtime_checkable
class PatentTextSource(Protocol):
    """Anything that gives patents their texts by publication number (e.g. a hydration store).

    :class:`patlink.hydrate.store.HydrationStore` implements it; so can any object with this method.
    """

    def texts_for(self, numbers: Iterable[str]) -> Mapping[str, Mapping[str, str]]:
        """Patent id → {field: text} for the ids among ``numbers`` that the source knows (others absent).

        Raises:
            ValueError: when the source cannot be read (it must not answer ``{}`` in place of an error).
        """
        ...


def _join(doc: dict[str, str], view: TextView) -> str:
    return "\n".join(doc[f].strip() for f in view if doc.get(f) and doc[f].strip())


@dataclass
class Dataset:
    """Items, patents and the links between them.

    Attributes:
        name: registry name (``honeywell-vpm``, ``pap2pat`` ...) or ``beir:<folder>``.
        items: item id → {field: text}. Fields absent from a document are simply missing keys.
        patents: patent id (canonical publication number, see :mod:`patlink.data.numbers`) → {field: text}.
        links: unique ``(item_id, patent_id)`` pairs; every id appears in ``items`` / ``patents``.
        negative_links: *known negatives*: ``(item_id, patent_id)`` pairs judged NOT relevant (e.g. candidate
            links a reviewer rejected; the score-0 rows of BEIR qrels). They are not links: evaluation ignores them
            (a judged non-relevant patent ranks like any other non-relevant one), and ``patlink train --negatives
            known`` draws its extra negatives from them. Every id appears in ``items`` / ``patents``, and no pair
            is also in ``links``.
        item_fields / patent_fields: the fields each side may have (for view validation and ``--help``).
        item_view / patent_view: the views used when none is requested.
        labels: label name → document id → labels (e.g. ``{"cpc_subclass": {"US123": ["G06F"]}}``).
        doc_splits: predefined document splits (e.g. cpc-claims ``train``/``test`` patent ids).
        link_splits: predefined link splits (e.g. a BEIR folder's ``qrels/test.tsv``).
        one_to_one: each item has exactly one patent and vice versa (pap2pat): splits are random, not by graph.
        item_kind: what items are (``product``, ``paper``, ``query``), for messages and reports.
        metadata: provenance and load report (counts of repaired / excluded rows ...).
    """

    name: str
    items: dict[str, dict[str, str]]
    patents: dict[str, dict[str, str]]
    links: list[tuple[str, str]]
    item_fields: tuple[str, ...] = ("text",)
    patent_fields: tuple[str, ...] = PATENT_TEXT_FIELDS
    item_view: TextView = ("text",)
    patent_view: TextView = ("title", "abstract")
    labels: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    doc_splits: dict[str, list[str]] = field(default_factory=dict)
    link_splits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    one_to_one: bool = False
    item_kind: str = "item"
    metadata: dict = field(default_factory=dict)
    negative_links: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        bad = [(i, p) for i, p in self.links if i not in self.items or p not in self.patents]
        if bad:
            raise ValueError(f"{len(bad)} link(s) reference unknown ids, e.g. {bad[:3]}")
        bad = [(i, p) for i, p in self.negative_links if i not in self.items or p not in self.patents]
        if bad:
            raise ValueError(f"{len(bad)} negative link(s) reference unknown ids, e.g. {bad[:3]}")
        if self.negative_links:
            pos = set(map(tuple, self.links))
            both = sorted({tuple(x) for x in self.negative_links} & pos)
            if both:
                raise ValueError(f"{len(both)} pair(s) are both a link and a negative link (judged relevant and not "
                                 f"relevant), e.g. {both[:3]}")

    def copy(self) -> "Dataset":
        """Independent copy: every document dict, link and negative-link list, label list and split is new (texts
        are shared immutable strings), and the metadata is deep-copied, so changing the copy never changes ``self``."""
        return replace(
            self,
            items={k: dict(v) for k, v in self.items.items()},
            patents={k: dict(v) for k, v in self.patents.items()},
            links=list(self.links),
            labels={name: {k: list(v) for k, v in lab.items()} for name, lab in self.labels.items()},
            doc_splits={k: list(v) for k, v in self.doc_splits.items()},
            link_splits={k: list(v) for k, v in self.link_splits.items()},
            negative_links=list(self.negative_links),
            metadata=copy.deepcopy(self.metadata),
        )

    # ------------------------------------------------------------------ texts
    def with_patent_texts(self, source: PatentTextSource | Mapping[str, Mapping[str, str]]) -> "Dataset":
        """Copy of the dataset whose patents get the texts that ``source`` holds for them.

        Args:
            source: a :class:`PatentTextSource` (e.g. ``patlink.hydrate.open_texts(path)``, a read-only
                :class:`patlink.hydrate.store.HydrationStore`) or a mapping patent id → {field: text}. Only the
                dataset's own patents are looked up; ids the source does not hold keep their fields.

        Returns:
            A new :class:`Dataset` (``self`` is unchanged). For each patent found, the source's non-empty string
            fields fill the fields the patent lacks or has empty; the dataset's own texts are kept (bundled texts
            win). A text field of :data:`PATENT_TEXT_FIELDS` the source brings (``summary``, or ``claims`` for a
            BEIR corpus) is added to :attr:`patent_fields`, so it can be chosen as a view; other fields (``cpc``,
            dates ...) are kept as metadata fields.
            ``metadata`` records ``hydrated_patents`` (patents that received at least one field) and
            ``patent_texts_from`` (the source's ``path`` when it has one, else its type name).

        Raises:
            TypeError: if ``source`` is a path or string (open it first: ``patlink.hydrate.open_texts(path)``)
                or neither a mapping nor a :class:`PatentTextSource`.
            ValueError: whatever the source raises when it cannot be read (missing, locked or corrupt store).
        """
        if isinstance(source, (str, bytes, os.PathLike)):
            raise TypeError(f"texts must be a text source, not the path {source!r}: open the store first, e.g. "
                            "patlink.hydrate.open_texts(path), or pass --texts PATH on the command line")
        if isinstance(source, Mapping):
            found = {p: source[p] for p in self.patents if p in source}
        elif isinstance(source, PatentTextSource):
            found = source.texts_for(list(self.patents))
        else:
            raise TypeError(f"texts must be a mapping or have a texts_for(numbers) method, got {type(source).__name__}")
        out = self.copy()
        brought = {k for fields_ in found.values() for k, v in fields_.items()
                   if k in PATENT_TEXT_FIELDS and isinstance(v, str) and v.strip()}
        extra = tuple(f for f in PATENT_TEXT_FIELDS if f in brought and f not in out.patent_fields)
        if extra:   # e.g. a BEIR corpus (title, text) given claims or summaries by a hydration store
            out.patent_fields = tuple(out.patent_fields) + extra
        n = 0
        for pid, fields_ in found.items():
            if pid not in out.patents:
                continue
            doc = out.patents[pid]
            add = {k: v for k, v in fields_.items()
                   if isinstance(v, str) and v.strip() and not (doc.get(k) or "").strip()}
            if add:
                out.patents[pid].update(add)
                n += 1
        out.metadata["hydrated_patents"] = n
        out.metadata["patent_texts_from"] = str(getattr(source, "path", None) or type(source).__name__)
        return out

    def patents_with_text(self, view: str | Sequence[str] | None = None) -> int:
        """Number of patents whose text in ``view`` (default: the dataset's patent view) is not empty."""
        return sum(1 for t in self.patent_texts(view=view).values() if t)

    def patents_without_text(self, view: str | Sequence[str] | None = None) -> list[str]:
        """Sorted ids of the patents whose text in ``view`` (default: the dataset's patent view) is empty."""
        return sorted(p for p, t in self.patent_texts(view=view).items() if not t)

    def without_textless_patents(self, view: str | Sequence[str] | None = None) -> "Dataset":
        """Copy of the dataset without the patents whose text in ``view`` is empty, and without every link,
        negative link, link split entry, document split entry and label that names them.

        For a partly hydrated (or partly summarised) dataset, so that an evaluation ranks only patents that have
        text instead of mixing them with empty documents. Items are kept (an item left without links is simply
        not a query). ``metadata["textless_patents_dropped"]`` and ``["textless_links_dropped"]`` say how many
        were removed; ``self`` is unchanged.

        Raises:
            ValueError: ``view`` names an unknown field, or no patent has text in it.
        """
        gone = set(self.patents_without_text(view))
        if len(gone) == len(self.patents) and gone:
            raise ValueError(f"none of the {len(gone)} patents of {self.name} has text in view "
                             f"{','.join(parse_view(view, self.patent_fields, self.patent_view))}")
        out = self.copy()
        if not gone:
            out.metadata.update(textless_patents_dropped=0, textless_links_dropped=0)
            return out
        keep = lambda pairs: [x for x in pairs if x[1] not in gone]  # noqa: E731
        out.patents = {p: d for p, d in out.patents.items() if p not in gone}
        n_links = len(out.links)
        out.links = keep(out.links)
        out.negative_links = keep(out.negative_links)
        out.link_splits = {k: keep(v) for k, v in out.link_splits.items()}
        out.doc_splits = {k: [p for p in v if p not in gone] for k, v in out.doc_splits.items()}
        out.labels = {k: {d: v for d, v in lab.items() if d not in gone} for k, lab in out.labels.items()}
        out.metadata.update(textless_patents_dropped=len(gone), textless_links_dropped=n_links - len(out.links))
        return out

    # ------------------------------------------------------------------ views
    def with_views(self, item_view: str | Sequence[str] | None = None,
                   patent_view: str | Sequence[str] | None = None) -> "Dataset":
        """Copy of the dataset whose default views are replaced. Raises ``ValueError`` on unknown fields."""
        return replace(
            self,
            item_view=parse_view(item_view, self.item_fields, self.item_view),
            patent_view=parse_view(patent_view, self.patent_fields, self.patent_view),
        )

    def item_texts(self, ids: Iterable[str] | None = None, view: str | Sequence[str] | None = None) -> dict[str, str]:
        """Item id → text of ``view`` (fields joined by newlines). Empty string where the view is empty."""
        v = parse_view(view, self.item_fields, self.item_view)
        ids = self.items if ids is None else ids
        return {i: _join(self.items[i], v) for i in ids}

    def patent_texts(self, ids: Iterable[str] | None = None, view: str | Sequence[str] | None = None) -> dict[str, str]:
        """Patent id → text of ``view`` (fields joined by newlines). Empty string where the view is empty."""
        v = parse_view(view, self.patent_fields, self.patent_view)
        ids = self.patents if ids is None else ids
        return {p: _join(self.patents[p], v) for p in ids}

    def missing_text(self) -> dict[str, int]:
        """Counts of documents whose current view is empty: ``{"items": n, "patents": m}``."""
        return {
            "items": sum(1 for t in self.item_texts().values() if not t),
            "patents": sum(1 for t in self.patent_texts().values() if not t),
        }

    @property
    def has_patent_text(self) -> bool:
        """True when at least one patent has a non-empty text in the current view."""
        return any(self.patent_texts().values())

    # ------------------------------------------------------------------ links
    def qrels(self, links: Iterable[tuple[str, str]] | None = None,
              direction: Direction = "item2patent") -> dict[str, dict[str, int]]:
        """TREC/ranx qrels from links: query id → {relevant doc id: 1}.

        ``item2patent``: queries are items, documents patents; ``patent2item`` the reverse.
        """
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for i, p in self.links if links is None else links:
            if direction == "item2patent":
                out[i][p] = 1
            else:
                out[p][i] = 1
        return dict(out)

    def summary(self) -> dict:
        """Small JSON-able description used by ``patlink data stats``."""
        return {
            "name": self.name,
            "item_kind": self.item_kind,
            "items": len(self.items),
            "patents": len(self.patents),
            "edges": len(self.links),
            "negative_links": len(self.negative_links),
            "item_fields": list(self.item_fields),
            "patent_fields": list(self.patent_fields),
            "item_view": list(self.item_view),
            "patent_view": list(self.patent_view),
            "missing_text": self.missing_text(),
            "patents_with_text": self.patents_with_text(),
            "labels": {k: len(v) for k, v in self.labels.items()},
            "doc_splits": {k: len(v) for k, v in self.doc_splits.items()},
            "link_splits": {k: len(v) for k, v in self.link_splits.items()},
        }
