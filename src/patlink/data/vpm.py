"""Parse a raw Virtual Patent Marking (VPM) table into product → patent links, reporting every anomaly.

Source format (El Bouari & de Rassenfosse, *Product-Patent linkage prediction*, §2; Honeywell's VPM page):
one row per product, columns ``Product Name``, ``Associated Patent(s)`` and optionally ``Table Number``. The patent
cell is *meant* to be ``;``-separated US
grant numbers, but real pages contain numbers separated by spaces, colons and non-breaking spaces
(``7327247: 11232703``, ``9341718\\xa0 8664951``), repeated numbers and repeated product rows. The parser
splits on all of these, normalises each number (:mod:`patlink.data.numbers`), merges duplicates, and records an
:class:`Anomaly` (with its 1-based line number in the file, header = line 1) for everything it had to repair or
could not use. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from patlink.data.numbers import normalize_publication_number

__all__ = ["Anomaly", "VPMTable", "parse_vpm_table", "normalize_product_name"]

_SEPARATORS = re.compile(r"[;\s:\xa0,]+")


def normalize_product_name(name: str) -> str:
    """Product key used everywhere: non-breaking spaces → spaces, whitespace runs collapsed, stripped."""
    return " ".join(name.replace("\xa0", " ").split())


@dataclass(frozen=True)
class Anomaly:
    """One repaired or rejected irregularity of the raw table.

    Attributes:
        line: 1-based line number in the source file where the row starts (the header is line 1).
        kind: one of ``nbsp_separator``, ``colon_separator``, ``space_separator``, ``duplicate_number_in_row``,
            ``duplicate_product_row`` (merged), ``invalid_number`` (token rejected), ``short_number`` (accepted,
            fewer than 7 digits), ``empty_patent_cell`` (blank, or separators only), ``empty_product_name``, ``bad_column_count``,
            ``whitespace_in_name`` (stripped).
        product: product name as written (may be empty).
        detail: human-readable detail (the offending text).
    """

    line: int
    kind: str
    product: str
    detail: str


@dataclass
class VPMTable:
    """Result of :func:`parse_vpm_table`.

    Attributes:
        links: sorted unique ``(product_name, canonical_patent_number)`` pairs.
        products: product names in first-seen order (unique).
        tables: product name → sorted list of the VPM ``Table Number`` values it appeared in.
        anomalies: every anomaly, in file order.
        n_rows: data rows read (header excluded).
    """

    links: list[tuple[str, str]]
    products: list[str]
    tables: dict[str, list[str]]
    anomalies: list[Anomaly] = field(default_factory=list)
    n_rows: int = 0

    @property
    def patents(self) -> list[str]:
        return sorted({p for _, p in self.links})

    def anomaly_counts(self) -> dict[str, int]:
        return dict(Counter(a.kind for a in self.anomalies))


def _rows(reader) -> Iterator[tuple[int, list[str]]]:
    """``(line where the row starts, fields)`` of a csv reader; an unreadable row (an unclosed quote that runs past
    the csv module's field limit) is a ``ValueError`` naming that line."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(f"line {start}: unreadable VPM row ({e}); check the quotes on this line (a field that "
                             "opens a quote runs until the next one)") from None
        yield start, row


def parse_vpm_table(text: str, *, delimiter: str = "\t", min_digits: int = 7) -> VPMTable:
    """Parse the text of a raw VPM table (TSV by default).

    Args:
        text: whole file content, header first (``Product Name``, ``Associated Patent(s)``[, ``Table Number``]).
        delimiter: column separator.
        min_digits: US utility grants since 1998 have 7–8 digits; shorter all-digit tokens are kept but reported
            as ``short_number`` (they may be truncated numbers).

    Returns:
        A :class:`VPMTable`.

    Raises:
        ValueError: one line: the table is empty; the header lacks a product or a patent column (a column that
            says both, e.g. ``Patented Product``, is the product column when another column says ``patent``); or
            ``line N: unreadable VPM row ...`` for a row the csv module cannot read (an unclosed quote running
            past its field-size limit). The caller adds the file name.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = _rows(reader)
    try:
        header = [h.strip() for h in next(rows)[1]]
    except StopIteration:
        raise ValueError("empty VPM table") from None
    lower = [h.lower() for h in header]
    # "Patented Product" names the product column: the patent column is one that does not also say "product"
    prod_cols = [i for i, h in enumerate(lower) if "product" in h]
    pat_cols = [i for i, h in enumerate(lower) if "patent" in h]
    i_pat = next((i for i in pat_cols if i not in prod_cols), pat_cols[0] if pat_cols else None)
    i_prod = next((i for i in prod_cols if i != i_pat), None)
    if i_prod is None or i_pat is None:
        raise ValueError(f"VPM header must name a product and a patent column, got {header}")
    i_tab = next((i for i, h in enumerate(lower) if "table" in h and i not in (i_prod, i_pat)), None)

    anomalies: list[Anomaly] = []
    seen_products: dict[str, int] = {}
    links: set[tuple[str, str]] = set()
    tables: dict[str, set[str]] = {}
    n_rows = 0
    for line, row in rows:
        if not row or all(not c.strip() for c in row):
            continue
        n_rows += 1
        if len(row) != len(header):
            anomalies.append(Anomaly(line, "bad_column_count", row[0] if row else "", f"{len(row)} columns"))
            if len(row) <= max(i_prod, i_pat):
                continue
        raw_name = row[i_prod]
        name = normalize_product_name(raw_name)
        if name != raw_name:
            anomalies.append(Anomaly(line, "whitespace_in_name", raw_name, repr(raw_name)))
        if not name:
            anomalies.append(Anomaly(line, "empty_product_name", "", row[i_pat][:80]))
            continue
        if name in seen_products:
            anomalies.append(
                Anomaly(line, "duplicate_product_row", name, f"first seen on line {seen_products[name]}; merged")
            )
        else:
            seen_products[name] = line
        if i_tab is not None and i_tab < len(row) and row[i_tab].strip():
            tables.setdefault(name, set()).add(row[i_tab].strip())
        cell = row[i_pat]
        tokens = [t for t in _SEPARATORS.split(cell) if t]
        if not tokens:   # blank, or separators only (";", " : ")
            anomalies.append(Anomaly(line, "empty_patent_cell", name, repr(cell[:80]) if cell.strip() else ""))
            continue
        # Separator irregularities: report each kind once per row.
        if "\xa0" in cell:
            anomalies.append(Anomaly(line, "nbsp_separator", name, repr(cell[:120])))
        if ":" in cell:
            anomalies.append(Anomaly(line, "colon_separator", name, repr(cell[:120])))
        for part in cell.replace("\xa0", " ").split(";"):
            if len(part.replace(":", " ").split()) > 1:
                anomalies.append(Anomaly(line, "space_separator", name, repr(part.strip())))
                break
        row_numbers: list[str] = []
        for token in tokens:
            try:
                number = normalize_publication_number(token)
            except ValueError:
                anomalies.append(Anomaly(line, "invalid_number", name, repr(token)))
                continue
            digits = re.sub(r"\D", "", number)
            if len(digits) < min_digits:
                anomalies.append(Anomaly(line, "short_number", name, token))
            if number in row_numbers:
                anomalies.append(Anomaly(line, "duplicate_number_in_row", name, token))
                continue
            row_numbers.append(number)
            links.add((name, number))
    return VPMTable(
        links=sorted(links),
        products=list(seen_products),
        tables={k: sorted(v) for k, v in tables.items()},
        anomalies=anomalies,
        n_rows=n_rows,
    )
