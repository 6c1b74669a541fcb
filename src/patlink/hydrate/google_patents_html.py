"""Google Patents HTML pages (``https://patents.google.com/patent/US7852519B2/en``), saved or fetched.

The page carries schema.org microdata; we read:

* title — ``<span itemprop="title">`` (fallback ``<meta name="DC.title">``, then ``<title>``);
* abstract — ``<section itemprop="abstract">`` → ``<div class="abstract">`` (fallback: the section's content);
* claims — ``<section itemprop="claims">`` → each top-level ``<div class="claim">`` as one line;
* description — ``<section itemprop="description">`` → headings and ``description-paragraph`` blocks, one a line;
* CPC — every ``<li itemprop="cpcs">`` whose ``<meta itemprop="Leaf" content="true">`` (the full symbols such as
  ``G06K7/10851``); ``FirstCode`` first;
* dates — ``<time itemprop="priorityDate|filingDate|publicationDate" datetime=…>``; grant date from the
  ``itemprop="events"`` entry of type ``granted``;
* family id — ``itemprop="familyId"``; publication number/kind — ``itemprop="publicationNumber"``/``kindCode``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from patlink.data.numbers import normalize_publication_number, parse_publication_number
from patlink.http import HttpClient, HttpError, redact
from patlink.hydrate.base import NOT_FOUND, BatchResult, iso_date
from patlink.hydrate.config import GooglePatentsConfig, HttpConfig
from patlink.hydrate.records import PatentRecord, clean_text, flat_text

__all__ = ["GooglePatentsSource", "index_html_dir", "parse_google_patents_html"]

_PUBNUM_RE = re.compile(r'itemprop="publicationNumber"[^>]*>\s*([^<\s]+)')


def _has_class(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


def _text(el) -> str:
    return flat_text(el)


def _first(tree, xpath: str) -> str:
    for el in tree.xpath(xpath):
        if isinstance(el, str):
            s = " ".join(el.split())
        else:
            s = _text(el) or (el.get("content") or el.get("datetime") or "").strip()
        if s:
            return s
    return ""


def parse_google_patents_html(html: str | bytes, number: str | None = None) -> PatentRecord:
    """Parse one Google Patents page into a :class:`PatentRecord` (``source="google-html"``).

    Args:
        html: the page (text or bytes).
        number: canonical number to key the record by; ``None``: taken from ``itemprop="publicationNumber"``.

    Raises:
        ValueError: when the page is not a patent page (no publication number and none given, or no text at all).
    """
    import lxml.html

    tree = lxml.html.fromstring(html)
    pub = _first(tree, "//*[@itemprop='publicationNumber']")
    if number is None:
        if not pub:
            raise ValueError("not a Google Patents page: no itemprop=publicationNumber")
        number = normalize_publication_number(pub)
    kind = _first(tree, "//meta[@itemprop='kindCode']/@content")
    if not kind and pub:
        try:
            kind = parse_publication_number(pub).kind
        except ValueError:
            kind = ""

    title = _first(tree, "//*[@itemprop='title']") or _first(tree, "//meta[@name='DC.title']/@content")
    if not title:
        t = _first(tree, "//title")
        title = re.sub(r"^\S+\s+-\s+|\s+-\s+Google Patents$", "", t)

    abstract = ""
    for sec in tree.xpath("//section[@itemprop='abstract']"):
        parts = [_text(d) for d in sec.xpath(f".//*[{_has_class('abstract')}]")]
        abstract = "\n".join(p for p in parts if p)
        if not abstract:
            content = sec.xpath(".//*[@itemprop='content']")
            abstract = _text(content[0]) if content else ""
        if abstract:
            break

    claims = ""
    for sec in tree.xpath("//section[@itemprop='claims']"):
        top = sec.xpath(f".//*[{_has_class('claim')}][not(ancestor::*[{_has_class('claim')}])]")
        lines = [_text(c) for c in top]
        claims = "\n".join(line for line in lines if line)
        if not claims:
            content = sec.xpath(".//*[@itemprop='content']")
            claims = clean_text("\n".join(content[0].itertext())) if content else ""
        if claims:
            break

    description = ""
    for sec in tree.xpath("//section[@itemprop='description']"):
        blocks = sec.xpath(f".//heading | .//*[{_has_class('description-paragraph')}] | .//p"
                           f"[not(ancestor::*[{_has_class('description-paragraph')}])]")
        description = "\n".join(t for t in (_text(b) for b in blocks) if t)
        if not description:
            content = sec.xpath(".//*[@itemprop='content']")
            description = clean_text("\n".join(content[0].itertext())) if content else ""
        if description:
            break

    leaf, first = [], []
    for li in tree.xpath("//*[@itemprop='cpcs']"):
        code = li.xpath("./*[@itemprop='Code']")
        if not code:
            continue
        sym = "".join(_text(code[0]).split())
        is_leaf = li.xpath("./meta[@itemprop='Leaf']/@content") == ["true"]
        if is_leaf and sym:
            (first if li.xpath("./meta[@itemprop='FirstCode']/@content") == ["true"] else leaf).append(sym)
    cpc = list(dict.fromkeys(first + leaf))

    def date(prop: str) -> str:
        return iso_date(_first(tree, f"//time[@itemprop='{prop}']/@datetime") or _first(tree, f"//*[@itemprop='{prop}']"))

    grant = ""
    for ev in tree.xpath("//*[@itemprop='events']"):
        if _first(ev, ".//*[@itemprop='type']").lower() == "granted":
            grant = iso_date(_first(ev, ".//time[@itemprop='date']/@datetime") or _first(ev, ".//*[@itemprop='date']"))
            break

    rec = PatentRecord(
        number=number,
        title=clean_text(title),
        abstract=clean_text(abstract),
        claims=claims,
        description=description,
        cpc=cpc,
        publication_date=date("publicationDate"),
        filing_date=date("filingDate"),
        priority_date=date("priorityDate"),
        grant_date=grant,
        family_id=_first(tree, "//*[@itemprop='familyId']"),
        kind=kind,
        publication_number=pub,
        source="google-html",
    )
    if not rec.has_text():
        raise ValueError(f"page for {number} has no title, abstract, claims or description")
    return rec


def index_html_dir(html_dir: str | Path) -> dict[str, Path]:
    """Canonical number → saved page, for ``*.html``/``*.htm`` files named after the publication
    (``US7852519B2.html``, ``US-7852519-B2.htm``, ``7852519.html``) or, failing that, holding an
    ``itemprop="publicationNumber"``. Raises ``FileNotFoundError`` if the folder does not exist."""
    root = Path(html_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--html-dir {root} is not a folder")
    out: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in {".html", ".htm"} and p.is_file()):
        stem = re.sub(r"[_-](en|de|fr|ja|zh)$", "", path.stem, flags=re.IGNORECASE)
        try:
            number = normalize_publication_number(stem)
        except ValueError:
            m = _PUBNUM_RE.search(path.read_text(encoding="utf-8", errors="replace")[:400_000])
            if not m:
                continue
            try:
                number = normalize_publication_number(m.group(1))
            except ValueError:
                continue
        out.setdefault(number, path)
    return out


class GooglePatentsSource:
    """Hydrate from Google Patents pages: saved in ``config.html_dir``, else fetched from ``config.base_url``.

    Args:
        config: folder of saved pages or site root, politeness interval.
        http: timeouts/retries for fetching.
        client: an :class:`HttpClient` (tests).
    """

    name = "google-html"

    def __init__(self, config: GooglePatentsConfig | None = None, http: HttpConfig | None = None,
                 client: HttpClient | None = None) -> None:
        self.config = config or GooglePatentsConfig()
        self._index = index_html_dir(self.config.html_dir) if self.config.html_dir is not None else None
        self._http_cfg = http or HttpConfig()
        self._client = client

    @property
    def http(self) -> HttpClient:
        if self._client is None:
            cfg = HttpConfig(**{**self._http_cfg.__dict__,
                                "min_interval_s": max(self._http_cfg.min_interval_s, self.config.min_interval_s)})
            self._client = HttpClient(cfg, headers={"Accept": "text/html", "Accept-Language": "en"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def url(self, number: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/patent/{number}/en"

    def fetch(self, numbers: Sequence[str]) -> BatchResult:
        records: dict[str, PatentRecord] = {}
        errors: dict[str, str] = {}
        for n in numbers:
            try:
                if self._index is not None:
                    path = self._index.get(n)
                    if path is None:
                        errors[n] = f"{NOT_FOUND} (no saved page in {self.config.html_dir})"
                        continue
                    html = path.read_bytes()
                else:
                    html = self.http.get(self.url(n)).content
                records[n] = parse_google_patents_html(html, number=n)
            except HttpError as e:
                errors[n] = NOT_FOUND if e.status == 404 else str(e)
            except (ValueError, OSError) as e:
                errors[n] = redact(f"{type(e).__name__}: {e}")
        return records, errors
