"""Patent publication-number normalisation, shared by VPM parsing, hydration and the pipeline.

Every source spells the same publication differently: ``US7852519``, ``7,852,519``, ``US 7852519 B2``,
``US-7852519-B2``, ``7852519B2``; design patents ``D123,456`` / ``USD0123456S``; published applications
``US 2013/0210636 A1`` / ``US20130210636``. patlink keys every patent by one canonical form:

* utility grant: ``US7852519`` (country code, digits without separators or leading zeros)
* design grant: ``USD123456``; plant: ``USPP12345``; reissue: ``USRE12345``
* published application: ``US20130210636`` (year + 7-digit serial)

The kind code (``B1``, ``B2``, ``A1``, ``S`` ...) is not part of the key: one grant number has one family
member per kind at most and VPM pages cite numbers without it. :func:`parse_publication_number` keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PublicationNumber",
    "parse_publication_number",
    "normalize_publication_number",
    "find_publication_numbers",
    "PUBLICATION_NUMBER_PATTERN",
]

# One token of a patent number as written in prose, tables and URLs. Groups:
# cc (country), pre (D/PP/RE/H/T design, plant, reissue ... prefix), num (digits with , . / separators), kind.
PUBLICATION_NUMBER_PATTERN = re.compile(
    r"""
    (?<![\w/])                                   # not inside a longer token
    (?:(?P<cc>US|EP|WO|CN|JP|KR|DE|GB|FR|CA|AU)[\s\-]?)?   # optional country code
    (?P<pre>D|PP|RE|RX|H|T|AI)?\s?              # optional US type prefix
    (?P<num>\d{1,4}(?:[,.]\d{3}){1,3}|\d{4}/\d{6,7}|\d{5,11}   # 7,852,519 | 2013/0210636 | 7852519
        |(?(pre)\d{4}|(?!)))                    # after a prefix, 4 digits too: H2222, D1234, RE1234
    (?:[\s\-]?(?P<kind>[ABCEPSH][0-9]?))?       # optional kind code
    (?![\w])
    """,
    re.VERBOSE,
)

_PREFIXES = {"D", "PP", "RE", "RX", "H", "T", "AI"}


@dataclass(frozen=True)
class PublicationNumber:
    """A parsed publication number.

    Attributes:
        country: two-letter office code, ``"US"`` when the input had none.
        prefix: US document-type prefix (``"D"`` design, ``"PP"`` plant, ``"RE"`` reissue, ...) or ``""``.
        number: digits only, no leading zeros (applications keep their 11 digits ``YYYYNNNNNNN``).
        kind: kind code (``"B2"``, ``"A1"``, ``"S"`` ...) or ``""`` when absent.
    """

    country: str
    prefix: str
    number: str
    kind: str = ""

    @property
    def is_application(self) -> bool:
        """True for a published application (``US2013…``, 11 digits starting with a year)."""
        return not self.prefix and len(self.number) == 11 and self.number[:2] in {"19", "20"}

    @property
    def is_design(self) -> bool:
        return self.prefix == "D" or self.kind.startswith("S")

    @property
    def canonical(self) -> str:
        """Canonical key, e.g. ``US7852519``, ``USD123456``, ``US20130210636``."""
        return f"{self.country}{self.prefix}{self.number}"

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.canonical


def _clean_digits(raw: str) -> str:
    digits = re.sub(r"[,./\s]", "", raw)
    if "/" in raw:  # application written as 2013/0210636 -> 20130210636
        year, serial = raw.split("/", 1)
        digits = year + serial.zfill(7)
    return digits


def parse_publication_number(text: str, default_country: str = "US") -> PublicationNumber:
    """Parse one publication number written in any common style.

    Args:
        text: e.g. ``"US7852519"``, ``"7,852,519"``, ``"US 7852519 B2"``, ``"US-7852519-B2"``, ``"D123,456"``,
            ``"US 2013/0210636 A1"``. Surrounding whitespace (including non-breaking spaces) is ignored.
        default_country: country assumed when the text has no office code.

    Returns:
        The parsed :class:`PublicationNumber`.

    Raises:
        ValueError: if ``text`` is not exactly one publication number.
    """
    s = text.replace("\xa0", " ").strip().upper()
    m = PUBLICATION_NUMBER_PATTERN.fullmatch(s)
    if m is None:
        raise ValueError(f"not a patent publication number: {text!r}")
    raw = m.group("num")
    digits = _clean_digits(raw)
    prefix = (m.group("pre") or "").upper()
    if len(digits) == 10 and digits[:2] in {"19", "20"} and not prefix:
        digits = digits[:4] + digits[4:].zfill(7)  # US2013210636 (6-digit serial) -> US20130210636
    is_app = len(digits) == 11 and digits[:2] in {"19", "20"}
    if not is_app:
        digits = digits.lstrip("0") or "0"
    if prefix and prefix not in _PREFIXES:  # pragma: no cover - regex restricts it
        raise ValueError(f"unknown document prefix in {text!r}")
    return PublicationNumber(
        country=(m.group("cc") or default_country).upper(),
        prefix=prefix,
        number=digits,
        kind=(m.group("kind") or "").upper(),
    )


def normalize_publication_number(text: str, default_country: str = "US") -> str:
    """Return the canonical key of ``text`` (see module docstring). Raises ``ValueError`` if unparseable."""
    return parse_publication_number(text, default_country).canonical


def find_publication_numbers(text: str, default_country: str = "US", min_digits: int = 6) -> list[PublicationNumber]:
    """Find every publication number in free text (VPM paragraphs, table cells, URLs).

    A VPM line such as ``"Product X: US 7,123,456; 8,234,567 B2; D654,321"`` yields three numbers. Bare digit
    runs shorter than ``min_digits`` (model numbers, years) are ignored; separated forms (``7,123,456``) and
    prefixed forms (``D654,321``) are accepted, prefixed forms with fewer than 5 digits only after a country code
    (``US D1234``; a bare ``H2222`` or ``D1000`` in prose is a model name more often than a patent). Such short
    numbers are always parsed by :func:`parse_publication_number` (``USH2222``, the canonical form of a statutory
    invention registration, parses back to itself).

    Returns:
        The numbers in order of appearance, duplicates kept (callers decide how to merge).
    """
    out: list[PublicationNumber] = []
    for m in PUBLICATION_NUMBER_PATTERN.finditer(text.replace("\xa0", " ").upper()):
        raw = m.group("num")
        n_digits = len(re.sub(r"\D", "", raw))
        # "1,000 hours" or "2.500 bar" are not patents: grouped and bare digit runs alike need min_digits
        # unless a country code or a document prefix (D, PP, RE ...) says it is a patent number.
        if not m.group("pre") and not m.group("cc") and n_digits < min_digits:
            continue
        if m.group("pre") and n_digits < 5 and not m.group("cc"):
            continue   # "H2222", "D1000", "T6000" in prose are model names far more often than old H/D patents
        try:
            out.append(parse_publication_number(m.group(0), default_country))
        except ValueError:  # pragma: no cover - finditer matched the same pattern
            continue
    return out
