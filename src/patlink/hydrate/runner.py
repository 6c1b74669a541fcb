"""Resumable hydration runs: normalise numbers, skip what is stored, fetch the rest in batches, checkpoint each."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patlink.data.numbers import normalize_publication_number
from patlink.data.registry import load_dataset
from patlink.http import redact
from patlink.hydrate.base import Source
from patlink.hydrate.config import HydrateConfig, default_db_path
from patlink.hydrate.store import HydrationStore

__all__ = ["HydrateSummary", "dataset_numbers", "hydrate", "make_source", "normalize_numbers", "read_numbers_file"]

log = logging.getLogger(__name__)

#: Batch size per source when the configuration does not set one explicitly (see :func:`hydrate`).
DEFAULT_BATCH = {"bigquery": 5000, "patentsview": 100, "google-html": 10, "bulk": 10_000}


@dataclass
class HydrateSummary:
    """Outcome of one run.

    Attributes:
        requested: distinct valid numbers asked for.
        fetched: numbers fetched and stored by this run.
        cached: numbers already in the store (skipped).
        failed: number → error, for numbers this run tried and could not get.
        skipped_failed: numbers skipped because an earlier run failed on them (``retry_failed=False``).
        invalid: ``(where, text, error)`` for inputs that are not publication numbers (``where`` = line number
            in a numbers file, or the position in the list).
        db_path: the store written.
    """

    requested: int = 0
    fetched: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
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
            "failures": self.failed, "invalid_inputs": [list(x) for x in self.invalid],
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

    Numbers already stored are skipped (``cached``); the rest are fetched in batches of ``batch_size``
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
        summary.cached = [n for n in canon if n in have]
        todo = store.missing(canon, retry_failed=True)
        if not config.retry_failed:
            prev = store.failed(todo)
            summary.skipped_failed = [n for n in todo if n in prev]
            todo = [n for n in todo if n not in prev]
        if config.limit is not None:
            todo = todo[: max(0, config.limit)]
        if not todo:
            if progress:
                progress(0, 0)
            return summary
        src = source if source is not None else make_source(config)
        if batch_size is None:
            batch_size = config.batch_size or getattr(src, "batch_size", None) or DEFAULT_BATCH.get(config.source, 100)
        secrets = tuple(str(s) for s in (getattr(src, "secrets", None) or ()) if s)
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
                done += len(batch)
                if progress:
                    progress(done, len(todo))
        finally:
            if own_source:
                src.close()
    return summary
