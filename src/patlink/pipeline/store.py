"""The pipeline's single DuckDB database: every stage's output keyed by its input, failures recorded.

Layout (one file, e.g. ``patlink_pipeline.duckdb``):

* ``stage_cache(stage, key, input_hash, status, output, error, attempts, updated_at)``: one row per unit of
  work of a stage (a VPM source, a search query, a URL, a chunk, a product, a patent). ``key`` names the unit;
  ``input_hash`` is the SHA-1 of everything the result depends on (text, model, prompt, settings), so a changed
  input is recomputed while an unchanged one is skipped. ``status`` is ``done`` or ``failed``; ``output`` is JSON.
  Each unit is committed as soon as it finishes, so an interrupted run resumes where it stopped.
* ``products(product, source)`` and ``links(product, patent, source, evidence)``: the VPM pairs.
* ``pages(url, final_url, status_code, content_type, body, sha1, fetched_at)``: raw fetched bodies.
* ``patents(patent, text)``: patent full texts given to the summary stage.
* ``overrides(product, field, value, reviewer, edited_at)`` and ``edits(...)``: manual complementation
  (§2.2.5) — the current reviewed value per field, and the full history of who changed what and when.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

__all__ = ["PipelineStore", "CacheEntry", "input_hash", "STAGES"]

#: Stages in execution order (``status`` lists them in this order).
STAGES = ("vpm", "search", "filter", "judge", "fetch", "extract", "bullets", "condense", "patent_summary")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS stage_cache (
        stage VARCHAR NOT NULL, key VARCHAR NOT NULL, input_hash VARCHAR NOT NULL, status VARCHAR NOT NULL,
        output VARCHAR, error VARCHAR, attempts INTEGER NOT NULL DEFAULT 1, updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (stage, key))""",
    """CREATE TABLE IF NOT EXISTS products (product VARCHAR PRIMARY KEY, source VARCHAR, position INTEGER)""",
    """CREATE TABLE IF NOT EXISTS links (
        product VARCHAR NOT NULL, patent VARCHAR NOT NULL, source VARCHAR, evidence VARCHAR,
        PRIMARY KEY (product, patent))""",
    """CREATE TABLE IF NOT EXISTS pages (
        url VARCHAR PRIMARY KEY, final_url VARCHAR, status_code INTEGER, content_type VARCHAR, body BLOB,
        sha1 VARCHAR, fetched_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS patents (patent VARCHAR PRIMARY KEY, text VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS overrides (
        product VARCHAR NOT NULL, field VARCHAR NOT NULL, value VARCHAR, reviewer VARCHAR, edited_at TIMESTAMP,
        PRIMARY KEY (product, field))""",
    """CREATE TABLE IF NOT EXISTS edits (
        product VARCHAR NOT NULL, field VARCHAR NOT NULL, old_value VARCHAR, new_value VARCHAR,
        reviewer VARCHAR NOT NULL, edited_at TIMESTAMP NOT NULL, source_file VARCHAR)""",
]


def input_hash(*parts: Any) -> str:
    """SHA-1 (40 hex chars) of the JSON encoding of ``parts`` (sorted keys): the cache key of a stage input."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class CacheEntry:
    """One row of ``stage_cache``; ``output`` is decoded JSON."""

    stage: str
    key: str
    input_hash: str
    status: str
    output: Any
    error: str | None
    attempts: int
    updated_at: datetime


class PipelineStore:
    """Open (creating if needed) the pipeline database at ``path``.

    Args:
        path: DuckDB file; its parent folder is created. ``":memory:"`` for a throw-away store.
        max_attempts: a unit that failed this many times is not retried by :meth:`run_cached` unless
            ``retry_failed`` is given.

    Raises:
        ValueError: if the file exists but is not a DuckDB database (or is locked by another process).
    """

    def __init__(self, path: str | Path, max_attempts: int = 3):
        import duckdb

        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(self.path)
        except Exception as e:  # duckdb.IOException and friends
            raise ValueError(f"cannot open pipeline database {self.path}: {e}") from e
        self.max_attempts = max_attempts
        self._lock = threading.Lock()
        for stmt in _SCHEMA:
            self.con.execute(stmt)

    # -- context manager -------------------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "PipelineStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- stage cache -----------------------------------------------------------------------------------------
    def get(self, stage: str, key: str) -> CacheEntry | None:
        """The cached row of ``(stage, key)`` or ``None``."""
        with self._lock:
            row = self.con.execute(
                "SELECT stage, key, input_hash, status, output, error, attempts, updated_at FROM stage_cache "
                "WHERE stage = ? AND key = ?", [stage, key]).fetchone()
        if row is None:
            return None
        out = json.loads(row[4]) if row[4] is not None else None
        return CacheEntry(row[0], row[1], row[2], row[3], out, row[5], row[6], row[7])

    def put(self, stage: str, key: str, ihash: str, status: str, output: Any = None, error: str | None = None,
            ) -> None:
        """Insert or replace one unit's result (committed immediately). ``attempts`` counts failures in a row."""
        prev = self.get(stage, key)
        attempts = 1
        if prev is not None and prev.status == "failed" and status == "failed" and prev.input_hash == ihash:
            attempts = prev.attempts + 1
        with self._lock:
            self.con.execute(
                "INSERT OR REPLACE INTO stage_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [stage, key, ihash, status, None if output is None else json.dumps(output, ensure_ascii=False),
                 error, attempts, _now()])

    def run_cached(self, stage: str, key: str, ihash: str, fn: Callable[[], Any], *, retry_failed: bool = False,
                   ) -> tuple[str, Any]:
        """Return the cached result of ``(stage, key)`` for input ``ihash``, or compute it with ``fn()``.

        A ``done`` row with the same ``ihash`` is returned as is (status ``"cached"``). Otherwise ``fn`` runs; its
        return value is stored as ``done``; an ``Exception`` it raises is stored as ``failed`` with its message
        and not re-raised (``KeyboardInterrupt`` propagates: nothing is stored, the unit reruns next time). A unit
        that failed ``max_attempts`` times with the same input is skipped (status ``"gave_up"``) unless
        ``retry_failed``.

        Returns:
            ``(status, output)`` with status one of ``"cached"``, ``"done"``, ``"failed"``, ``"gave_up"``;
            ``output`` is ``None`` unless the unit is done.
        """
        prev = self.get(stage, key)
        if prev is not None and prev.input_hash == ihash:
            if prev.status == "done":
                return "cached", prev.output
            if prev.status == "failed" and prev.attempts >= self.max_attempts and not retry_failed:
                return "gave_up", None
        try:
            out = fn()
        except Exception as e:  # recorded, not fatal
            msg = f"{type(e).__name__}: {e}"[:2000]
            self.put(stage, key, ihash, "failed", error=msg)
            return "failed", None
        self.put(stage, key, ihash, "done", output=out)
        return "done", out

    def counts(self) -> dict[str, dict[str, int]]:
        """``{stage: {"done": n, "failed": n}}`` for every stage in :data:`STAGES` (zeros included)."""
        res = {s: {"done": 0, "failed": 0} for s in STAGES}
        with self._lock:
            rows = self.con.execute("SELECT stage, status, count(*) FROM stage_cache GROUP BY 1, 2").fetchall()
        for stage, status, n in rows:
            res.setdefault(stage, {"done": 0, "failed": 0})[status] = int(n)
        return res

    def failures(self, stage: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Failed units, newest first: ``[{"stage", "key", "error", "attempts", "updated_at"}]``."""
        q = "SELECT stage, key, error, attempts, updated_at FROM stage_cache WHERE status = 'failed'"
        args: list[Any] = []
        if stage:
            q += " AND stage = ?"
            args.append(stage)
        q += " ORDER BY updated_at DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self.con.execute(q, args).fetchall()
        return [dict(stage=r[0], key=r[1], error=r[2], attempts=r[3], updated_at=str(r[4])) for r in rows]

    # -- products and links ----------------------------------------------------------------------------------
    def add_products(self, names: list[str], source: str) -> int:
        """Add product names (existing ones keep their source and position). Returns how many were new."""
        with self._lock:
            have = {r[0] for r in self.con.execute("SELECT product FROM products").fetchall()}
            start = self.con.execute("SELECT coalesce(max(position), -1) + 1 FROM products").fetchone()[0]
            new = [n for n in dict.fromkeys(names) if n not in have]
            if new:
                self.con.executemany("INSERT INTO products VALUES (?, ?, ?)",
                                     [(n, source, start + i) for i, n in enumerate(new)])
        return len(new)

    def products(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.con.execute("SELECT product FROM products ORDER BY position").fetchall()]

    def add_links(self, links: list[tuple[str, str, str]], source: str) -> int:
        """Add ``(product, patent, evidence)`` triples (first evidence kept). Returns how many were new."""
        with self._lock:
            have = {(a, b) for a, b in self.con.execute("SELECT product, patent FROM links").fetchall()}
            new = []
            for prod, pat, ev in links:
                if (prod, pat) not in have:
                    have.add((prod, pat))
                    new.append((prod, pat, source, ev))
            if new:
                self.con.executemany("INSERT INTO links VALUES (?, ?, ?, ?)", new)
        return len(new)

    def links(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(a, b) for a, b in self.con.execute(
                "SELECT product, patent FROM links ORDER BY product, patent").fetchall()]

    # -- pages -----------------------------------------------------------------------------------------------
    def put_page(self, url: str, final_url: str, status_code: int, content_type: str, body: bytes) -> str:
        """Store a fetched body; returns its SHA-1."""
        sha = hashlib.sha1(body).hexdigest()
        with self._lock:
            self.con.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [url, final_url, status_code, content_type, body, sha, _now()])
        return sha

    def get_page(self, url: str) -> dict[str, Any] | None:
        with self._lock:
            r = self.con.execute("SELECT url, final_url, status_code, content_type, body, sha1 FROM pages "
                                 "WHERE url = ?", [url]).fetchone()
        if r is None:
            return None
        return dict(url=r[0], final_url=r[1], status_code=r[2], content_type=r[3], body=bytes(r[4]), sha1=r[5])

    # -- patents ---------------------------------------------------------------------------------------------
    def add_patent_texts(self, texts: dict[str, str]) -> None:
        with self._lock:
            self.con.executemany("INSERT OR REPLACE INTO patents VALUES (?, ?)", list(texts.items()))

    def patent_texts(self) -> dict[str, str]:
        with self._lock:
            return dict(self.con.execute("SELECT patent, text FROM patents ORDER BY patent").fetchall())

    # -- manual complementation ------------------------------------------------------------------------------
    def record_edit(self, product: str, field: str, old: str | None, new: str | None, reviewer: str,
                    source_file: str | None = None, when: datetime | None = None) -> None:
        """Set the reviewed value of ``field`` for ``product`` and append the change to ``edits``."""
        when = when or _now()
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?)",
                                 [product, field, new, reviewer, when])
                self.con.execute("INSERT INTO edits VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [product, field, old, new, reviewer, when, source_file])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise

    def overrides(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{product: {field: {"value", "reviewer", "edited_at"}}}``."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        with self._lock:
            rows = self.con.execute("SELECT product, field, value, reviewer, edited_at FROM overrides").fetchall()
        for p, f, v, r, t in rows:
            out.setdefault(p, {})[f] = dict(value=v, reviewer=r, edited_at=str(t))
        return out

    def edits(self, product: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT product, field, old_value, new_value, reviewer, edited_at, source_file FROM edits"
        args = []
        if product is not None:
            q += " WHERE product = ?"
            args.append(product)
        q += " ORDER BY edited_at, product, field"
        with self._lock:
            rows = self.con.execute(q, args).fetchall()
        keys = ("product", "field", "old_value", "new_value", "reviewer", "edited_at", "source_file")
        return [dict(zip(keys, (*r[:5], str(r[5]), r[6]))) for r in rows]

    def stage_outputs(self, stage: str) -> dict[str, Any]:
        """``{key: output}`` of every ``done`` unit of ``stage``."""
        with self._lock:
            rows = self.con.execute("SELECT key, output FROM stage_cache WHERE stage = ? AND status = 'done'",
                                    [stage]).fetchall()
        return {k: json.loads(v) if v is not None else None for k, v in rows}
