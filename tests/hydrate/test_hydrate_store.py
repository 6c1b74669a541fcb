"""HydrationStore (DuckDB), its texts_for contract, and the clear errors of a store that cannot be read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patlink.hydrate.records import PatentRecord
from patlink.hydrate.store import HydrationStore, hydrated_texts, open_texts


def _rec(n, **kw):
    return PatentRecord(number=n, title=f"Fixture title {n}", abstract="Fixture abstract", **kw)


def test_write_read_roundtrip_and_failures(tmp_path):
    db = tmp_path / "h.duckdb"
    with HydrationStore(db) as s:
        s.write_batch([_rec("US7852519", cpc=["G06F3/0488", "H04L67/02"], family_id="123")],
                      {"US1234567": "not found in source"}, source="bulk")
        s.write_batch([], {"US1234567": "HTTP 500"}, source="bulk")
        assert s.count() == (1, 1)
        assert s.failed() == {"US1234567": "HTTP 500"}
        attempts = s.con.execute("SELECT attempts FROM failures WHERE number='US1234567'").fetchone()[0]
        assert attempts == 2
        got = s.get(["US7852519", "US1"])
        assert list(got) == ["US7852519"]
        assert got["US7852519"].cpc == ["G06F3/0488", "H04L67/02"] and got["US7852519"].claims == ""
        # a later success clears the failure
        s.write_batch([_rec("US1234567")], {}, source="bulk")
        assert s.count() == (2, 0)


def test_missing_keeps_order_and_skips_fetched(tmp_path):
    with HydrationStore(tmp_path / "h.duckdb") as s:
        s.write_batch([_rec("US2")], {"US3": "boom"})
        assert s.missing(["US4", "US2", "US3", "US4", "US1"]) == ["US4", "US3", "US1"]
        assert s.missing(["US4", "US2", "US3", "US1"], retry_failed=False) == ["US4", "US1"]


def test_failed_batch_write_is_rolled_back(tmp_path):
    with HydrationStore(tmp_path / "h.duckdb") as s:
        bad = _rec("US5")
        bad.cpc = object()  # not storable as VARCHAR[]: the whole batch must roll back
        with pytest.raises((TypeError, ValueError, ArithmeticError, LookupError)):
            s.write_batch([_rec("US6"), bad], {"US7": "x"})
        assert s.count() == (0, 0)


def test_texts_for_contract(tmp_path):
    db = tmp_path / "h.duckdb"
    with HydrationStore(db) as s:
        s.write_batch([_rec("US7852519", claims="1. A fixture claim.", cpc=["G06F3/0488", "H04L67/02"])], {})
    with open_texts(db) as store:
        out = store.texts_for(["7,852,519", "US 7852519 B2", "not a number", "US1"])
    assert list(out) == ["7,852,519", "US 7852519 B2"]  # keyed by the numbers as given, found by canonical form
    assert out["7,852,519"] == out["US 7852519 B2"]
    f = out["7,852,519"]
    assert f["title"] == "Fixture title US7852519" and f["claims"] == "1. A fixture claim."
    assert f["cpc"] == "G06F3/0488; H04L67/02"
    assert "description" not in f  # empty fields are left out
    assert all(isinstance(v, str) for v in f.values())
    assert hydrated_texts(["US7852519"], db) == {"US7852519": f}


def test_missing_store_is_an_error_naming_the_file_and_creates_nothing(tmp_path):
    db = tmp_path / "nowhere" / "h.duckdb"
    with pytest.raises(ValueError, match=r"h\.duckdb does not exist.*patlink hydrate"):
        open_texts(db)
    with pytest.raises(ValueError, match="does not exist"):
        hydrated_texts(["US7852519"], db)
    assert not db.exists() and not db.parent.exists()
    with pytest.raises(ValueError, match="is a folder"):
        open_texts(tmp_path)


def test_corrupt_store_is_an_error_not_an_empty_answer(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(ValueError, match=r"junk\.duckdb is not a patlink hydration store \(not a DuckDB database file\)"):
        hydrated_texts(["US7852519"], junk)
    with pytest.raises(ValueError, match="not a patlink hydration store"):
        HydrationStore(junk)  # writing into it is refused the same way


def test_duckdb_file_without_patents_table_is_an_error(tmp_path):
    import duckdb

    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE x (a INTEGER)")
    con.close()
    with pytest.raises(ValueError, match="no 'patents' table"):
        open_texts(other)


def test_locked_store_is_an_error_naming_the_file(tmp_path):
    db = tmp_path / "busy.duckdb"
    with HydrationStore(db) as s:
        s.write_batch([_rec("US7852519")], {})
    # another process holds the store open for writing, as a running `patlink hydrate` does
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"
    writer = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        with pytest.raises(ValueError, match=r"busy\.duckdb is locked by another process"):
            hydrated_texts(["US7852519"], db)
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    assert set(hydrated_texts(["US7852519"], db)) == {"US7852519"}  # readable again once the writer is gone

