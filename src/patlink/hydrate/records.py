"""The record every hydration source produces: one patent publication's texts and bibliographic fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from html.entities import html5

__all__ = ["STRING_FIELDS", "TEXT_FIELDS", "PatentRecord", "clean_text", "entity_text", "flat_text"]

#: The text fields a :class:`patlink.data.Dataset` patent may have (El Bouari & de Rassenfosse, "Product-Patent
#: linkage prediction", §2.1).
TEXT_FIELDS = ("title", "abstract", "claims", "description")
#: Every string field returned by :meth:`patlink.hydrate.store.HydrationStore.texts_for` when non-empty.
STRING_FIELDS = TEXT_FIELDS + (
    "cpc", "publication_date", "filing_date", "priority_date", "grant_date", "family_id", "kind",
    "publication_number", "citations", "source",
)


def clean_text(text: str | None) -> str:
    """Collapse runs of spaces/tabs, trim each line, drop empty lines. ``None`` → ``""``."""
    if not text:
        return ""
    lines = (" ".join(line.split()) for line in str(text).replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


@dataclass
class PatentRecord:
    """Texts and bibliographic fields of one publication.

    Attributes:
        number: canonical publication number (:func:`patlink.data.numbers.normalize_publication_number`),
            e.g. ``US7852519``; the store's key.
        title / abstract / claims / description: plain text (claims one per line, ``""`` when unknown).
        cpc: CPC symbols, e.g. ``["G06F3/0488", "H04L67/02"]`` (no spaces), first = main when the source says.
        publication_date / filing_date / priority_date / grant_date: ISO ``YYYY-MM-DD`` or ``""``.
        family_id: DOCDB family id (Google sources) or ``""``.
        kind: kind code of the publication the texts came from (``B2``, ``B1``, ``S`` ...).
        publication_number: the publication as the source spelled it (``US-7852519-B2``).
        citations: canonical numbers of cited US patents (bulk ``g_us_patent_citation``), may be empty.
        source: source name (``bigquery``, ``patentsview``, ``google-html``, ``bulk-patentsview``, ``bulk-uspto-xml``).
    """

    number: str
    title: str = ""
    abstract: str = ""
    claims: str = ""
    description: str = ""
    cpc: list[str] = field(default_factory=list)
    publication_date: str = ""
    filing_date: str = ""
    priority_date: str = ""
    grant_date: str = ""
    family_id: str = ""
    kind: str = ""
    publication_number: str = ""
    citations: list[str] = field(default_factory=list)
    source: str = ""

    def has_text(self) -> bool:
        """True when at least one of title/abstract/claims/description is non-empty."""
        return any(getattr(self, f).strip() for f in TEXT_FIELDS)

    def to_dict(self) -> dict:
        return asdict(self)


_BLOCK_TAGS = frozenset({"div", "p", "li", "br", "heading", "claim-text", "claim", "section", "ul", "ol", "tr",
                         "td", "th", "table", "h1", "h2", "h3", "h4", "dd", "dt", "abstract", "description"})


def entity_text(reference: str) -> str:
    """The character(s) of a named entity reference left unexpanded by the parser (``"&lsquo;"`` → ``"\u2018"``):
    the HTML5 named references (:data:`html.entities.html5`), which hold the ISO 8879 entity sets that the USPTO
    DTDs declare (ISOnum, ISOpub, ISOlat1/2, ISOtech, ISOgrk3, ISOamsa …). A name outside them is kept as written."""
    name = reference[1:-1] if reference.startswith("&") and reference.endswith(";") else reference
    return html5.get(name + ";", reference)


def flat_text(el, blocks: frozenset[str] = _BLOCK_TAGS) -> str:
    """Text of an lxml element on one line: inline markup (``<b>``, ``<sub>``, ``<claim-ref>``) joins without
    spaces (``H<sub>2</sub>O`` → ``H2O``), block elements (``div``, ``p``, ``claim-text`` …) are separated by a space;
    whitespace runs collapse to one space.

    Processing instructions (USPTO's ``<?in-line-formulae …?>``, ``<?BRFSUM …?>``) and comments give no text (their
    tails do). A named entity reference the parser left in the tree (USPTO XML parsed without its DTD, as
    :mod:`patlink.hydrate.bulk` does: ``&lsquo;``, ``&deg;``) becomes its character (:func:`entity_text`); numeric
    references (``&#x2018;``, what USPTO documents mostly use) are resolved by the parser itself."""
    from lxml import etree

    parts: list[str] = []

    def walk(node) -> None:
        if node.tag is etree.Entity:
            parts.append(entity_text(node.text or ""))
            return
        if node.tag is etree.PI or node.tag is etree.Comment:
            return
        tag = node.tag if isinstance(node.tag, str) else ""
        block = tag.lower() in blocks
        if block:
            parts.append(" ")
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append(" ")

    walk(el)
    return " ".join("".join(parts).split())
