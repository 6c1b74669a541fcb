"""Resumable hydration runs: normalise numbers, skip what is stored and complete, fetch the rest (missing numbers and
incomplete stored records) in batches, checkpoint each."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patlink.data.numbers import normalize_publication_number
from patlink.data.registry import load_dataset
from patlink.http import redact
from patlink.hydrate.base import US_APPLICATION_KINDS, Source, is_us_utility_grant
from patlink.hydrate.config import HydrateConfig, default_db_path
from patlink.hydrate.records import TEXT_FIELDS, PatentRecord
from patlink.hydrate.store import HydrationStore

__all__ = ["SOURCE_TEXT_FIELDS", "HydrateSummary", "dataset_numbers", "find_incomplete", "hydrate", "incomplete_reason",
           "make_source", "normalize_numbers", "read_numbers_file", "run_text_fields"]

log = logging.getLogger(__name__)

#: Batch size per source when the configuration does not set one explicitly (see :func:`hydrate`).
DEFAULT_BATCH = {"bigquery": 5000, "patentsview": 100, "google-html": 10, "bulk": 10_000}

_ALL_TEXT = frozenset(TEXT_FIELDS)
#: The text fields each record source (``PatentRecord.source``) gives a patent it holds: what a stored record of
#: that source can be expected to have (:func:`incomplete_reason`). PatentsView TSVs alone give claims and
#: description only with the optional ``g_claims_*`` / ``g_detail_desc_text_*`` tables, which a record does not
#: remember, so nothing beyond title and abstract is expected of them. ``…-app-xml``: USPTO application XML.
SOURCE_TEXT_FIELDS: dict[str, frozenset[str]] = {
    "bigquery": _ALL_TEXT,
    "patentsview": _ALL_TEXT,
    "google-html": _ALL_TEXT,
    "bulk-uspto-xml": _ALL_TEXT,
    "bulk-patentsview+uspto-xml": _ALL_TEXT,
    "bulk-uspto-app-xml": _ALL_TEXT,
    "bulk-patentsview+uspto-app-xml": _ALL_TEXT,
    "bulk-patentsview": frozenset({"title", "abstract"}),
}
_XML_SOURCES = ("bulk-uspto-xml", "bulk-patentsview+uspto-xml")


def incomplete_reason(record: PatentRecord, can_give: frozenset[str] | set[str] | None = None) -> str:
    """Why a stored or fetched record is incomplete (damaged), or ``""`` when it is not. The one definition used to
    refetch stored records and to report fetched ones.

    A record is incomplete when

    * it has none of title, abstract, claims, description (``"no title, abstract, claims or description"``);
    * it is a US utility grant (kind ``A`` before 2001, ``B1``/``B2``; :func:`patlink.hydrate.base.is_us_utility_grant`)
      without claims, although its source gives claims (:data:`SOURCE_TEXT_FIELDS`) and so can ``can_give``
      (``"a utility grant (B2) without claims"``);
    * it is a US published application (``A1``, ``A2``, ``A9``, plant ``P1``/``P4``/``P9``:
      :data:`patlink.hydrate.base.US_APPLICATION_KINDS`) without claims, on the same terms
      (``"a published application (A1) without claims"``): an application is published with the claims it has;
    * it came from USPTO grant XML and its last claim stops mid-sentence (no final ``.``), the mark of a document
      cut inside ``<claims>`` that was stored before documents were parsed strictly
      (``"claims cut short (the last claim does not end with a full stop)"``). Application XML was parsed strictly
      from the start, so its records are not held to this (a real claim may end without a full stop).

    Args:
        record: the record.
        can_give: the text fields the source at hand can give (:func:`run_text_fields`, a source's
            ``text_fields``); ``None``: all. A field is required only when both the record's source and this give it.
    """
    if not record.has_text():
        return "no title, abstract, claims or description"
    given = SOURCE_TEXT_FIELDS.get(record.source, _ALL_TEXT)
    if can_give is not None:
        given = given & frozenset(can_give)
    date = record.publication_date or record.grant_date
    if record.number.startswith("US") and is_us_utility_grant(record.kind, date):
        claims = record.claims.strip()
        if "claims" in given and not claims:
            return f"a utility grant ({record.kind}) without claims"
        if claims and record.source in _XML_SOURCES and not claims.splitlines()[-1].rstrip().endswith("."):
            return "claims cut short (the last claim does not end with a full stop)"
    kind = (record.kind or "").strip().upper()
    if record.number.startswith("US") and kind in US_APPLICATION_KINDS and "claims" in given \
            and not record.claims.strip():
        return f"a published application ({kind}) without claims"
    return ""


def find_incomplete(store: HydrationStore, numbers: Sequence[str],
                    can_give: frozenset[str] | set[str] | None = None) -> dict[str, str]:
    """The incomplete records of ``store`` among canonical ``numbers``: number → :func:`incomplete_reason`, in the
    order of ``numbers`` (absent numbers are not listed). Records are read 500 at a time (descriptions are long).

    Raises:
        ValueError: the store is truncated or corrupt (see :class:`~patlink.hydrate.store.HydrationStore`).
    """
    out: dict[str, str] = {}
    nums = list(dict.fromkeys(numbers))
    for start in range(0, len(nums), 500):
        chunk = nums[start: start + 500]
        records = store.get(chunk)
        for n in chunk:
            why = incomplete_reason(records[n], can_give) if n in records else ""
            if why:
                out[n] = why
    return out


def run_text_fields(config: HydrateConfig) -> frozenset[str]:
    """The text fields a run with ``config`` can give: PatentsView API without claims/description when those
    queries are turned off; bulk files without claims/description when neither USPTO XML (grant or application) nor
    the ``g_claims_*``/``g_detail_desc_text_*`` tables are in the folder (an unreadable folder: all, the run fails on it
    when it has something to fetch); every text field otherwise."""
    if config.source == "patentsview":
        fields = {"title", "abstract"}
        fields |= {"claims"} if config.patentsview.claims else set()
        fields |= {"description"} if config.patentsview.description else set()
        return frozenset(fields)
    if config.source == "bulk" and config.bulk.bulk_dir is not None:
        from patlink.hydrate.bulk import find_bulk_files

        try:
            files = find_bulk_files(config.bulk.bulk_dir)
        except OSError:
            return _ALL_TEXT
        fields = {"title", "abstract"}
        if "uspto_xml" in files or "uspto_app_xml" in files:
            fields |= {"claims", "description"}
        fields |= {"claims"} if "g_claims" in files else set()
        fields |= {"description"} if "g_detail_desc_text" in files else set()
        return frozenset(fields)
    return _ALL_TEXT


@dataclass
class HydrateSummary:
    """Outcome of one run.

    Attributes:
        requested: distinct valid numbers asked for.
        fetched: numbers fetched and stored by this run.
        cached: numbers already in the store and complete, skipped (with ``refetch_incomplete=False`` also the
            incomplete ones, which are then listed in ``incomplete`` too).
        refetched_incomplete: numbers whose stored record was incomplete (:func:`incomplete_reason`) and that this
            run fetched again.
        incomplete: number → reason, for the records that are incomplete after this run: fetched incomplete again,
            a refetch that failed (the old record stays), or stored ones not refetched (turned off, ``limit``).
        malformed: one line per damaged source document or file met (``"<file> line <n>: not well-formed XML …"``,
            an archive or table cut short): skipped, not stored; the numbers concerned are in ``failed``.
        failed: number → error, for numbers this run tried and could not get.
        skipped_failed: numbers skipped because an earlier run failed on them (``retry_failed=False``).
        invalid: ``(where, text, error)`` for inputs that are not publication numbers (``where`` = line number
            in a numbers file, or the position in the list).
        db_path: the store written.
    """

    requested: int = 0
    fetched: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    refetched_incomplete: list[str] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)
    malformed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped_failed: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str, str]] = field(default_factory=list)
    db_path: str = ""
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "source": self.source, "db_path": self.db_path, "requested": self.requested,
            "fetched": len(self.fetched), "cached": len(self.cached), "failed": len(self.failed),
            "skipped_failed": len(self.skipped_failed), "invalid": len(self.invalid),
            "refetched_incomplete": len(self.refetched_incomplete), "incomplete": len(self.incomplete),
            "malformed": len(self.malformed),
            "failures": self.failed, "invalid_inputs": [list(x) for x in self.invalid],
            "incomplete_records": self.incomplete, "malformed_documents": self.malformed,
        }


def normalize_numbers(raw: Iterable[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """``(where, text)`` pairs → (canonical numbers in first-seen order, invalid ``(where, text, error)``)."""
    out, invalid, seen = [], [], set()
    for where, text in raw:
        try:
            n = normalize_publication_number(text)
        except ValueError as e:
            invalid.append((where, text, str(e)))
            continue
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out, invalid


def read_numbers_file(path: str | Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Read a user's list of publication numbers: one per line (first column of a CSV/TSV line is used),
    blank lines and ``#`` comments ignored, a header line ``number``/``publication_number``/``patent_id`` skipped.

    Returns:
        (canonical numbers in order, invalid ``("line N", text, error)``), so nothing is lost silently.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"numbers file {p} not found")
    raw = []
    for line_no, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        first = s
        try:
            normalize_publication_number(s)
        except ValueError:  # a CSV/TSV line: use its first column
            first = re.split(r"[\t;,]", s)[0].strip().strip('"')
        if line_no == 1 and first.lower() in {"number", "publication_number", "patent_id", "patent", "id"}:
            continue
        raw.append((f"line {line_no}", first))
    return normalize_numbers(raw)


def dataset_numbers(name: str) -> list[str]:
    """Patent numbers of a bundled dataset (``honeywell-vpm``: the patents linked to kept products).

    Raises:
        ValueError: if ``name`` is not a bundled dataset.
    """
    return sorted(load_dataset(name).patents)


def make_source(config: HydrateConfig) -> Source:
    """Build the source named by ``config.source``.

    Raises:
        ValueError, FileNotFoundError: bad settings. RuntimeError: the bigquery source without its optional client
            library (checked here, once, not per batch).
    """
    if config.source == "bigquery":
        from patlink.hydrate.bigquery import BigQuerySource, require_client_library

        require_client_library()
        return BigQuerySource(config.bigquery)
    if config.source == "patentsview":
        from patlink.hydrate.patentsview_api import PatentsViewSource

        return PatentsViewSource(config.patentsview, config.http)
    if config.source == "google-html":
        from patlink.hydrate.google_patents_html import GooglePatentsSource

        return GooglePatentsSource(config.google, config.http)
    from patlink.hydrate.bulk import BulkSource

    return BulkSource(config.bulk)


def hydrate(numbers: Sequence[str], config: HydrateConfig, source: Source | None = None,
            progress: Callable[[int, int], None] | None = None, batch_size: int | None = None) -> HydrateSummary:
    """Fetch and store the texts of ``numbers``; resumable.

    Numbers already stored with a complete record are skipped (``cached``); stored records that are incomplete
    (:func:`incomplete_reason` against what this run's source can give, :func:`run_text_fields`) are fetched again
    unless ``config.refetch_incomplete`` is off (``refetched_incomplete``); fetched records still incomplete are
    stored and reported (``incomplete``); damaged source documents are reported (``malformed``, from a source's
    ``bad_documents``). The numbers to fetch go in batches of ``batch_size``
    (default: ``config.batch_size``, else the source's own default, :data:`DEFAULT_BATCH`),
    and each batch is written in one transaction with its failures (number → error) — an interrupted run resumes
    where it stopped. A source-wide exception (credentials, network) is recorded as the error of every number of
    that batch and the run continues with the next batch. Every error is passed through
    :func:`patlink.http.redact` (with the source's ``secrets``, e.g. its API key) before it is logged or stored.

    Args:
        numbers: publication numbers in any spelling; invalid ones are reported in ``summary.invalid``.
        config: source settings and store path (:class:`HydrateConfig`).
        source: a ready source (tests); ``None``: :func:`make_source`.
        progress: called as ``progress(done, total)`` after each batch (numbers to fetch, not cached ones).

    Returns:
        :class:`HydrateSummary`.
    """
    canon, invalid = normalize_numbers((f"item {i + 1}", str(n)) for i, n in enumerate(numbers))
    db_path = Path(config.db_path) if config.db_path is not None else default_db_path()
    summary = HydrateSummary(requested=len(canon), invalid=invalid, db_path=str(db_path), source=config.source)
    own_source = source is None
    with HydrationStore(db_path) as store:
        have = store.fetched(canon)
        stored_incomplete = find_incomplete(store, [n for n in canon if n in have], run_text_fields(config)) \
            if have else {}
        refetch = stored_incomplete if config.refetch_incomplete else {}
        summary.cached = [n for n in canon if n in have and n not in refetch]
        todo = [n for n in canon if n not in have or n in refetch]
        if not config.retry_failed:
            prev = store.failed(todo)
            summary.skipped_failed = [n for n in todo if n in prev]
            todo = [n for n in todo if n not in prev]
        if config.limit is not None:
            todo = todo[: max(0, config.limit)]
        summary.refetched_incomplete = [n for n in todo if n in refetch]
        queued = set(todo)
        summary.incomplete = {n: why for n, why in stored_incomplete.items() if n not in queued}
        if not todo:
            if progress:
                progress(0, 0)
            return summary
        src = source if source is not None else make_source(config)
        if batch_size is None:
            batch_size = config.batch_size or getattr(src, "batch_size", None) or DEFAULT_BATCH.get(config.source, 100)
        secrets = tuple(str(s) for s in (getattr(src, "secrets", None) or ()) if s)
        src_fields = getattr(src, "text_fields", None)
        reported = len(getattr(src, "bad_documents", None) or ())  # what the source met before this run
        try:
            done = 0
            for start in range(0, len(todo), batch_size):
                batch = todo[start: start + batch_size]
                try:
                    records, errors = src.fetch(batch)
                except Exception as e:  # noqa: BLE001 - recorded per number, run continues
                    msg = f"{type(e).__name__}: {redact(str(e), secrets)}"
                    log.warning("batch of %d failed: %s", len(batch), msg)
                    records, errors = {}, {n: msg for n in batch}
                records = {n: r for n, r in records.items() if n in set(batch)}
                errors = {n: redact(str(e), secrets) for n, e in errors.items() if n not in records}
                for n in batch:  # a source that forgets a number must not lose it
                    if n not in records and n not in errors:
                        errors[n] = "source returned nothing for this number"
                store.write_batch(list(records.values()), errors, source=config.source)
                summary.fetched.extend(n for n in batch if n in records)
                summary.failed.update(errors)
                for n, rec in records.items():
                    why = incomplete_reason(rec, src_fields)
                    if why:
                        summary.incomplete[n] = why
                for n in errors:  # a refetch that failed leaves the incomplete record in place
                    if n in stored_incomplete:
                        summary.incomplete[n] = stored_incomplete[n]
                for msg in (getattr(src, "bad_documents", None) or ())[reported:]:
                    if msg not in summary.malformed:
                        summary.malformed.append(msg)
                done += len(batch)
                if progress:
                    progress(done, len(todo))
        finally:
            if own_source:
                src.close()
    return summary
