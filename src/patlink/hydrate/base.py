"""The interface every hydration source implements, and number helpers shared by the sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patlink.data.numbers import parse_publication_number
from patlink.hydrate.records import PatentRecord

__all__ = ["NOT_FOUND", "US_APPLICATION_KINDS", "US_GRANT_KINDS", "BatchResult", "Source", "is_us_utility_grant",
           "iso_date", "office_id", "us_kind_rank"]

#: Error recorded for a number the source answered for but does not hold.
NOT_FOUND = "not found in source"

BatchResult = tuple[dict[str, PatentRecord], dict[str, str]]


class Source(Protocol):
    """A hydration source. ``fetch`` gets canonical numbers (``US7852519``) and returns
    ``(records by number, errors by number)``; every input number appears in exactly one of the two.
    A source-wide problem (bad credentials, no network) may raise instead; the runner records it for the batch."""

    name: str

    def fetch(self, numbers: Sequence[str]) -> BatchResult: ...

    def close(self) -> None: ...


def office_id(canonical: str) -> str:
    """USPTO/PatentsView patent id of a canonical US number: ``US7852519`` → ``7852519``, ``USD654321`` →
    ``D654321``, ``USRE45678`` → ``RE45678``. Raises ``ValueError`` for non-US numbers."""
    p = parse_publication_number(canonical)
    if p.country != "US":
        raise ValueError(f"not a US publication: {canonical}")
    return f"{p.prefix}{p.number}"


def iso_date(value: object) -> str:
    """``20100104`` / ``2010-01-04`` / date / int 20100104 → ``"2010-01-04"``; 0/None/"" → ``""``."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    s = str(value).strip()
    if s in {"", "0"}:
        return ""
    digits = s.replace("-", "").replace("/", "")
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return s


#: Kind codes of US *granted* patents (USPTO "Kind codes included in USPTO patent documents", WIPO ST.16 as
#: DOCDB/BigQuery spell them): ``A`` utility grant before 2001-01-02, ``B1``/``B2`` utility grant from 2001-01-02
#: (before that date ``B1``..``B9`` were reexamination certificates), ``E``/``E1`` reissue (own ``RE`` number),
#: ``S``/``S1`` design, ``P`` (before 2001), ``P2``, ``P3`` plant, ``H``/``H1`` statutory invention registration.
US_GRANT_KINDS = ("A", "B1", "B2", "E", "E1", "S", "S1", "P", "P2", "P3", "H", "H1")
#: Kind codes of US published *applications* (from 2001): ``A1`` first publication, ``A2`` republication, ``A9``
#: corrected publication, ``P1``/``P4``/``P9`` the same for plant applications.
US_APPLICATION_KINDS = ("A1", "A2", "A9", "P1", "P4", "P9")
#: Kinds that were reexamination certificates when published before 2001-01-02 (and grants from that date).
US_B_REEXAM_BEFORE_2001 = ("B1", "B2")
#: First publication date of the 2001 kind codes, as ``YYYYMMDD``.
US_KIND_CODES_FROM = 20010102


def _yyyymmdd(value: object) -> int:
    """``20010102`` / ``"2001-01-02"`` / date → ``20010102``; unknown → ``0``."""
    digits = iso_date(value).replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def us_kind_rank(kind: str | None, publication_date: object = None) -> int:
    """How much a US publication is "the patent": ``0`` a grant (:data:`US_GRANT_KINDS`), ``1`` a published
    application (:data:`US_APPLICATION_KINDS`), ``2`` anything else — reexamination certificates (``C1``..``C9``,
    ``B1``..``B9`` before 2001-01-02), reexaminations of reissues (``F1``..), ``I`` kinds, unknown codes.

    ``publication_date`` (``YYYYMMDD`` int, ISO string or date; unknown: ``None``/``0``) tells a pre-2001 ``B1``/``B2``
    reexamination certificate from a later grant; with an unknown date ``B1``/``B2`` count as grants. The same
    ranking is the SQL of :func:`patlink.hydrate.bigquery.kind_rank_sql`.
    """
    k = (kind or "").strip().upper()
    date = _yyyymmdd(publication_date)
    if k in US_B_REEXAM_BEFORE_2001 and 0 < date < US_KIND_CODES_FROM:
        return 2
    if k in US_GRANT_KINDS:
        return 0
    if k in US_APPLICATION_KINDS:
        return 1
    return 2


def is_us_utility_grant(kind: str | None, publication_date: object = None) -> bool:
    """True for a US utility patent grant: kind ``A`` (granted before 2001-01-02) or ``B1``/``B2`` (from then on;
    before, those kinds were reexamination certificates)."""
    k = (kind or "").strip().upper()
    return k == "A" or (k in US_B_REEXAM_BEFORE_2001 and us_kind_rank(k, publication_date) == 0)
