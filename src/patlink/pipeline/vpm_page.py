"""Stage ``vpm``: a Virtual Patent Marking page (HTML, PDF, TSV/CSV or text) → (product, patent) pairs (§2).

VPM pages list products with the patents that mark them in three shapes, all handled:

* **tables**: a header naming a product and a patent column (any other table: the first cell without a
  patent number is the product, numbers are read from the other cells);
* **lists** and **paragraphs**: ``"Product: US 7,123,456; 8,234,567 B2; D654,321"`` — the product is the text
  before the first patent number, with trailing separators and words such as "U.S. Pat. Nos." removed;
* **headings followed by numbers**: ``<h3>Product</h3><p>US 7,123,456</p>`` (also PDF lines).

Patent numbers are found and normalised by :mod:`patlink.data.numbers` (the normaliser shared with hydration):
design patents (``D654,321`` → ``USD654321``) and published applications (``US 2013/0210636 A1`` →
``US20130210636``) are recognised. Numbers with fewer than ``min_digits`` digits and no document prefix
(``1,000 hours``) are rejected and reported. Raw TSV/CSV tables go through :func:`patlink.data.vpm.parse_vpm_table`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from patlink.data.numbers import PUBLICATION_NUMBER_PATTERN, PublicationNumber, find_publication_numbers
from patlink.data.vpm import normalize_product_name, parse_vpm_table

__all__ = ["VPMPage", "parse_vpm_html", "parse_vpm_text", "parse_vpm_bytes", "parse_vpm_line", "load_vpm_source"]

# Trailing "U.S. Pat. Nos.", "Patents:", "protected by", separators ... after a product name.
_TRAILER = re.compile(
    r"""(?:[\s:;,|=\-\u2013\u2014>(\[]+
        |\b(?:(?:is|are)\s+)?(?:protected|covered)\s+by\b
        |\b(?:u\.?\s?s\.?|us)\s*(?=pat)
        |\bpat(?:ent)?s?\.?(?:\s*(?:nos?|numbers?)\.?)?(?:\s*pending)?
        |\b(?:and|or)\b)+$""",
    re.IGNORECASE | re.VERBOSE,
)
_LEADER = re.compile(r"^[\s\u2022\u25cf\-*\u2013\u2014>:|]+")
_HEADER_WORDS = re.compile(r"^(products?|product names?|patents?|associated patents?.*)$", re.IGNORECASE)


@dataclass
class VPMPage:
    """Result of parsing one VPM source.

    Attributes:
        links: ``(product, canonical patent number, evidence)`` triples, unique per (product, patent), in page
            order; ``evidence`` is the text line they came from (truncated to 300 characters).
        products: product names in first-seen order.
        anomalies: ``(where, kind, detail)`` for everything skipped or repaired (``where`` is a line number or a
            ``table N row M`` location).
    """

    links: list[tuple[str, str, str]] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    anomalies: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, product: str, numbers: list[PublicationNumber], evidence: str) -> None:
        have = {(p, n) for p, n, _ in self.links}
        if product not in self.products:
            self.products.append(product)
        for num in numbers:
            if (product, num.canonical) not in have:
                have.add((product, num.canonical))
                self.links.append((product, num.canonical, evidence[:300]))

    @property
    def patents(self) -> list[str]:
        return sorted({n for _, n, _ in self.links})


def clean_product_name(text: str) -> str:
    """Product label with leading bullets and trailing separators / "U.S. Pat. Nos." words removed."""
    name = normalize_product_name(text)
    name = _LEADER.sub("", name)
    prev = None
    while prev != name:
        prev = name
        name = _TRAILER.sub("", name).strip()
    return name


def _accept(num: PublicationNumber, min_digits: int) -> bool:
    return bool(num.prefix) or num.is_application or len(num.number) >= min_digits


def parse_vpm_line(text: str, *, min_digits: int = 6) -> tuple[str, list[PublicationNumber], list[str]]:
    """Split one text line into ``(product label, accepted numbers, rejected tokens)``.

    The label is the text before the first number :func:`find_publication_numbers` accepts, cleaned by
    :func:`clean_product_name`; ``""`` if the line starts with a number.
    """
    s = text.replace("\xa0", " ")
    found = find_publication_numbers(s, min_digits=1)  # see all candidates; _accept rejects and reports
    good = [n for n in found if _accept(n, min_digits)]
    bad = [n.canonical for n in found if not _accept(n, min_digits)]
    if not good:
        return clean_product_name(s), [], bad
    first = good[0]
    start = len(s)
    upper = s.upper()
    for m in PUBLICATION_NUMBER_PATTERN.finditer(upper):
        digits = re.sub(r"\D", "", m.group("num")).lstrip("0")
        if digits and (digits == first.number.lstrip("0") or first.number.endswith(digits)):
            start = m.start()
            break
    return clean_product_name(s[:start]), good, bad


class _Builder:
    def __init__(self, min_digits: int):
        self.page = VPMPage()
        self.min_digits = min_digits
        self.context = ""  # last heading / number-less line: product of number-only lines below it

    def line(self, text: str, where: str) -> None:
        text = " ".join(text.replace("\xa0", " ").split())
        if not text:
            return
        label, nums, bad = parse_vpm_line(text, min_digits=self.min_digits)
        for b in bad:
            self.page.anomalies.append((where, "short_number", f"{b} in {text[:120]!r}"))
        if not nums:
            if label and not _HEADER_WORDS.match(label) and len(label) <= 120:
                self.context = label
            return
        product = label or self.context
        if not product:
            self.page.anomalies.append((where, "no_product", text[:120]))
            return
        self.page.add(product, nums, text)


def parse_vpm_text(text: str, *, min_digits: int = 6) -> VPMPage:
    """Parse plain text (one product per line, or a product line followed by number-only lines)."""
    b = _Builder(min_digits)
    for i, line in enumerate(text.splitlines(), 1):
        b.line(line, f"line {i}")
    return b.page


_BLOCKS = {"h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "li", "p", "pre", "div", "section", "article", "main",
           "body", "td", "th", "blockquote", "ul", "ol", "dl"}


def _own_text(el) -> str:
    """Text of ``el`` without the text of nested block elements (they are read on their own)."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _BLOCKS:
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return "".join(parts)


def _cell_text(el) -> str:
    return " ".join(el.text_content().replace("\xa0", " ").split())


def parse_vpm_html(html: str | bytes, *, min_digits: int = 6) -> VPMPage:
    """Parse an HTML VPM page: tables, list items, paragraphs and heading + numbers blocks (see module doc).

    Raises:
        ValueError: if the document cannot be parsed as HTML at all.
    """
    import lxml.html

    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError) as e:
        raise ValueError(f"not an HTML document: {e}") from e
    for bad in root.xpath("//script|//style|//noscript|//nav|//footer"):
        bad.drop_tree()
    for br in root.xpath("//br"):
        br.tail = "\n" + (br.tail or "")
    b = _Builder(min_digits)

    # Tables first, then removed from the tree so their text is not read twice.
    for t_i, table in enumerate(root.xpath("//table"), 1):
        rows = [[_cell_text(c) for c in tr.xpath("./th|./td")] for tr in table.xpath(".//tr")]
        i_prod = i_pat = None
        start = 0
        if rows:
            low = [c.lower() for c in rows[0]]
            i_prod = next((i for i, c in enumerate(low) if "product" in c or "model" in c), None)
            i_pat = next((i for i, c in enumerate(low) if "patent" in c), None)
            if i_prod is not None and i_pat is not None:
                start = 1
            else:
                i_prod = i_pat = None
        for r_i, cells in enumerate(rows[start:], start + 1):
            where = f"table {t_i} row {r_i}"
            if not cells or not any(cells):
                continue
            if i_prod is not None and i_pat is not None:
                if max(i_prod, i_pat) >= len(cells):
                    b.page.anomalies.append((where, "bad_column_count", " | ".join(cells)[:120]))
                    continue
                product = clean_product_name(cells[i_prod])
                _, nums, bad = parse_vpm_line(cells[i_pat], min_digits=min_digits)
            else:
                product, nums, bad = "", [], []
                for c in cells:
                    lab, ns, bd = parse_vpm_line(c, min_digits=min_digits)
                    bad += bd
                    if ns:
                        nums += ns
                        if lab and not product:
                            product = lab
                    elif c and not product:
                        product = clean_product_name(c)
            for x in bad:
                b.page.anomalies.append((where, "short_number", x))
            if not nums:
                b.page.anomalies.append((where, "no_patent_number", " | ".join(cells)[:120]))
            elif not product:
                b.page.anomalies.append((where, "no_product", " | ".join(cells)[:120]))
            else:
                b.page.add(product, nums, " | ".join(cells))
        table.drop_tree()

    for n, el in enumerate((e for e in root.iter() if isinstance(e.tag, str) and e.tag in _BLOCKS), 1):
        for k, line in enumerate(_own_text(el).splitlines(), 1):
            b.line(line, f"block {n} line {k}")
    return b.page


def parse_vpm_bytes(body: bytes, *, content_type: str = "", name: str = "", min_digits: int = 6) -> VPMPage:
    """Parse a VPM source given as bytes: PDF, HTML, TSV/CSV (via ``parse_vpm_table``) or plain text."""
    from patlink.pipeline.extract import extract_pdf, sniff_kind

    kind = sniff_kind(body, content_type, name)
    if kind == "pdf":
        return parse_vpm_text(extract_pdf(body), min_digits=min_digits)
    if kind == "html":
        return parse_vpm_html(body, min_digits=min_digits)
    text = body.decode("utf-8", errors="replace")
    low = name.lower()
    first = text.split("\n", 1)[0].lower()
    delim = "\t" if ("\t" in first or low.endswith(".tsv")) else ("," if low.endswith(".csv") else None)
    if delim and "product" in first and "patent" in first:
        table = parse_vpm_table(text, delimiter=delim)
        page = VPMPage()
        for prod in table.products:
            page.products.append(prod)
        page.links = [(p, n, "table") for p, n in table.links]
        page.anomalies = [(f"line {a.line}", a.kind, a.detail) for a in table.anomalies]
        return page
    return parse_vpm_text(text, min_digits=min_digits)


def load_vpm_source(source: str, fetcher=None) -> tuple[bytes, str]:
    """Read a VPM source: an http(s) URL (fetched with ``fetcher``, a :class:`~patlink.pipeline.fetch.Fetcher`)
    or a local file. Returns ``(body, content_type)``.

    Raises:
        FileNotFoundError: for a missing local file.
        patlink.pipeline.fetch.FetchError: when the URL cannot be fetched.
    """
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source):
        from patlink.pipeline.fetch import Fetcher

        own = fetcher is None
        fetcher = fetcher or Fetcher()
        try:
            res = fetcher.fetch(source)
        finally:
            if own:
                fetcher.close()
        return res.body, res.content_type
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"VPM source not found: {source}")
    return path.read_bytes(), ""
