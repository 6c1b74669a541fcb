"""HydrationStore (DuckDB) and the hydrated_texts contract."""

from __future__ import annotations

import pytest

from patlink.hydrate.records import PatentRecord
from patlink.hydrate.store import HydrationStore, hydrated_texts


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


def test_hydrated_texts_contract(tmp_path):
    db = tmp_path / "h.duckdb"
    assert hydrated_texts(["US7852519"], db_path=db) == {}  # no store: {} and no file created
    assert not db.exists()
    with HydrationStore(db) as s:
        s.write_batch([_rec("US7852519", claims="1. A fixture claim.", cpc=["G06F3/0488", "H04L67/02"])], {})
    out = hydrated_texts(["7,852,519", "US 7852519 B2", "not a number", "US1"], db_path=db)
    assert list(out) == ["US7852519"]
    f = out["US7852519"]
    assert f["title"] == "Fixture title US7852519" and f["claims"] == "1. A fixture claim."
    assert f["cpc"] == "G06F3/0488; H04L67/02"
    assert "description" not in f  # empty fields are left out
    assert all(isinstance(v, str) for v in f.values())


def test_hydrated_texts_never_raises_on_garbage(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a duckdb file" * 100)
    assert hydrated_texts(["US7852519"], db_path=junk) == {}


def test_hydrated_texts_default_path_follows_patlink_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "c2"))
    assert hydrated_texts(["US7852519"]) == {}
    with HydrationStore(tmp_path / "c2" / "hydrate.duckdb") as s:
        s.write_batch([_rec("US7852519")], {})
    assert set(hydrated_texts(["US7852519"])) == {"US7852519"}
