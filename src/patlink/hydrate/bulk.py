"""Local bulk files: PatentsView granted-patent TSVs (read with DuckDB) and USPTO full-text XML of grants and of
published applications (streamed).

PatentsView tables (``g_patent``, ``g_patent_abstract``, ``g_cpc_current``, ``g_us_patent_citation``, and
optionally ``g_application``, ``g_claims_YYYY``, ``g_detail_desc_text_YYYY``; layout and format in
:mod:`patlink.data.patentsview`, whose reader is used here) as plain ``.tsv`` or gzip ``.tsv.gz`` (PatentsView
ships ``.tsv.zip``: unzip first). Each present table is scanned once per batch with a parameterised DuckDB query,
so use large batches (the default for this source is 10,000).

USPTO full text (https://bulkdata.uspto.gov), red-book XML v4.x: "Patent Grant Full Text Data (No Images)", 2005–,
weekly ``ipgYYMMDD.xml`` files of ``<us-patent-grant>`` documents, and "Patent Application Full Text Data (No
Images)", 2005–, weekly ``ipaYYMMDD.xml`` files of ``<us-patent-application>`` documents (published applications,
kinds ``A1``/``A2``/``A9``, 11-digit numbers such as ``20130210636``), either as the ``.zip`` they ship in. Each file
is *concatenated* XML documents, each starting with its own ``<?xml …?>`` declaration, so one file is not one XML
tree. :func:`iter_uspto_xml` splits the stream at the declarations, skips documents whose first ``<doc-number>``
is not wanted without parsing them, and :func:`parse_uspto_xml` parses the rest with a strict, hardened lxml parser
(no DTD loading, no network, no entity expansion, no error recovery). ``ipa`` files are read only for the
application numbers of a batch, ``ipg`` files only for its grant numbers. Texts from the XML fill the fields the TSVs
leave empty (claims, description …).

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

from patlink.data.numbers import normalize_publication_number, parse_publication_number
from patlink.data.patentsview import MalformedTableError, PatentsViewTables, find_patentsview_tables
from patlink.hydrate.base import NOT_FOUND, BatchResult, iso_date, office_id
from patlink.hydrate.config import BulkConfig
from patlink.hydrate.records import TEXT_FIELDS, PatentRecord, clean_text, flat_text

__all__ = ["APPLICATION_XML_SOURCE", "GRANT_XML_SOURCE", "XML_FILE_KEYS", "BulkSource", "MalformedDocumentError",
           "find_bulk_files", "iter_uspto_grant_xml", "iter_uspto_xml", "parse_uspto_application_xml",
           "parse_uspto_grant_xml", "parse_uspto_xml", "read_patentsview_tsvs"]

log = logging.getLogger(__name__)

_DOCNUM_RE = re.compile(rb"<doc-number>\s*([A-Za-z]*\d+)\s*</doc-number>")
#: ``PatentRecord.source`` of a record from USPTO grant XML / from USPTO application XML.
GRANT_XML_SOURCE = "bulk-uspto-xml"
APPLICATION_XML_SOURCE = "bulk-uspto-app-xml"
#: :func:`find_bulk_files` keys of the USPTO XML files: grants (``ipg*``) and published applications (``ipa*``).
XML_FILE_KEYS = ("uspto_xml", "uspto_app_xml")
#: Root and bibliographic element of each USPTO XML document kind, and the source name of its records.
_XML_KINDS = {
    "us-patent-grant": ("us-bibliographic-data-grant", GRANT_XML_SOURCE),
    "us-patent-application": ("us-bibliographic-data-application", APPLICATION_XML_SOURCE),
}
#: What reading a damaged or cut-short ``.zip`` member raises.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


class MalformedDocumentError(ValueError):
    """A USPTO XML document that is not well-formed (cut short, or broken markup): ``line`` and ``column`` of the
    parser's error, counted from the document's ``<?xml`` line (1-based)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def find_bulk_files(bulk_dir: str | Path) -> dict[str, list[Path]]:
    """The bulk files present in ``bulk_dir``: ``{"g_patent": [...], …, "uspto_xml": [ipg files],
    "uspto_app_xml": [ipa files]}`` (non-empty lists only; PatentsView keys from
    :func:`patlink.data.patentsview.find_patentsview_tables`).

    Raises:
        FileNotFoundError: if ``bulk_dir`` is not a folder.
    """
    root = Path(bulk_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--bulk-dir {root} is not a folder")
    out = find_patentsview_tables(root)
    for key, prefix in zip(XML_FILE_KEYS, ("ipg", "ipa")):
        xml = sorted(p for p in root.glob("*") if p.is_file() and re.match(rf"(?i)^{prefix}.*\.(xml|zip)$", p.name))
        if xml:
            out[key] = xml
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


# ------------------------------------------------------------------------------------ USPTO grant/application XML
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


def iter_uspto_xml(paths: Iterable[str | Path], wanted: set[str] | None = None,
                   problems: list[str] | None = None) -> Iterator[tuple[str, int, bytes]]:
    """Split concatenated USPTO XML files (grants or published applications) into documents.

    Args:
        paths: ``ipg*.xml`` / ``ipa*.xml`` files or the ``.zip`` archives holding them.
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


#: The former name of :func:`iter_uspto_xml` (which splits application files as well).
iter_uspto_grant_xml = iter_uspto_xml


def _document_number(doc: bytes) -> str | None:
    """Canonical number of a document's first ``<doc-number>`` (its publication's; a grant's ``07000308`` →
    ``US7000308``, an application's ``20130210636`` → ``US20130210636``), or ``None`` when it has none or an
    unreadable one."""
    m = _DOCNUM_RE.search(doc)
    if not m:
        return None
    try:
        return normalize_publication_number("US" + m.group(1).decode("ascii"))
    except ValueError:
        return None


def _wanted(doc: bytes, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    if not _DOCNUM_RE.search(doc):  # no number: a document cut short before it; parsed so that it is reported
        return True
    return _document_number(doc) in wanted


def _lines(el, tags: tuple[str, ...]) -> str:
    parts = []
    for node in el.iter(*tags):
        if any(a.tag in tags for a in node.iterancestors()):
            continue
        t = flat_text(node)
        if t:
            parts.append(t)
    return "\n".join(parts)


def _parse_strict(doc: bytes):
    """The root element of one XML document, parsed strictly and hardened.

    Raises:
        MalformedDocumentError: not well-formed (the parser's message, line and column from its ``<?xml`` line).
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
    return root


def parse_uspto_xml(doc: bytes) -> PatentRecord:
    """Parse one USPTO red-book XML v4.x document, a grant (``<us-patent-grant>``, from ``ipg`` files) or a
    published application (``<us-patent-application>``, from ``ipa`` files), into a :class:`PatentRecord`.

    Both give title, abstract (one ``<p>`` a line), claims (one claim a line), description (headings and
    paragraphs, one a line), CPC (``classifications-cpc``, v4.4 on), publication date, filing date
    (``application-reference``), priority date (the earliest of foreign priority claims, US provisional
    applications and continuation / continuation-in-part / division parents), kind, ``publication_number``
    (``US07000308B2``, ``US20130210636A1``) and US patent citations (``us-references-cited``, or
    ``references-cited`` before v4.3; grants). A grant's ``grant_date`` is its publication date and its source
    :data:`GRANT_XML_SOURCE`; an application has no ``grant_date`` and source :data:`APPLICATION_XML_SOURCE`.

    The parser is strict (no recovery: a document cut short is an error, never a record with what was read) and
    hardened (no DTD loading, no network access, entities are not expanded: named ones are mapped by
    :func:`patlink.hydrate.records.flat_text`); ``huge_tree`` allows long texts.

    Raises:
        MalformedDocumentError: the document is not well-formed XML (the parser's message, with the line and
            column counted from its ``<?xml`` line).
        ValueError: a well-formed document that is neither kind (another root, e.g. the pre-2005 application
            format ``<patent-application-publication>``), or without a publication number.
    """
    return _record(_parse_strict(doc), None)


def parse_uspto_grant_xml(doc: bytes) -> PatentRecord:
    """Parse one ``<us-patent-grant>`` document (USPTO grant red-book XML v4.x); see :func:`parse_uspto_xml`.

    Raises:
        MalformedDocumentError: not well-formed XML. ValueError: not a grant (another root, no publication number).
    """
    return _record(_parse_strict(doc), "us-patent-grant")


def parse_uspto_application_xml(doc: bytes) -> PatentRecord:
    """Parse one ``<us-patent-application>`` document (USPTO published-application red-book XML v4.x: weekly
    ``ipaYYMMDD.xml`` files, 2005 on); see :func:`parse_uspto_xml`.

    Raises:
        MalformedDocumentError: not well-formed XML. ValueError: not an application (another root, no publication
            number).
    """
    return _record(_parse_strict(doc), "us-patent-application")


def _record(root, expect: str | None) -> PatentRecord:
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag not in _XML_KINDS or (expect is not None and tag != expect):
        want = expect or " or ".join(_XML_KINDS)
        raise ValueError(f"<{tag}> is not a {want} document")
    bib_tag, source = _XML_KINDS[tag]
    what = "grant" if tag == "us-patent-grant" else "application"
    bib = root.find(bib_tag)
    if bib is None:
        raise ValueError(f"{what} document without {bib_tag}")
    pub = bib.find("publication-reference/document-id")
    if pub is None or not (pub.findtext("doc-number") or "").strip():
        raise ValueError(f"{what} document without publication-reference/doc-number")
    docnum = pub.findtext("doc-number").strip()
    country = (pub.findtext("country") or "US").strip()
    number = normalize_publication_number(country + docnum)
    kind = (pub.findtext("kind") or "").strip()
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
    published = iso_date(pub.findtext("date"))
    return PatentRecord(
        number=number,
        title=flat_text(title_el) if title_el is not None else "",
        abstract=_lines(abstract_el, ("p",)) if abstract_el is not None else "",
        claims=_lines(claims_el, ("claim",)) if claims_el is not None else "",
        description=_lines(desc_el, ("heading", "p")) if desc_el is not None else "",
        cpc=cpc,
        publication_date=published,
        grant_date=published if tag == "us-patent-grant" else "",
        filing_date=iso_date(bib.findtext("application-reference/document-id/date")),
        priority_date=priorities[0] if priorities else "",
        kind=kind,
        publication_number=f"{country}{docnum}{kind}",
        citations=citations,
        source=source,
    )


def _later(a: PatentRecord, b: PatentRecord) -> PatentRecord:
    """Of two XML records of one number, the one to keep: the later publication (an application's ``A2``
    republication or ``A9`` corrected publication over its ``A1``: same number, published later); the first on a
    tie (the same document in two files)."""
    return b if (b.publication_date or "") > (a.publication_date or "") else a


def _merge(a: PatentRecord | None, b: PatentRecord) -> PatentRecord:
    """Fill ``a``'s (PatentsView's) empty fields from ``b`` (from USPTO XML; ``a`` wins where both have a value)."""
    if a is None:
        return b
    for name, value in b.__dict__.items():
        if name == "source":
            continue
        if not getattr(a, name) and value:
            setattr(a, name, value)
    if any(getattr(b, f) for f in TEXT_FIELDS):
        a.source = "bulk-patentsview+" + b.source.removeprefix("bulk-")
    return a


class BulkSource:
    """Hydrate from local PatentsView TSVs and/or USPTO grant and application XML in ``config.bulk_dir``.

    Grant numbers are looked up in the TSVs and the ``ipg`` files, application numbers (``US20130210636``) in the
    TSVs and the ``ipa`` files; a file kind with no number of the batch is not read.

    Attributes:
        bad_documents: one line per damaged input met, appended by each batch that meets it (``"<file> line <n>:
            not well-formed XML: …"``, an archive cut short, a malformed table), for the run's summary
            (:attr:`patlink.hydrate.runner.HydrateSummary.malformed`); the numbers concerned are failures.
        text_fields: the text fields these files can give a patent (claims only with ``g_claims_*`` or USPTO XML).

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
                f"no PatentsView g_*.tsv[.gz] nor USPTO ipg*/ipa*.xml/zip files in {config.bulk_dir}")
        self.bad_documents: list[str] = []
        self._table_error: MalformedTableError | None = None
        fields = {"title", "abstract"}
        if any(k in self.files for k in XML_FILE_KEYS):
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
        tsv = {k: v for k, v in self.files.items() if k not in XML_FILE_KEYS}
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
        from_xml: dict[str, PatentRecord] = {}
        applications = {n for n in valid if parse_publication_number(n).is_application}
        for key, wanted in (("uspto_xml", set(valid) - applications), ("uspto_app_xml", applications)):
            if key in self.files and wanted:
                self._read_xml(self.files[key], wanted, from_xml, damaged)
        for n, rec in from_xml.items():
            records[n] = _merge(records.get(n), rec)
        for n in damaged:         # a damaged document and no sound copy: not even the TSV part is stored,
            if n not in from_xml:  # or the XML's claims and description would never be filled in later
                records.pop(n, None)
        for n in valid:
            if n not in records:
                errors[n] = damaged.get(n, NOT_FOUND)
        return records, errors

    def _read_xml(self, files: Sequence[Path], wanted: set[str], out: dict[str, PatentRecord],
                  damaged: dict[str, str]) -> None:
        """Parse the ``wanted`` documents of USPTO XML ``files`` into ``out`` (number → record; of two publications
        of one number the later, :func:`_later`); damaged ones into ``damaged`` (number → message) and
        :attr:`bad_documents`."""
        problems: list[str] = []
        for name, line_no, doc in iter_uspto_xml(files, wanted, problems):
            try:
                rec = parse_uspto_xml(doc)
            except MalformedDocumentError as e:
                at = f" (file line {line_no + e.line - 1})" if e.line else ""
                msg = f"{name} line {line_no}: {e}{at}; the document is skipped, not stored"
                self._report(msg)
                number = _document_number(doc)
                if number is not None:
                    damaged.setdefault(number, msg)
                continue
            except ValueError as e:
                self._report(f"{name} line {line_no}: {e}; skipped")
                log.warning("skipping document %s line %d: %s", name, line_no, e)
                continue
            if rec.number not in wanted:  # its first doc-number was wanted, its publication number is not
                continue
            out[rec.number] = _later(out[rec.number], rec) if rec.number in out else rec
        for msg in problems:
            self._report(msg)
