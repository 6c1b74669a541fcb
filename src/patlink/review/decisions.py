"""Review decisions as data: who decided what about which (item, patent) pair, when, and from which ranking.

A reviewer looks at a product (or paper) and the patents a method ranks for it and marks each candidate
``accept`` (the patent covers the product), ``reject`` (it does not) or ``unsure`` — the manual review step that
ends the data pipeline of El Bouari & de Rassenfosse, *Product-Patent linkage prediction*. Decisions are kept in
an embedded SQLite database (one file):

- **append-only**: a changed mind is a new row, so the history of every pair is kept; the *current* decision of a
  pair is its latest row (:meth:`DecisionStore.decisions` with ``latest=True``);
- **safe with several writers**: the database runs in WAL mode with a busy timeout, every call opens its own
  connection and writes in one transaction, so several browsers (server threads) or processes (a server and
  ``patlink review export``) use one file at once;
- each row records the reviewer, the UTC time, the method label, the candidate's score and rank, an optional note
  and the item's text as reviewed (a description pasted in the page has no other home).

SQLite rather than DuckDB: DuckDB lets one process open a file for writing at a time, so a running server would
lock out an export or a second server; SQLite's WAL mode lets readers and a writer work at once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["DECISIONS", "SCHEMA", "Decision", "DecisionStore"]

#: The decisions a reviewer can record.
DECISIONS = ("accept", "reject", "unsure")
#: The schema this code reads and writes (stored in the database's ``meta`` table).
SCHEMA = "patlink-decisions/1"
_MAX_ID = 512
_MAX_NOTE = 4000
_MAX_TEXT = 100_000

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL,
    patent_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ({", ".join(f"'{d}'" for d in DECISIONS)})),
    note TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT '',
    score REAL,
    rank INTEGER,
    item_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_pair ON decisions (item_id, patent_id, id);
CREATE INDEX IF NOT EXISTS decisions_patent ON decisions (patent_id, id);
"""
_COLUMNS = ("id", "item_id", "patent_id", "decision", "note", "reviewer", "decided_at", "method", "score", "rank",
            "item_text")


@dataclass(frozen=True)
class Decision:
    """One recorded decision.

    Attributes:
        id: row number (increasing with time of recording). item_id / patent_id: the pair decided.
        decision: ``accept`` | ``reject`` | ``unsure``. note: the reviewer's note (may be empty).
        reviewer: who decided (may be empty). decided_at: ISO-8601 UTC time, e.g. ``2026-12-01T15:04:05.123456+00:00``.
        method: label of the method whose ranking was reviewed. score / rank: the candidate's score and 1-based
            rank in that ranking (``None`` when the decision was not made from a ranking).
        item_text: the item's text as reviewed (``""`` when the item is a known one).
    """

    id: int
    item_id: str
    patent_id: str
    decision: str
    note: str = ""
    reviewer: str = ""
    decided_at: str = ""
    method: str = ""
    score: float | None = None
    rank: int | None = None
    item_text: str = ""

    @property
    def label(self) -> int | None:
        """Relevance for qrels: 1 (accept), 0 (reject), ``None`` (unsure)."""
        return {"accept": 1, "reject": 0}.get(self.decision)

    def to_dict(self) -> dict:
        return asdict(self)


def _wal(con: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch the database to WAL mode. Two processes creating the file at once can get "database is locked" at
    once from this pragma (SQLite does not wait on the busy timeout for it), so it is retried for ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _check_text(name: str, value: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name} is empty")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value):,} characters long; at most {limit:,}")
    if "\x00" in value:
        raise ValueError(f"{name} contains a NUL character")
    return value


class DecisionStore:
    """The decisions database (SQLite file), created on first use.

    Args:
        path: the database file (created with its folder when missing).
        read_only: open an existing file without writing (``ValueError`` if it is missing).

    Raises:
        ValueError: the file is not a patlink decisions database (another SQLite file, another schema, not
            SQLite at all); ``read_only`` and the file is missing.
    """

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise ValueError(f"{self.path}: no decisions database there (record decisions with `patlink serve`)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables and "meta" not in tables:         # another program's database: never write into it
                    raise ValueError(f"{self.path}: not a patlink decisions database (its tables: "
                                     f"{', '.join(sorted(tables))})")
                if not read_only:
                    _wal(con)
                    con.executescript(_DDL)
                    con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA,))
                row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path}: not a patlink decisions database ({e})") from None
        if row is None or row[0] != SCHEMA:
            raise ValueError(f"{self.path}: schema {row[0] if row else None!r}, this patlink reads {SCHEMA!r}")

    def __repr__(self) -> str:
        return f"<DecisionStore {self.path}: {self.count()} pairs decided>"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        uri = f"file:{self.path}?mode=ro" if self.read_only else f"file:{self.path}"
        con = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout = 30000")
            yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ writing
    def record(self, item_id: str, patent_id: str, decision: str, *, note: str = "", reviewer: str = "",
               method: str = "", score: float | None = None, rank: int | None = None, item_text: str = "",
               decided_at: datetime | None = None) -> Decision:
        """Record one decision (a new row; the pair's earlier rows stay as its history).

        Args:
            item_id / patent_id: the pair (non-empty, at most 512 characters, no tab or line break).
            decision: one of :data:`DECISIONS`.
            note: free text (at most 4,000 characters). reviewer: who decides (at most 512).
            method / score / rank: the ranking the decision was made from. item_text: the item's text when it is
                not a known item (at most 100,000 characters).
            decided_at: the time (default: now, UTC).

        Returns:
            The stored :class:`Decision`.

        Raises:
            ValueError: an unknown decision, an empty id, a text over its limit, a non-finite score, a rank < 1;
                the store is read-only.
        """
        if self.read_only:
            raise ValueError(f"{self.path} is open read-only")
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        item_id = _check_text("item_id", item_id, _MAX_ID, required=True)
        patent_id = _check_text("patent_id", patent_id, _MAX_ID, required=True)
        for name, v in (("item_id", item_id), ("patent_id", patent_id)):
            if any(c in v for c in "\t\r\n") or v != v.strip():
                raise ValueError(f"{name} {v!r} has a tab, a line break or blanks at its ends")
        note = _check_text("note", note, _MAX_NOTE)
        reviewer = _check_text("reviewer", reviewer, _MAX_ID)
        method = _check_text("method", method, _MAX_ID)
        item_text = _check_text("item_text", item_text, _MAX_TEXT)
        if score is not None:
            score = float(score)
            if score != score or score in (float("inf"), float("-inf")):
                raise ValueError(f"score must be finite, got {score}")
        if rank is not None and (int(rank) != rank or rank < 1):
            raise ValueError(f"rank must be an integer >= 1, got {rank}")
        when = (decided_at or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
        row = (item_id, patent_id, decision, note, reviewer, when, method, score,
               None if rank is None else int(rank), item_text)
        with self._connect() as con:
            cur = con.execute("INSERT INTO decisions (item_id, patent_id, decision, note, reviewer, decided_at, "
                              "method, score, rank, item_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return Decision(cur.lastrowid, *row)

    # ------------------------------------------------------------------ reading
    def decisions(self, *, item_id: str | None = None, patent_id: str | None = None,
                  decision: str | Sequence[str] | None = None, reviewer: str | None = None, latest: bool = True,
                  limit: int | None = None, offset: int = 0) -> list[Decision]:
        """Decisions matching every filter given, oldest first.

        Args:
            item_id / patent_id / reviewer: exact matches. decision: one or several of :data:`DECISIONS`.
            latest: only each pair's current (latest) decision — the filters then apply to it, so a pair first
                rejected, then accepted, is not listed under ``decision="reject"``; ``False``: every row.
            limit / offset: paging (``limit=None``: all).

        Raises:
            ValueError: an unknown decision name, a negative limit or offset.
        """
        where, args = [], []
        if latest:
            where.append("d.id = (SELECT MAX(id) FROM decisions x WHERE x.item_id = d.item_id "
                         "AND x.patent_id = d.patent_id)")
        for col, val in (("item_id", item_id), ("patent_id", patent_id), ("reviewer", reviewer)):
            if val is not None:
                where.append(f"d.{col} = ?")
                args.append(val)
        if decision is not None:
            names = [decision] if isinstance(decision, str) else list(decision)
            bad = [d for d in names if d not in DECISIONS]
            if bad:
                raise ValueError(f"unknown decision {bad[0]!r}; use {', '.join(DECISIONS)}")
            where.append(f"d.decision IN ({', '.join('?' for _ in names)})")
            args += names
        if (limit is not None and limit < 0) or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        sql = f"SELECT {', '.join('d.' + c for c in _COLUMNS)} FROM decisions d"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.id"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else int(limit), int(offset)]
        with self._connect() as con:
            return [Decision(*r) for r in con.execute(sql, args)]

    def current(self, item_id: str) -> dict[str, Decision]:
        """Patent id → the current decision for each patent decided for ``item_id``."""
        return {d.patent_id: d for d in self.decisions(item_id=item_id)}

    def count(self, *, latest: bool = True) -> int:
        """Decided pairs (``latest=True``) or recorded rows."""
        sql = ("SELECT COUNT(*) FROM (SELECT DISTINCT item_id, patent_id FROM decisions)" if latest
               else "SELECT COUNT(*) FROM decisions")
        with self._connect() as con:
            return int(con.execute(sql).fetchone()[0])

    def counts(self) -> dict[str, int]:
        """Current decisions by kind: ``{"accept": n, "reject": n, "unsure": n}``."""
        out = dict.fromkeys(DECISIONS, 0)
        for d in self.decisions():
            out[d.decision] += 1
        return out

    def item_texts(self) -> dict[str, str]:
        """Item id → the latest non-empty text recorded with its decisions (items pasted in the page)."""
        sql = ("SELECT item_id, item_text FROM decisions WHERE item_text != '' AND id IN "
               "(SELECT MAX(id) FROM decisions WHERE item_text != '' GROUP BY item_id)")
        with self._connect() as con:
            return dict(con.execute(sql).fetchall())
