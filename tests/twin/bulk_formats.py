"""Write real patent texts into the bulk formats ``patlink hydrate --source bulk`` reads (an offline twin).

The texts are the bundled ones (``pap2pat``: Knappich et al., "Pap2Pat: Towards Automated Paper-to-Patent
Drafting using Chunk-based Outline-guided Generation", Bosch, MIT licence; a few real grants from
``api-patents`` and ``cpc-claims``); the files are written here, in the layouts of

* USPTO full text, https://bulkdata.uspto.gov: grant red-book XML v4.5 (``ipgYYMMDD.xml``, one file per issue
  Tuesday, ``<us-patent-grant>`` documents concatenated, each with its own ``<?xml?>`` declaration and DOCTYPE)
  and published-application XML v4.4 (``ipaYYMMDD.xml``, one file per publication Thursday,
  ``<us-patent-application>`` documents), optionally inside the ``.zip`` USPTO ships them in;
* PatentsView granted-patent tables (``g_patent``, ``g_patent_abstract``, ``g_application``,
  ``g_claims_YYYY``, ``g_detail_desc_text_YYYY``; tab-separated, header row, ``"``-quoting with doubled quotes,
  optionally gzip), as :mod:`patlink.data.patentsview` documents them; grants only, unless applications are put
  there on purpose (``include_applications``, a deviation).

A patent is a mapping ``{title, abstract, claims, description, filing_date, publication_date, kind, ...}``;
``claims`` is a list of claim texts (or one string, split at the claim numbers by :func:`split_claims`). Every
text goes into the XML through lxml (escaped), into the TSVs through :mod:`csv`.

What hydration should store is :func:`expected_texts` (the normalisation of ``patlink.hydrate.records``:
whitespace runs collapse, lines are trimmed, empty lines dropped; one claim a line). What is and is not faithful
to the real files: ``tests/twin/README.md``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "APPLICATION_DOCTYPE", "GRANT_DOCTYPE", "TEXT_FIELDS", "application_publication_date", "bundled_grants",
    "compare_stored", "expected_texts", "is_application", "pap2pat_patents", "split_claims", "split_pool",
    "write_application_xml", "write_grant_xml", "write_patentsview_tsvs", "write_twin",
]

TEXT_FIELDS = ("title", "abstract", "claims", "description")

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
GRANT_DOCTYPE = '<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v45-2014-04-03.dtd" [ ]>'
APPLICATION_DOCTYPE = '<!DOCTYPE us-patent-application SYSTEM "us-patent-application-v44-2014-04-03.dtd" [ ]>'

#: PatentsView columns, in the order of the published tables.
G_PATENT_COLUMNS = ("patent_id", "patent_type", "patent_date", "patent_title", "wipo_kind", "num_claims",
                    "withdrawn", "filename")
G_PATENT_ABSTRACT_COLUMNS = ("patent_id", "patent_abstract")
G_APPLICATION_COLUMNS = ("application_id", "patent_id", "patent_application_type", "filing_date", "series_code",
                         "rule_47_flag")
G_CLAIMS_COLUMNS = ("patent_id", "claim_sequence", "claim_text", "dependent", "claim_number", "exemplary")
G_DETAIL_DESC_COLUMNS = ("patent_id", "description_text", "description_length")
#: Integer columns: written bare when ``quoting="nonnumeric"`` (every other field quoted).
_NUMERIC_COLUMNS = frozenset({"num_claims", "withdrawn", "claim_sequence", "exemplary", "description_length",
                              "rule_47_flag"})

#: A claim's leading number: ``2.``, ``2-5.``, ``19.-22.`` (the last two: ranges of cancelled claims).
_AFTER_NUMBER = r"\s*(?:\.\s*-\s*\d+\s*\.|-\s*\d+\s*\.|\.)"
_CLAIM_START = re.compile(r"^\s*(\d+)" + _AFTER_NUMBER)
_CLAIM_SPLIT = re.compile(r"\n(?=\s*\d+" + _AFTER_NUMBER + r"\s)")
_CLAIM_REF = re.compile(r"\bclaim (\d+)\b")
_HEADING = re.compile(r"^[^a-z]{2,120}$")


# ----------------------------------------------------------------------------------------------- the data
def _canonical(number: str) -> str:
    from patlink.data.numbers import normalize_publication_number

    return normalize_publication_number(number)


def is_application(number: str) -> bool:
    """True for a published application (``US20130210636``: year + 7-digit serial), False for a grant."""
    from patlink.data.numbers import parse_publication_number

    return parse_publication_number(number).is_application


def split_pool(patents: Mapping[str, Mapping]) -> tuple[dict[str, Mapping], dict[str, Mapping]]:
    """``(grants, applications)`` of ``patents`` by the form of their canonical number."""
    grants, apps = {}, {}
    for number, p in patents.items():
        (apps if is_application(number) else grants)[number] = p
    return grants, apps


def split_claims(text: str) -> list[str]:
    """Claims of one string ``"1. A method …\\n2. The method of claim 1 …"``, split at the lines that start
    with a claim number (``2.``, ``2-5.``, ``1.-38.``); a string without such lines is one claim."""
    parts = [p.strip() for p in _CLAIM_SPLIT.split(text.strip())]
    return [p for p in parts if p]


def application_publication_date(number: str, filing_date: str) -> str:
    """A publication date for application ``number`` (ISO), which the bundled data do not give: the first
    Thursday (US applications are published on Thursdays) on or after the filing date + 18 months, kept inside
    the publication year that the number carries (``US2013…`` → 2013). Not the real date."""
    year = int(_canonical(number)[2:6])
    lo, hi = dt.date(year, 1, 1), dt.date(year, 12, 31)
    target = hi
    if filing_date:
        f = dt.date.fromisoformat(filing_date)
        m = f.month + 18
        y, m = f.year + (m - 1) // 12, (m - 1) % 12 + 1
        target = dt.date(y, m, min(f.day, 28))
    d = min(max(target, lo), hi)
    d += dt.timedelta(days=(3 - d.weekday()) % 7)      # Thursday on or after
    if d > hi:
        d -= dt.timedelta(days=7)
    return d.isoformat()


def pap2pat_patents() -> dict[str, dict]:
    """The bundled pap2pat patents (1,513 published US applications): ``{canonical number: {title, abstract,
    claims (list, one claim each, as bundled), description, filing_date, publication_date, kind, date}}``.

    ``date`` (pap2pat's patent date) is the application-reference date of the USPTO application XML the texts
    came from, i.e. the filing date. ``publication_date`` is :func:`application_publication_date` (derived),
    ``kind`` ``"A1"`` (assumed). The texts are those of ``load_dataset("pap2pat").patents``, whose ``claims``
    is this list joined with newlines.
    """
    from patlink.data.registry import bundled_path

    out: dict[str, dict] = {}
    with gzip.open(bundled_path("pap2pat", "pairs.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)["patent"]
            number = _canonical(p["id"])
            claims = p.get("claims") or []
            date = p.get("date") or ""
            out[number] = {
                "title": p.get("title") or "",
                "abstract": p.get("abstract") or "",
                "claims": list(claims) if isinstance(claims, list) else split_claims(str(claims)),
                "description": p.get("description") or "",
                "date": date,
                "filing_date": date,
                "publication_date": application_publication_date(number, date),
                "kind": "A1",
            }
    return out


def bundled_grants() -> dict[str, dict]:
    """Real US grants with title, abstract and claims among the bundled data: the patents of ``api-patents``
    (title, abstract, an unlabelled date taken as filing date) that are also in ``cpc-claims`` (claims and the
    grant date). 25 patents; no description; kind ``"B2"`` assumed (the bundles carry no kind codes)."""
    from patlink.data import load_dataset

    api = load_dataset("api-patents").patents
    cpc = load_dataset("cpc-claims").patents
    out: dict[str, dict] = {}
    for number in sorted(set(api) & set(cpc)):
        a, c = api[number], cpc[number]
        filing = a.get("date") or ""
        if re.fullmatch(r"\d{8}", filing):
            filing = f"{filing[:4]}-{filing[4:6]}-{filing[6:]}"
        out[number] = {
            "title": a.get("title") or "",
            "abstract": a.get("abstract") or "",
            "claims": split_claims(c.get("claims") or ""),
            "description": "",
            "filing_date": filing,
            "publication_date": c.get("date") or "",
            "kind": "B2",
        }
    return out


def _claims_of(p: Mapping) -> list[str]:
    claims = p.get("claims") or []
    return [c for c in (split_claims(claims) if isinstance(claims, str) else claims) if c and c.strip()]


def _lines(text: str) -> list[str]:
    return [ln for ln in (" ".join(line.split()) for line in (text or "").replace("\r", "\n").split("\n")) if ln]


def expected_texts(p: Mapping, via: str) -> dict[str, str]:
    """What ``patlink hydrate --source bulk`` should store for patent ``p`` written by this module.

    ``via``: ``"xml"`` (USPTO XML) or ``"tsv"`` (PatentsView). Abstract and description: every line trimmed,
    whitespace runs (any Unicode whitespace, e.g. U+2003, U+2028) collapsed to one space, empty lines dropped;
    claims: one claim a line, each on one line; title: one line from XML, lines kept from a TSV.
    """
    if via not in ("xml", "tsv"):
        raise ValueError(f"via must be 'xml' or 'tsv', not {via!r}")
    title = " ".join((p.get("title") or "").split()) if via == "xml" else "\n".join(_lines(p.get("title") or ""))
    return {
        "title": title,
        "abstract": "\n".join(_lines(p.get("abstract") or "")),
        "claims": "\n".join(" ".join(c.split()) for c in _claims_of(p)),
        "description": "\n".join(_lines(p.get("description") or "")),
    }


def compare_stored(stored: Mapping[str, Mapping], patents: Mapping[str, Mapping], via: str
                   ) -> list[tuple[str, str]]:
    """``(number, field)`` of every text field where ``stored`` (``HydrationStore.texts_for`` output or
    ``{number: PatentRecord.to_dict()}``) differs from :func:`expected_texts` of ``patents``; a number absent
    from ``stored`` is ``(number, "missing")``."""
    out = []
    for number, p in patents.items():
        rec = stored.get(number)
        if rec is None:
            out.append((number, "missing"))
            continue
        for field, want in expected_texts(p, via).items():
            if (rec.get(field) or "") != want:
                out.append((number, field))
    return out


# ----------------------------------------------------------------------------------------------- USPTO XML
def _yyyymmdd(iso: str) -> str:
    return iso.replace("-", "") if iso else ""


def _doc_number(number: str) -> str:
    """Red-book ``<doc-number>``: grants zero-padded to 8 characters (``07000308``, ``D0654321``), applications
    as their 11 digits."""
    from patlink.data.numbers import parse_publication_number

    p = parse_publication_number(number)
    if p.is_application:
        return p.number
    return p.prefix + p.number.zfill(8 - len(p.prefix))


def _sub(parent, tag: str, text: str | None = None, tail: str = "\n", **attrib):
    from lxml import etree

    el = etree.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()})
    if text is not None:
        el.text = text
    el.tail = tail
    return el


def _document_id(parent, number: str | None, kind: str | None, date: str) -> None:
    d = _sub(parent, "document-id")
    d.text = "\n"
    _sub(d, "country", "US")
    if number:
        _sub(d, "doc-number", number)
    if kind:
        _sub(d, "kind", kind)
    if date:
        _sub(d, "date", _yyyymmdd(date))


def _claims_element(root, claims: list[str]) -> None:
    """``<claims>``: one ``<claim id num>`` per claim; the claim's first line is its ``<claim-text>``, each
    further line (a claim element) a nested ``<claim-text>``; ``claim N`` references become ``<claim-ref>``."""
    el = _sub(root, "claims", id="claims")
    el.text = "\n"
    used: set[str] = set()
    for seq, claim in enumerate(claims, 1):
        m = _CLAIM_START.match(claim)
        num = f"{int(m.group(1)):05d}" if m else f"{seq:05d}"
        if num in used:
            num = f"{seq:05d}"
        used.add(num)
        c = _sub(el, "claim", id=f"CLM-{num}", num=num)
        c.text = "\n"
        lines = [ln for ln in claim.split("\n") if ln.strip()]
        top = _sub(c, "claim-text")
        _with_claim_refs(top, lines[0], last=len(lines) == 1)
        for line in lines[1:]:
            _with_claim_refs(_sub(top, "claim-text"), line, last=True)


def _with_claim_refs(el, text: str, last: bool) -> None:
    """Set ``el``'s text to ``text`` with each ``claim N`` wrapped in ``<claim-ref idref="CLM-0000N">``."""
    from lxml import etree

    pieces = _CLAIM_REF.split(text)
    el.text = pieces[0]
    prev = None
    for i in range(1, len(pieces), 2):
        ref = etree.SubElement(el, "claim-ref", {"idref": f"CLM-{int(pieces[i]):05d}"})
        ref.text = f"claim {pieces[i]}"
        ref.tail = pieces[i + 1]
        prev = ref
    if not last:  # nested claim-texts follow on their own lines
        if prev is None:
            el.text = (el.text or "") + "\n"
        else:
            prev.tail = (prev.tail or "") + "\n"


def _text_blocks(parent, text: str, counter: list[int], headings: bool) -> None:
    """One ``<p id num>`` per non-empty line of ``text``; with ``headings``, an upper-case line is a ``<heading>``."""
    for line in (text or "").replace("\r", "\n").split("\n"):
        if not line.strip():
            continue
        if headings and _HEADING.match(line.strip()) and any(ch.isalpha() for ch in line):
            counter[1] += 1
            _sub(parent, "heading", line.strip(), id=f"h-{counter[1]:04d}", level="1")
        else:
            counter[0] += 1
            _sub(parent, "p", line.strip(), id=f"p-{counter[0]:04d}", num=f"{counter[0] - 1:04d}")


def _xml_document(number: str, p: Mapping, application: bool) -> str:
    from lxml import etree

    kind = p.get("kind") or ("A1" if application else "B2")
    pub = p.get("publication_date") or ""
    if not pub:
        raise ValueError(f"{number}: no publication_date (needed for the file and the publication-reference)")
    docnum = _doc_number(number)
    root_tag = "us-patent-application" if application else "us-patent-grant"
    root = etree.Element(root_tag, {
        "lang": "EN", "dtd-version": "v4.4 2014-04-03" if application else "v4.5 2014-04-03",
        "file": f"US{docnum}{kind if application else ''}-{_yyyymmdd(pub)}.XML", "status": "PRODUCTION",
        "id": root_tag, "country": "US", "date-publ": _yyyymmdd(pub)})
    root.text = "\n"
    bib = (_sub(root, "us-bibliographic-data-application", lang="EN", country="US") if application
           else _sub(root, "us-bibliographic-data-grant"))
    bib.text = "\n"
    ref = _sub(bib, "publication-reference")
    ref.text = "\n"
    _document_id(ref, docnum, kind, pub)
    app = _sub(bib, "application-reference", appl_type="utility")
    app.text = "\n"
    _document_id(app, None, None, p.get("filing_date") or "")
    _sub(bib, "invention-title", " ".join((p.get("title") or "").split()), id="d2e43")
    claims = _claims_of(p)
    if not application:
        _sub(bib, "number-of-claims", str(len(claims)))
    counter = [0, 0]
    if (p.get("abstract") or "").strip():
        ab = _sub(root, "abstract", id="abstract")
        ab.text = "\n"
        _text_blocks(ab, p["abstract"], counter, headings=False)
    if (p.get("description") or "").strip():
        desc = _sub(root, "description", id="description")
        desc.text = "\n"
        _text_blocks(desc, p["description"], counter, headings=True)
    if claims:
        if not application:
            _sub(root, "us-claim-statement", "What is claimed is:")
        _claims_element(root, claims)
    doctype = APPLICATION_DOCTYPE if application else GRANT_DOCTYPE
    return f"{XML_DECLARATION}\n{doctype}\n{etree.tostring(root, encoding='unicode')}\n"


def _write_xml(patents: Mapping[str, Mapping], folder: str | Path, application: bool, as_zip: bool) -> list[Path]:
    prefix = "ipa" if application else "ipg"
    weeks: dict[str, list[str]] = defaultdict(list)
    for number in sorted(patents):
        if is_application(number) != application:
            raise ValueError(f"{number} is {'a grant' if application else 'an application'}: "
                             f"{prefix} files hold {'applications' if application else 'grants'} only")
        pub = patents[number].get("publication_date") or ""
        weeks[dt.date.fromisoformat(pub).strftime("%y%m%d") if pub else ""].append(number)
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for week, numbers in sorted(weeks.items()):
        body = "".join(_xml_document(n, patents[n], application) for n in numbers).encode("utf-8")
        name = f"{prefix}{week}.xml"
        if as_zip:
            path = root / f"{prefix}{week}.zip"
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(name, body)
        else:
            path = root / name
            path.write_bytes(body)
        out.append(path)
    return out


def write_grant_xml(patents: Mapping[str, Mapping], folder: str | Path, as_zip: bool = False) -> list[Path]:
    """Write grants as USPTO grant red-book XML v4.5: one ``ipgYYMMDD.xml`` (or ``ipgYYMMDD.zip`` holding it)
    per ``publication_date`` (the issue date), documents concatenated in number order.

    Raises:
        ValueError: a number is a published application (grant files hold grants only), or has no
            ``publication_date``.
    """
    return _write_xml(patents, folder, application=False, as_zip=as_zip)


def write_application_xml(patents: Mapping[str, Mapping], folder: str | Path, as_zip: bool = False) -> list[Path]:
    """Write published applications as USPTO application full-text XML v4.4: one ``ipaYYMMDD.xml`` (or
    ``.zip``) per ``publication_date``, ``<us-patent-application>`` documents concatenated.

    Raises:
        ValueError: a number is a grant, or has no ``publication_date``.
    """
    return _write_xml(patents, folder, application=True, as_zip=as_zip)


# ------------------------------------------------------------------------------------------- PatentsView
def _office_id(number: str) -> str:
    from patlink.data.numbers import parse_publication_number

    p = parse_publication_number(number)
    return f"{p.prefix}{p.number}"


def _dependent(claim: str) -> str:
    m = _CLAIM_REF.search(claim[:400])
    return f"claim {m.group(1)}" if m else ""


class _TsvWriter:
    """One PatentsView table file: tab-separated, header row, ``"``-quoting with doubled quotes, ``\\n`` rows."""

    def __init__(self, path: Path, columns: tuple[str, ...], quoting: str, compress: bool) -> None:
        self.path = path.with_name(path.name + ".gz") if compress else path
        # kept open across rows (closed by close()), hence no context manager
        raw = gzip.open(self.path, "wb") if compress else open(self.path, "wb")  # noqa: SIM115
        self._fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        self.quoting = quoting
        self.numeric = [c in _NUMERIC_COLUMNS for c in columns]
        self.rows = 0
        self._fh.write("\t".join(c if quoting == "minimal" else _quote(c) for c in columns) + "\n")

    def row(self, values: Iterable) -> None:
        cells = []
        for v, numeric in zip(["" if v is None else str(v) for v in values], self.numeric):
            if self.quoting == "all" or (self.quoting == "nonnumeric" and not (numeric and v.isdigit())) \
                    or (self.quoting == "minimal" and any(ch in v for ch in '\t"\n\r')):
                cells.append(_quote(v))
            else:
                cells.append(v)
        self._fh.write("\t".join(cells) + "\n")
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def write_patentsview_tsvs(patents: Mapping[str, Mapping], folder: str | Path, *, compress: bool = False,
                           quoting: str = "nonnumeric", include_applications: bool = False
                           ) -> dict[str, list[Path]]:
    """Write ``patents`` as PatentsView granted-patent tables in ``folder``.

    Tables: ``g_patent`` (``patent_date`` = ``publication_date``, ``wipo_kind`` = ``kind``),
    ``g_patent_abstract``, ``g_application`` (filing date; ``application_id`` left empty: not in the data),
    ``g_claims_YYYY`` (one row per claim, ``claim_sequence`` from 0, the claim text as given, line breaks kept)
    and ``g_detail_desc_text_YYYY`` (YYYY: the year of ``publication_date``).

    Args:
        compress: write ``.tsv.gz``.
        quoting: ``"nonnumeric"`` (text fields quoted, integer columns bare), ``"all"`` or ``"minimal"``
            (quoted only when a field holds a tab, quote or line break).
        include_applications: PatentsView keeps published applications in separate ``pg_*`` tables, which
            patlink does not read (it reads applications from USPTO ``ipa`` XML); ``True`` writes them into the
            ``g_*`` tables under their 11-digit number (a deviation from the real files, to test the TSV path on
            real application texts).

    Returns:
        table key → files written.

    Raises:
        ValueError: an application without ``include_applications``, a patent without ``publication_date``,
            or an unknown ``quoting``.
    """
    if quoting not in ("nonnumeric", "all", "minimal"):
        raise ValueError(f"quoting must be nonnumeric, all or minimal, not {quoting!r}")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    numbers = sorted(patents)
    for n in numbers:
        if is_application(n) and not include_applications:
            raise ValueError(f"{n} is a published application: PatentsView g_* tables hold grants only "
                             "(pass include_applications=True to write it there anyway)")
        if not patents[n].get("publication_date"):
            raise ValueError(f"{n}: no publication_date (needed for g_patent.patent_date and the year files)")

    def w(name: str, cols: tuple[str, ...]) -> _TsvWriter:
        return _TsvWriter(root / f"{name}.tsv", cols, quoting, compress)

    single = {"g_patent": w("g_patent", G_PATENT_COLUMNS),
              "g_patent_abstract": w("g_patent_abstract", G_PATENT_ABSTRACT_COLUMNS),
              "g_application": w("g_application", G_APPLICATION_COLUMNS)}
    yearly: dict[tuple[str, str], _TsvWriter] = {}
    try:
        for n in numbers:
            p, pid = patents[n], _office_id(n)
            pub = p["publication_date"]
            year = pub[:4]
            claims = _claims_of(p)
            kind = p.get("kind") or ("A1" if is_application(n) else "B2")
            prefix = "ipa" if is_application(n) else "ipg"
            single["g_patent"].row([pid, "utility", pub, p.get("title") or "", kind, len(claims), 0,
                                    f"{prefix}{dt.date.fromisoformat(pub).strftime('%y%m%d')}.xml"])
            if (p.get("abstract") or "").strip():
                single["g_patent_abstract"].row([pid, p["abstract"]])
            if p.get("filing_date"):
                single["g_application"].row(["", pid, "utility", p["filing_date"], "", 0])
            if claims:
                key = ("g_claims", year)
                if key not in yearly:
                    yearly[key] = w(f"g_claims_{year}", G_CLAIMS_COLUMNS)
                for seq, claim in enumerate(claims):
                    m = _CLAIM_START.match(claim)
                    yearly[key].row([pid, seq, claim, _dependent(claim) if seq else "",
                                     f"{int(m.group(1)) if m else seq + 1:05d}", 1 if seq == 0 else 0])
            if (p.get("description") or "").strip():
                key = ("g_detail_desc_text", year)
                if key not in yearly:
                    yearly[key] = w(f"g_detail_desc_text_{year}", G_DETAIL_DESC_COLUMNS)
                yearly[key].row([pid, p["description"], len(p["description"])])
    finally:
        for t in list(single.values()) + list(yearly.values()):
            t.close()
    out: dict[str, list[Path]] = {}
    for key, t in single.items():
        if t.rows:
            out[key] = [t.path]
        else:
            t.path.unlink()
    for (key, _year), t in sorted(yearly.items()):
        out.setdefault(key, []).append(t.path)
    return out


# ------------------------------------------------------------------------------------------------ all of it
def write_twin(patents: Mapping[str, Mapping], folder: str | Path, *, compress: bool = False,
               as_zip: bool = False, quoting: str = "nonnumeric", applications_in_tables: bool = False) -> dict:
    """Write ``patents`` in the formats they were published in: grants as ``ipg*.xml`` and PatentsView ``g_*``
    tables, applications as ``ipa*.xml`` (USPTO application full text; PatentsView's ``g_*`` tables hold grants
    only).

    Args:
        applications_in_tables: also write the applications into the ``g_*`` tables under their 11-digit number
            (``write_patentsview_tsvs(include_applications=True)``: a deviation from the real files).

    Returns:
        ``{"grants": n, "applications": n, "ipg_files": [...], "ipa_files": [...], "tsv": {table: [...]}}``
        (``tsv`` empty when no table was written).
    """
    grants, apps = split_pool(patents)
    in_tables = patents if applications_in_tables else grants
    return {
        "grants": len(grants),
        "applications": len(apps),
        "ipg_files": write_grant_xml(grants, folder, as_zip=as_zip) if grants else [],
        "ipa_files": write_application_xml(apps, folder, as_zip=as_zip) if apps else [],
        "tsv": write_patentsview_tsvs(in_tables, folder, compress=compress, quoting=quoting,
                                      include_applications=applications_in_tables) if in_tables else {},
    }
