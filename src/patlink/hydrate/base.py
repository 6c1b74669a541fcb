"""The interface every hydration source implements, and number helpers shared by the sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patlink.data.numbers import parse_publication_number
from patlink.hydrate.records import PatentRecord

__all__ = ["NOT_FOUND", "BatchResult", "Source", "iso_date", "office_id"]

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
