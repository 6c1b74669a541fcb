"""Local bulk files: PatentsView granted-patent TSVs (read with DuckDB) and USPTO grant full-text XML (streamed).

PatentsView tables (``g_patent``, ``g_patent_abstract``, ``g_cpc_current``, ``g_us_patent_citation``, and
optionally ``g_application``, ``g_claims_YYYY``, ``g_detail_desc_text_YYYY``; layout and format in
:mod:`patlink.data.patentsview`, whose reader is used here) as plain ``.tsv`` or gzip ``.tsv.gz`` (PatentsView
ships ``.tsv.zip``: unzip first). Each present table is scanned once per batch with a parameterised DuckDB query,
so use large batches (the default for this source is 10,000).

USPTO grant full text (https://bulkdata.uspto.gov, "Patent Grant Full Text Data (No Images)", 2005–): weekly
``ipgYYMMDD.xml`` files (or the ``.zip`` they ship in) are *concatenated* XML documents, each starting with its own
``<?xml …?>`` declaration, so one file is not one XML tree. :func:`iter_uspto_grant_xml` splits the stream at the
declarations, skips documents whose first ``<doc-number>`` is not wanted without parsing them, and parses the rest
with a strict, hardened lxml parser (no DTD loading, no network, no entity expansion, no error recovery). Texts from
the XML fill the fields the TSVs leave empty (claims, description …).

Damaged input is reported, never stored in part: a document that is not well-formed XML (e.g. the last one of a
weekly file cut short) is skipped and becomes the failure of its number, with the file, the line of its ``<?xml``
declaration and the parser's message (:attr:`BulkSource.bad_documents` lists them); a ``.zip`` that cannot be read
to its end is reported the same way; a PatentsView table cut short makes the batch fail with
:class:`patlink.data.patentsview.MalformedTableError` (file and line), since the rows it lost are unknown.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from patlink.data.numbers import normalize_publication_number
from patlink.data.patentsview import MalformedTableError, PatentsViewTables, find_patentsview_tables
from patlink.hydrate.base import NOT_FOUND, BatchResult, iso_date, office_id
from patlink.hydrate.config import BulkConfig
from patlink.hydrate.records import TEXT_FIELDS, PatentRecord, clean_text, flat_text

__all__ = ["BulkSource", "MalformedDocumentError", "find_bulk_files", "iter_uspto_grant_xml", "parse_uspto_grant_xml",
           "read_patentsview_tsvs"]

log = logging.getLogger(__name__)

_DOCNUM_RE = re.compile(rb"<doc-number>\s*([A-Za-z]*\d+)\s*</doc-number>")
#: What reading a damaged or cut-short ``.zip`` member raises.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


class MalformedDocumentError(ValueError):
    """A USPTO XML document that is not well-formed (cut short, or broken markup): ``line`` and ``column`` of the
    parser's error, counted from the document's ``<?xml`` line (1-based)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def find_bulk_files(bulk_dir: str | Path) -> dict[str, list[Path]]:
    """The bulk files present in ``bulk_dir``: ``{"g_patent": [...], …, "uspto_xml": [...]}`` (non-empty lists only).

    Raises:
        FileNotFoundError: if ``bulk_dir`` is not a folder.
    """
    root = Path(bulk_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--bulk-dir {root} is not a folder")
    out = find_patentsview_tables(root)
    xml = sorted(p for p in root.glob("*") if p.is_file() and re.match(r"(?i)^ipg.*\.(xml|zip)$", p.name))
    if xml:
        out["uspto_xml"] = xml
    return out


# --------------------------------------------------------------------------------------------- PatentsView TSVs
def read_patentsview_tsvs(files: dict[str, list[Path]], numbers: Sequence[str]) -> dict[str, PatentRecord]:
    """Records of ``numbers`` (canonical) found in the PatentsView tables ``files`` (from :func:`find_bulk_files`).

    A number is returned when it is in ``g_patent`` or ``g_patent_abstract``; the other tables add CPC groups
    (in ``cpc_sequence`` order), citations (canonical, in ``citation_sequence`` order), filing date, claims (in
    ``claim_sequence`` order, one a line) and description.

    Raises:
        MalformedTableError: a table's file is cut short or malformed (the message names the file and line).
    """
    ids = {office_id(n): n for n in numbers}
    id_list = list(ids)
    recs: dict[str, PatentRecord] = {}

    def rec(pid: str) -> PatentRecord:
        number = ids[pid]
        if number not in recs:
            recs[number] = PatentRecord(number=number, source="bulk-patentsview", publication_number=pid)
        return recs[number]

    tables = PatentsViewTables(files)
    try:
        if "g_patent" in files:
            for pid, date, title, kind in tables.select("g_patent", "patent_date, patent_title, wipo_kind", id_list):
                r = rec(pid)
                r.title = clean_text(title)
                r.publication_date = r.grant_date = iso_date(date)
                r.kind = kind or ""
        if "g_patent_abstract" in files:
            for pid, abstract in tables.select("g_patent_abstract", "patent_abstract", id_list):
                rec(pid).abstract = clean_text(abstract)
        found = [office_id(n) for n in recs]
        if not found:
            return {}
        if "g_cpc_current" in files:
            for pid, group in tables.select("g_cpc_current", "cpc_group", found,
                                            "ORDER BY pid, TRY_CAST(cpc_sequence AS INTEGER)"):
                symbol = (group or "").replace(" ", "")
                if symbol and symbol not in recs[ids[pid]].cpc:
                    recs[ids[pid]].cpc.append(symbol)
        if "g_us_patent_citation" in files:
            for pid, cited in tables.select("g_us_patent_citation", "citation_patent_id", found,
                                            "ORDER BY pid, TRY_CAST(citation_sequence AS INTEGER)"):
                try:
                    recs[ids[pid]].citations.append(normalize_publication_number("US" + cited.strip()))
                except (ValueError, AttributeError):
                    continue
        if "g_application" in files:
            for pid, filing in tables.select("g_application", "filing_date", found):
                recs[ids[pid]].filing_date = iso_date(filing)
        if "g_claims" in files:
            claims: dict[str, list[str]] = {}
            for pid, text in tables.select("g_claims", "claim_text", found,
                                           "ORDER BY pid, TRY_CAST(claim_sequence AS INTEGER)"):
                if text and text.strip():
                    claims.setdefault(pid, []).append(clean_text(text).replace("\n", " "))
            for pid, lines in claims.items():
                recs[ids[pid]].claims = "\n".join(lines)
        if "g_detail_desc_text" in files:
            for pid, text in tables.select("g_detail_desc_text", "description_text", found):
                recs[ids[pid]].description = clean_text(text)
    finally:
        tables.close()
    return recs


# ------------------------------------------------------------------------------------------- USPTO grant XML
def _open_xml_streams(path: Path, report) -> Iterator[tuple[str, IO[bytes]]]:
    """``(name, binary stream)`` of each XML document file in ``path`` (the file itself, or the ``.xml`` members of
    a ``.zip``); an archive that cannot be opened, or a member that cannot, is passed to ``report`` and skipped."""
    if path.suffix.lower() != ".zip":
        with open(path, "rb") as f:
            yield path.name, f
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        report(f"{path.name}: not a readable zip archive ({type(e).__name__}: {e}); it is cut short or damaged: "
               "download it again")
        return
    with zf:
        for name in zf.namelist():
            if not name.lower().endswith(".xml"):
                continue
            try:
                member = zf.open(name)
            except (*_ARCHIVE_ERRORS, OSError) as e:
                report(f"{path.name}:{name}: cannot be read ({type(e).__name__}: {e}); the archive is damaged: "
                       "download it again")
                continue
            with member:
                yield f"{path.name}:{name}", member


def iter_uspto_grant_xml(paths: Iterable[str | Path], wanted: set[str] | None = None,
                         problems: list[str] | None = None) -> Iterator[tuple[str, int, bytes]]:
    """Split concatenated USPTO XML files into documents.

    Args:
        paths: ``ipg*.xml`` files or the ``.zip`` archives holding them.
        wanted: canonical numbers to keep (``None``: every document). Others are skipped unparsed; a document
            without any ``<doc-number>`` (cut short before it) is kept, for the parser to report.
        problems: where to append one line per archive that cannot be read to its end (a ``.zip`` cut short or
            damaged: ``BadZipFile``, ``zlib.error``, ``EOFError``); reading goes on with the next file. ``None``:
            such an archive raises ``ValueError`` instead.

    Yields:
        ``(file_name, line_no, document_bytes)`` — ``line_no`` is the 1-based line of the document's
        ``<?xml`` declaration in its file (for error messages). When a member breaks off, the document read so far
        is still yielded (if wanted) so that the parser reports it, and its number, as not well-formed.
    """
    def report(msg: str) -> None:
        if problems is None:
            raise ValueError(msg)
        problems.append(msg)
        log.warning("%s", msg)

    for path in paths:
        for name, stream in _open_xml_streams(Path(path), report):
            buf: list[bytes] = []
            start = line_no = 1
            try:
                for line_no, line in enumerate(stream, 1):
                    if line.lstrip().startswith(b"<?xml") and buf:
                        doc = b"".join(buf)
                        if _wanted(doc, wanted):
                            yield name, start, doc
                        buf, start = [], line_no
                    buf.append(line)
            except _ARCHIVE_ERRORS as e:
                report(f"{name}: cut short or damaged after line {line_no} ({type(e).__name__}: {e}); documents "
                       "after it are missing: download it again")
            if buf:
                doc = b"".join(buf)
                if doc.strip() and _wanted(doc, wanted):
                    yield name, start, doc


def _wanted(doc: bytes, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    m = _DOCNUM_RE.search(doc)
    if not m:  # no number: a document cut short before it (or not a grant); parsed so that it is reported
        return True
    try:
        return normalize_publication_number("US" + m.group(1).decode("ascii")) in wanted
    except ValueError:
        return False


def _lines(el, tags: tuple[str, ...]) -> str:
    parts = []
    for node in el.iter(*tags):
        if any(a.tag in tags for a in node.iterancestors()):
            continue
        t = flat_text(node)
        if t:
            parts.append(t)
    return "\n".join(parts)


def parse_uspto_grant_xml(doc: bytes) -> PatentRecord:
    """Parse one ``<us-patent-grant>`` document (USPTO grant red-book XML v4.x) into a :class:`PatentRecord`.

    The parser is strict (no recovery: a document cut short is an error, never a record with what was read) and
    hardened (no DTD loading, no network access, entities are not expanded); ``huge_tree`` allows long texts.

    Raises:
        MalformedDocumentError: the document is not well-formed XML (the parser's message, with the line and
            column counted from its ``<?xml`` line).
        ValueError: a well-formed document that is not a grant (another root, no publication number).
    """
    from lxml import etree

    parser = etree.XMLParser(recover=False, resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(doc, parser)
    except etree.XMLSyntaxError as e:
        msg = re.sub(r"\s*\(<string>, line \d+\)$", "", str(e))
        line, column = (e.position or (e.lineno or 0, 0))
        raise MalformedDocumentError(f"not well-formed XML: {msg}", line or 0, column or 0) from None
    if root is None:
        raise MalformedDocumentError("not an XML document")
    bib = root.find("us-bibliographic-data-grant")
    if bib is None:
        raise ValueError(f"<{root.tag}> is not a us-patent-grant document")
    pub = bib.find("publication-reference/document-id")
    if pub is None or not (pub.findtext("doc-number") or "").strip():
        raise ValueError("grant document without publication-reference/doc-number")
    docnum = pub.findtext("doc-number").strip()
    country = (pub.findtext("country") or "US").strip()
    number = normalize_publication_number(country + docnum)
    cpc = []
    for c in bib.iterfind("classifications-cpc//classification-cpc"):
        parts = [(c.findtext(t) or "").strip() for t in ("section", "class", "subclass", "main-group", "subgroup")]
        if all(parts[:4]):
            sym = "".join(parts[:4]) + (f"/{parts[4]}" if parts[4] else "")
            if sym not in cpc:
                cpc.append(sym)
    citations = []
    # v4.3 on: us-references-cited/us-citation; v4.0-v4.2 (2005-2012): references-cited/citation
    cited = [*bib.iterfind(".//us-references-cited/us-citation/patcit/document-id"),
             *bib.iterfind(".//references-cited/citation/patcit/document-id")]
    for d in cited:
        if (d.findtext("country") or "").strip() == "US":
            try:
                number_ = normalize_publication_number("US" + (d.findtext("doc-number") or "").strip())
            except ValueError:
                continue
            if number_ not in citations:
                citations.append(number_)
    # the earliest claimed priority: foreign priority claims, US provisional applications, and the parents of a
    # continuation / continuation-in-part / division (a related pre-grant publication is not a priority)
    related = "us-related-documents"
    prio_dates = [p.findtext("date") for p in bib.iterfind("priority-claims/priority-claim")]
    prio_dates += [d.findtext("date") for d in bib.iterfind(f"{related}/us-provisional-application/document-id")]
    for rel in ("continuation", "continuation-in-part", "division"):
        prio_dates += [d.findtext("date") for d in bib.iterfind(f"{related}/{rel}/relation/parent-doc/document-id")]
    priorities = sorted(d for d in (iso_date(x) for x in prio_dates if x) if d)
    title_el = bib.find("invention-title")
    abstract_el = root.find("abstract")
    desc_el = root.find("description")
    claims_el = root.find("claims")
    return PatentRecord(
        number=number,
        title=flat_text(title_el) if title_el is not None else "",
        abstract=_lines(abstract_el, ("p",)) if abstract_el is not None else "",
        claims=_lines(claims_el, ("claim",)) if claims_el is not None else "",
        description=_lines(desc_el, ("heading", "p")) if desc_el is not None else "",
        cpc=cpc,
        publication_date=iso_date(pub.findtext("date")),
        grant_date=iso_date(pub.findtext("date")),
        filing_date=iso_date(bib.findtext("application-reference/document-id/date")),
        priority_date=priorities[0] if priorities else "",
        kind=(pub.findtext("kind") or "").strip(),
        publication_number=f"{country}{docnum}{(pub.findtext('kind') or '').strip()}",
        citations=citations,
        source="bulk-uspto-xml",
    )


def _merge(a: PatentRecord | None, b: PatentRecord) -> PatentRecord:
    """Fill ``a``'s empty fields from ``b`` (``a`` wins where both have a value)."""
    if a is None:
        return b
    for name, value in b.__dict__.items():
        if name == "source":
            continue
        if not getattr(a, name) and value:
            setattr(a, name, value)
    if any(getattr(b, f) for f in TEXT_FIELDS):
        a.source = "bulk-patentsview+uspto-xml"
    return a


class BulkSource:
    """Hydrate from local PatentsView TSVs and/or USPTO grant XML in ``config.bulk_dir``.

    Attributes:
        bad_documents: one line per damaged input met, appended by each batch that meets it (``"<file> line <n>:
            not well-formed XML: …"``, an archive cut short, a malformed table), for the run's summary
            (:attr:`patlink.hydrate.runner.HydrateSummary.malformed`); the numbers concerned are failures.
        text_fields: the text fields these files can give a patent (claims only with ``g_claims_*`` or grant XML).

    Raises:
        FileNotFoundError: when the folder is missing or holds none of the supported files.
    """

    name = "bulk"
    batch_size = 10_000

    def __init__(self, config: BulkConfig) -> None:
        if config.bulk_dir is None:
            raise ValueError("the bulk source needs --bulk-dir DIR")
        self.config = config
        self.files = find_bulk_files(config.bulk_dir)
        if not self.files:
            raise FileNotFoundError(
                f"no PatentsView g_*.tsv[.gz] nor USPTO ipg*.xml/zip files in {config.bulk_dir}")
        self.bad_documents: list[str] = []
        self._table_error: MalformedTableError | None = None
        fields = {"title", "abstract"}
        if "uspto_xml" in self.files:
            fields |= {"claims", "description"}
        if "g_claims" in self.files:
            fields.add("claims")
        if "g_detail_desc_text" in self.files:
            fields.add("description")
        self.text_fields = frozenset(fields)

    def close(self) -> None:
        pass

    def _report(self, msg: str) -> None:
        self.bad_documents.append(msg)

    def fetch(self, numbers: Sequence[str]) -> BatchResult:
        errors: dict[str, str] = {}
        valid = []
        for n in numbers:
            try:
                office_id(n)
                valid.append(n)
            except ValueError as e:
                errors[n] = str(e)
        records: dict[str, PatentRecord] = {}
        tsv = {k: v for k, v in self.files.items() if k != "uspto_xml"}
        if tsv and valid:
            try:
                if self._table_error is not None:  # found by an earlier batch: not scanned again
                    raise self._table_error
                records.update(read_patentsview_tsvs(tsv, valid))
            except MalformedTableError as e:
                # the rows the file lost are unknown: nothing of this batch is stored, every number fails with it
                self._table_error = e
                self._report(str(e))
                errors.update({n: str(e) for n in valid})
                return {}, errors
        damaged: dict[str, str] = {}
        xml_ok: set[str] = set()
        if "uspto_xml" in self.files and valid:
            problems: list[str] = []
            for name, line_no, doc in iter_uspto_grant_xml(self.files["uspto_xml"], set(valid), problems):
                try:
                    rec = parse_uspto_grant_xml(doc)
                except MalformedDocumentError as e:
                    at = f" (file line {line_no + e.line - 1})" if e.line else ""
                    msg = f"{name} line {line_no}: {e}{at}; the document is skipped, not stored"
                    self._report(msg)
                    m = _DOCNUM_RE.search(doc)
                    if m:
                        try:
                            damaged.setdefault(normalize_publication_number("US" + m.group(1).decode("ascii")), msg)
                        except ValueError:
                            pass
                    continue
                except ValueError as e:
                    self._report(f"{name} line {line_no}: {e}; skipped")
                    log.warning("skipping document %s line %d: %s", name, line_no, e)
                    continue
                records[rec.number] = _merge(records.get(rec.number), rec)
                xml_ok.add(rec.number)
            for msg in problems:
                self._report(msg)
        for n, msg in damaged.items():  # a damaged document and no sound copy: not even the TSV part is stored,
            if n not in xml_ok:          # or the XML's claims and description would never be filled in later
                records.pop(n, None)
        for n in valid:
            if n not in records:
                errors[n] = damaged.get(n, NOT_FOUND)
        return records, errors
