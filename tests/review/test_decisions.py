"""The decisions store, its exports and the spreadsheet-safe cells: known inputs give known outputs.

DecisionStore: record / current / history, validation, refusing files that are not patlink decisions databases,
decisions surviving a reopen, and two writers (threads, then spawned processes) appending to one file at once.
export_decisions: formula cells neutralised in CSV/TSV and kept raw in JSONL/Parquet. export_training: a BEIR
folder that ``load_beir`` reads back with the accepted pairs as links and the rejected ones as judged negatives.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from patlink.data.beir import load_beir
from patlink.io import spreadsheet_safe
from patlink.review import DECISIONS, Decision, DecisionStore, export_decisions, export_training
from patlink.review.export import COLUMNS


@pytest.fixture
def store(tmp_path) -> DecisionStore:
    return DecisionStore(tmp_path / "d.sqlite")


# ---------------------------------------------------------------------------------------------- record and read
def test_record_returns_the_stored_row(store):
    when = datetime(2026, 3, 4, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    d = store.record("prod-1", "US10001292", "accept", note="claims 1-3", reviewer="ana", method="bm25",
                     score=12.5, rank=2, item_text="", decided_at=when)
    assert d == Decision(1, "prod-1", "US10001292", "accept", "claims 1-3", "ana",
                         "2026-03-04T08:30:00+00:00", "bm25", 12.5, 2, "")
    assert store.decisions() == [d]
    assert d.label == 1 and d.to_dict()["decided_at"] == "2026-03-04T08:30:00+00:00"
    assert Decision(2, "a", "b", "reject").label == 0 and Decision(3, "a", "b", "unsure").label is None


def test_default_time_is_now_in_utc(store):
    before = datetime.now(timezone.utc)
    d = store.record("i", "p", "unsure")
    after = datetime.now(timezone.utc)
    at = datetime.fromisoformat(d.decided_at)
    assert at.utcoffset() == timedelta(0) and before <= at <= after
    assert d.score is None and d.rank is None and d.note == "" and d.reviewer == ""


def test_reject_then_accept_is_accept_now_with_two_rows_of_history(store):
    first = store.record("i1", "p1", "reject", reviewer="ana")
    second = store.record("i1", "p1", "accept", reviewer="bo")
    store.record("i1", "p2", "reject", reviewer="ana")
    assert second.id > first.id
    assert [(d.patent_id, d.decision) for d in store.decisions()] == [("p1", "accept"), ("p2", "reject")]
    assert store.current("i1") == {"p1": second, "p2": store.decisions(patent_id="p2")[0]}
    history = store.decisions(item_id="i1", patent_id="p1", latest=False)
    assert [(d.id, d.decision) for d in history] == [(first.id, "reject"), (second.id, "accept")]
    # the filters apply to the current decision: (i1, p1) is no longer a rejected pair ...
    assert [d.patent_id for d in store.decisions(decision="reject")] == ["p2"]
    # ... but its old row is in the history
    assert [(d.patent_id, d.decision) for d in store.decisions(decision="reject", latest=False)] == [
        ("p1", "reject"), ("p2", "reject")]
    # the reviewer filter applies to the current row too: bo made p1's current decision, ana p2's
    assert [d.patent_id for d in store.decisions(reviewer="ana")] == ["p2"]
    assert [d.patent_id for d in store.decisions(reviewer="ana", latest=False)] == ["p1", "p2"]
    assert store.count() == 2 and store.count(latest=False) == 3
    assert store.counts() == {"accept": 1, "reject": 1, "unsure": 0}


def test_filters_several_decisions_and_paging(store):
    for k in range(10):
        store.record(f"i{k % 3}", f"p{k}", DECISIONS[k % 3], reviewer=f"r{k % 2}")
    rows = store.decisions()
    assert [d.id for d in rows] == list(range(1, 11))             # oldest first
    assert [d.patent_id for d in store.decisions(item_id="i1")] == ["p1", "p4", "p7"]
    assert [d.patent_id for d in store.decisions(decision=["accept", "unsure"])] == [
        "p0", "p2", "p3", "p5", "p6", "p8", "p9"]
    assert [d.patent_id for d in store.decisions(item_id="i0", reviewer="r1")] == ["p3", "p9"]
    assert store.decisions(limit=3) == rows[:3]
    assert store.decisions(limit=3, offset=8) == rows[8:]
    assert store.decisions(offset=7) == rows[7:]
    assert store.decisions(limit=0) == []
    assert store.decisions(patent_id="nope") == []
    with pytest.raises(ValueError, match="unknown decision 'maybe'"):
        store.decisions(decision="maybe")
    with pytest.raises(ValueError, match=">= 0"):
        store.decisions(limit=-1)
    with pytest.raises(ValueError, match=">= 0"):
        store.decisions(offset=-1)


def test_item_texts_are_the_latest_non_empty_text(store):
    store.record("new-1", "p1", "accept", item_text="first description")
    store.record("new-1", "p2", "reject", item_text="second description")
    store.record("new-1", "p3", "unsure")                                      # no text: does not erase it
    store.record("known", "p1", "accept")
    assert store.item_texts() == {"new-1": "second description"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"decision": "maybe"}, "decision must be one of accept, reject, unsure"),
    ({"decision": "Accept"}, "decision must be one of"),
    ({"item_id": ""}, "item_id is empty"),
    ({"item_id": "   "}, "item_id is empty"),
    ({"patent_id": ""}, "patent_id is empty"),
    ({"item_id": "a\tb"}, "tab, a line break"),
    ({"patent_id": "US1\n"}, "tab, a line break"),
    ({"item_id": " padded"}, "blanks at its ends"),
    ({"item_id": "x" * 513}, "item_id is 513 characters long; at most 512"),
    ({"item_id": 17}, "item_id must be a string, got int"),
    ({"note": "n" * 4001}, "note is 4,001 characters long; at most 4,000"),
    ({"reviewer": "r" * 513}, "reviewer is 513 characters"),
    ({"item_text": "t" * 100_001}, "item_text is 100,001 characters"),
    ({"note": "a\x00b"}, "NUL"),
    ({"score": float("nan")}, "score must be finite"),
    ({"score": float("inf")}, "score must be finite"),
    ({"score": float("-inf")}, "score must be finite"),
    ({"rank": 0}, "rank must be an integer >= 1, got 0"),
    ({"rank": -3}, "rank must be an integer >= 1"),
    ({"rank": 1.5}, "rank must be an integer >= 1"),
])
def test_invalid_decisions_are_refused_and_nothing_is_written(store, kwargs, message):
    args = {"item_id": "i", "patent_id": "p", "decision": "accept", **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        store.record(args.pop("item_id"), args.pop("patent_id"), args.pop("decision"), **args)
    assert store.count(latest=False) == 0


def test_limits_are_inclusive(store):
    d = store.record("x" * 512, "p", "accept", note="n" * 4000, rank=1, score=-0.0)
    assert len(d.item_id) == 512 and len(store.decisions()[0].note) == 4000 and d.rank == 1


# ---------------------------------------------------------------------------------------------- files
def test_read_only_open_of_a_missing_file_names_it_and_creates_nothing(tmp_path):
    path = tmp_path / "missing" / "d.sqlite"
    with pytest.raises(ValueError, match="no decisions database there") as e:
        DecisionStore(path, read_only=True)
    assert str(path) in str(e.value)
    assert not path.parent.exists()


def _foreign_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT)")
    con.execute("INSERT INTO orders (customer) VALUES ('acme')")
    con.commit()
    con.close()


@pytest.mark.parametrize("read_only", [True, False])
def test_another_sqlite_file_is_refused_and_left_as_it_was(tmp_path, read_only):
    path = tmp_path / "shop.sqlite"
    _foreign_sqlite(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="not a patlink decisions database") as e:
        DecisionStore(path, read_only=read_only)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    con = sqlite3.connect(path)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["orders"]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
    assert path.read_bytes() == before


@pytest.mark.parametrize("read_only", [True, False])
def test_a_file_that_is_not_sqlite_is_refused(tmp_path, read_only):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are not the decisions you are looking for\n" * 20)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="not a patlink decisions database") as e:
        DecisionStore(path, read_only=read_only)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    assert path.read_bytes() == before


def test_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "d.sqlite"
    DecisionStore(path).record("i", "p", "accept")
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = 'patlink-decisions/99' WHERE key = 'schema'")
    con.commit()
    con.close()
    for read_only in (False, True):
        with pytest.raises(ValueError, match="schema 'patlink-decisions/99', this patlink reads "
                                             "'patlink-decisions/1'") as e:
            DecisionStore(path, read_only=read_only)
        assert str(path) in str(e.value)


def test_decisions_survive_a_restart(tmp_path):
    path = tmp_path / "sub" / "d.sqlite"                          # the folder is created
    first = DecisionStore(path)
    a = first.record("i1", "p1", "reject", note="wrong field")
    b = first.record("i1", "p1", "accept", note="on second look")
    del first
    again = DecisionStore(path)                                    # the server restarts
    assert again.decisions(latest=False) == [a, b]
    c = again.record("i2", "p2", "unsure")
    assert c.id == 3
    ro = DecisionStore(path, read_only=True)                       # e.g. an export beside the running server
    assert ro.decisions() == [b, c]
    with pytest.raises(ValueError, match="read-only"):
        ro.record("i3", "p3", "accept")
    assert again.count(latest=False) == 3
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert "2 pairs decided" in repr(again)


# ---------------------------------------------------------------------------------------------- two writers
N_WRITES = 100


def _write_many(path: str, writer: str, n: int, barrier=None) -> list[int]:
    """Open the store (possibly creating the file) and record ``n`` decisions as ``writer``."""
    if barrier is not None:
        barrier.wait()
    store = DecisionStore(path)
    return [store.record(f"{writer}-item-{k % 7}", f"US{k:07d}", DECISIONS[k % 3], reviewer=writer,
                         score=float(k), rank=k % 10 + 1).id for k in range(n)]


def _check_two_writers(path: Path, ids_by_writer: dict[str, list[int]]) -> None:
    rows = DecisionStore(path, read_only=True).decisions(latest=False)
    assert len(rows) == 2 * N_WRITES
    assert len({d.id for d in rows}) == 2 * N_WRITES
    for writer, ids in ids_by_writer.items():
        mine = [d for d in rows if d.reviewer == writer]
        assert [d.id for d in mine] == ids                   # what each writer was told is what was stored
        assert [(d.patent_id, d.score) for d in mine] == [(f"US{k:07d}", float(k)) for k in range(N_WRITES)]


def test_two_threads_write_to_one_new_file(tmp_path):
    path = tmp_path / "d.sqlite"
    barrier = threading.Barrier(2)
    out: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def run(name):
        try:
            out[name] = _write_many(str(path), name, N_WRITES, barrier)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    _check_two_writers(path, out)


def test_two_processes_write_to_one_new_file(tmp_path):
    # several rounds, each on a new file: both processes create it at the same moment (switching a new file to
    # WAL mode from two processes at once is where "database is locked" came from, in about 1 start in 30)
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        for round_ in range(6):
            path = tmp_path / f"d{round_}.sqlite"
            barrier = manager.Barrier(2)
            jobs = {name: pool.apply_async(_write_many, (str(path), name, N_WRITES, barrier))
                    for name in ("p1", "p2")}
            out = {name: job.get(timeout=180) for name, job in jobs.items()}
            _check_two_writers(path, out)


# ---------------------------------------------------------------------------------------------- export tables
FORMULAS = {"item_id": "=HYPERLINK(\"http://evil.example\",\"click\")", "patent_id": "@SUM(A1:A9)",
            "note": "+1", "reviewer": "-2", "method": "\tbm25"}


@pytest.fixture
def formula_store(store):
    store.record(FORMULAS["item_id"], FORMULAS["patent_id"], "accept", note=FORMULAS["note"],
                 reviewer=FORMULAS["reviewer"], method=FORMULAS["method"], score=-0.5, rank=1)
    store.record("plain item", "US1", "reject", note="a = b, fine", score=3.25, rank=2)
    store.record("plain item", "US2", "unsure")
    return store


def _read_table(path: Path, delimiter: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


@pytest.mark.parametrize(("fmt", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv_neutralise_formula_cells(formula_store, tmp_path, fmt, delimiter):
    path = tmp_path / f"out.{fmt}"
    assert export_decisions(formula_store.decisions(), path) == 3
    rows = _read_table(path, delimiter)
    assert list(rows[0]) == list(COLUMNS)
    first = rows[0]
    for col, raw in FORMULAS.items():
        assert first[col] == "'" + raw, col
    assert first["score"] == "-0.5" and first["rank"] == "1" and first["label"] == "1"   # numbers stay numbers
    assert rows[1] == {"item_id": "plain item", "patent_id": "US1", "decision": "reject", "label": "0",
                       "note": "a = b, fine", "reviewer": "", "decided_at": rows[1]["decided_at"],
                       "method": "", "score": "3.25", "rank": "2", "id": "2"}
    assert rows[2]["label"] == "" and rows[2]["score"] == "" and rows[2]["rank"] == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary file left


def test_jsonl_keeps_values_raw(formula_store, tmp_path):
    path = tmp_path / "out.jsonl"
    assert export_decisions(formula_store.decisions(), path) == 3
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert list(rows[0]) == list(COLUMNS)
    for col, raw in FORMULAS.items():
        assert rows[0][col] == raw
    assert (rows[0]["score"], rows[0]["rank"], rows[0]["label"]) == (-0.5, 1, 1)
    assert (rows[2]["label"], rows[2]["score"], rows[2]["rank"]) == (None, None, None)


def test_parquet_round_trip(formula_store, tmp_path):
    path = tmp_path / "out.parquet"
    history = formula_store.decisions(latest=False)
    assert export_decisions(history, path) == 3
    table = pq.read_table(path)
    assert table.column_names == list(COLUMNS)
    assert str(table.schema.field("score").type) == "double" and str(table.schema.field("rank").type) == "int64"
    expected = [{"item_id": d.item_id, "patent_id": d.patent_id, "decision": d.decision, "label": d.label,
                 "note": d.note, "reviewer": d.reviewer, "decided_at": d.decided_at, "method": d.method,
                 "score": d.score, "rank": d.rank, "id": d.id} for d in history]
    assert table.to_pylist() == expected
    assert table.to_pylist()[0]["item_id"] == FORMULAS["item_id"]                   # raw, no quote


def test_export_of_nothing_writes_the_header(store, tmp_path):
    assert export_decisions([], tmp_path / "none.csv") == 0
    assert (tmp_path / "none.csv").read_text().strip() == ",".join(COLUMNS)
    assert export_decisions([], tmp_path / "none.parquet") == 0
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0


def test_export_format_errors(store, tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format from the suffix '.xlsx'"):
        export_decisions([], tmp_path / "out.xlsx")
    with pytest.raises(ValueError, match="written by export_training"):
        export_decisions([], tmp_path / "folder")
    with pytest.raises(ValueError, match="unknown decisions format 'xml'"):
        export_decisions([], tmp_path / "out.csv", "xml")
    assert export_decisions([], tmp_path / "out.txt", "tsv") == 0            # an explicit format wins
    assert not (tmp_path / "out.xlsx").exists() and not (tmp_path / "folder").exists()


# ---------------------------------------------------------------------------------------------- export for training
PATENTS = {f"US{k}": {"title": f"Patent {k}", "text": f"claims of patent {k}"} for k in range(1, 7)}
ITEMS = {"i1": "pressure sensor", "i2": "flow meter", "i3": "thermostat"}


def test_export_training_writes_a_beir_folder_load_beir_reads(store, tmp_path):
    store.record("i1", "US1", "accept")
    store.record("i1", "US2", "accept")
    store.record("i1", "US2", "reject")                    # changed mind: rejected now
    store.record("i2", "US3", "unsure")                    # left out
    store.record("new", "US4", "accept", item_text="a brand new gauge")
    store.record("i3", "US5", "reject")                    # a known link the reviewer rejected
    folder = tmp_path / "beir"
    counts = export_training(store, folder, patents={k: v for k, v in PATENTS.items() if k != "US4"},
                             items=ITEMS, known_links=[("i3", "US5"), ("i2", "US6")])
    assert counts == {"positives": 3, "negatives": 2, "queries": 4, "corpus": 5, "unsure_left_out": 1,
                      "missing_item_text": 0}
    qrels = (folder / "qrels" / "reviewed.tsv").read_text().splitlines()
    assert qrels == ["query-id\tcorpus-id\tscore", "i1\tUS1\t1", "i1\tUS2\t0", "i2\tUS6\t1", "i3\tUS5\t0",
                     "new\tUS4\t1"]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").read_text().splitlines())}
    assert queries == {"i1": "pressure sensor", "i2": "flow meter", "i3": "thermostat", "new": "a brand new gauge"}
    corpus = {c["_id"]: c for c in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}
    assert corpus["US4"] == {"_id": "US4", "title": "", "text": ""}          # not in `patents`: empty text
    assert corpus["US1"] == {"_id": "US1", "title": "Patent 1", "text": "claims of patent 1"}
    meta = json.loads((folder / "export.json").read_text())
    assert meta["source"] == str(store.path) and meta["positives"] == 3 and meta["negatives"] == 2

    ds = load_beir(folder)
    assert ds.links == [("i1", "US1"), ("i2", "US6"), ("new", "US4")]
    assert set(ds.items) == {"i1", "i2", "i3", "new"} and len(ds.patents) == 5
    negatives = getattr(ds, "negative_links", None)
    if negatives is not None:                # known negatives are read from the score-0 rows
        assert sorted(negatives) == [("i1", "US2"), ("i3", "US5")]


def test_export_training_counts_items_without_text(store, tmp_path):
    store.record("i9", "US1", "accept")
    counts = export_training(store, tmp_path / "b", patents=PATENTS, items=ITEMS)
    assert counts["missing_item_text"] == 1 and counts["positives"] == 1


def test_export_training_refuses_an_empty_review(store, tmp_path):
    store.record("i1", "US1", "unsure")
    with pytest.raises(ValueError, match="no accepted or rejected decision to export"):
        export_training(store, tmp_path / "b", patents=PATENTS, items=ITEMS)
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------- spreadsheet_safe
@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("abc", "abc"), ("", ""), ("1", "1"), ("a=b", "a=b"), (" =x", " =x"), ("'=x", "'=x"), ("US-1", "US-1"),
    (5, 5), (-3, -3), (-2.5, -2.5), (None, None), (True, True),
])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected
    assert type(spreadsheet_safe(value)) is type(expected)
