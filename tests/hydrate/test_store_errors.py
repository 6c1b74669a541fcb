"""HydrationStore on files that are not (whole) hydration stores, or that another process holds: one ValueError
whose one-line message names the file and what to do — never a DuckDB traceback, never tables added to another
program's file — and ``patlink hydrate --db FILE`` prints it as one error line (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from patlink.cli.main import main
from patlink.hydrate.records import PatentRecord
from patlink.hydrate.store import HydrationStore, hydrated_texts

NOT_A_STORE = r"is not a patlink hydration store"
LOCKED = (r"is locked by another process \(PID \d+; a running patlink hydrate\?\): wait for it or use another "
          r"--db$")


def _store(path, n=2000):
    """A real store of ``n`` patents with long texts (several MB, so a cut falls inside its data blocks)."""
    with HydrationStore(path) as s:
        s.write_batch([PatentRecord(number=f"US{7000000 + i}", title=f"title {i}", abstract="a" * 1500,
                                    claims="c" * 2500) for i in range(n)], {"US1234567": "not found"})
    return path


def _use(path, read_only):
    """Open ``path`` and do what ``patlink hydrate`` / ``--texts`` do with it."""
    with HydrationStore(path, read_only=read_only) as s:
        numbers = [f"US{7000000 + i}" for i in range(2000)]
        s.count()
        s.missing(numbers)
        s.texts_for(numbers)
        if not read_only:
            s.write_batch([PatentRecord(number="US7999999", title="new")], {})


def _one_line(exc, path, pattern):
    msg = str(exc)
    assert type(exc) is ValueError and "\n" not in msg and str(path) in msg, repr(exc)
    assert __import__("re").search(pattern, msg), msg
    return msg


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_duckdb(tmp_path, read_only):
    junk = tmp_path / "notes.duckdb"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(ValueError) as e:
        HydrationStore(junk, read_only=read_only)
    _one_line(e.value, junk, NOT_A_STORE + r".*patlink hydrate --db")
    assert junk.read_bytes() == b"these are my notes, not a database\n" * 200


@pytest.mark.parametrize("read_only", [False, True])
def test_a_truncated_store_is_one_error_wherever_it_is_cut(tmp_path, read_only):
    data = _store(tmp_path / "full.duckdb").read_bytes()
    outcomes = set()
    for k in range(1, 16):
        cut = tmp_path / f"cut{k}.duckdb"
        cut.write_bytes(data[: len(data) * k // 16])
        try:
            _use(cut, read_only)
            outcomes.add("usable")   # a cut past the blocks in use loses nothing that is read
        except ValueError as e:
            _one_line(e, cut, NOT_A_STORE + r" \(.*truncated or corrupt.*\): delete it and hydrate again")
            outcomes.add("error")
    assert "error" in outcomes


def test_another_programs_duckdb_file_is_refused_and_left_as_it_was(tmp_path):
    other = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (region VARCHAR, amount INTEGER)")
    con.execute("INSERT INTO sales VALUES ('north', 3)")
    con.close()
    for read_only in (False, True):
        with pytest.raises(ValueError) as e:
            HydrationStore(other, read_only=read_only)
        _one_line(e.value, other, NOT_A_STORE + r".*no 'patents' table.*sales")
    con = duckdb.connect(str(other), read_only=True)
    tables = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall())
    con.close()
    assert tables == ["sales"]   # no patents/failures tables were added to it


def test_an_empty_duckdb_file_becomes_a_store(tmp_path):
    db = tmp_path / "fresh.duckdb"
    duckdb.connect(str(db)).close()
    with HydrationStore(db) as s:
        assert s.count() == (0, 0)


@pytest.fixture
def held_store(tmp_path):
    """A store that a second process holds open for writing, as a running ``patlink hydrate`` does."""
    db = _store(tmp_path / "busy.duckdb", n=3)
    hold = ("import sys; from patlink.hydrate.store import HydrationStore; s = HydrationStore(sys.argv[1]); "
            "print('ready', flush=True); sys.stdin.read()")
    writer = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        yield db
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)


def test_a_store_locked_by_a_second_hydrate(held_store):
    for read_only in (False, True):
        with pytest.raises(ValueError) as e:
            HydrationStore(held_store, read_only=read_only)
        _one_line(e.value, held_store, LOCKED)
    with pytest.raises(ValueError, match=LOCKED):
        hydrated_texts(["US7000000"], held_store)


def test_a_path_that_mentions_lock_is_not_taken_for_a_locked_store(tmp_path):
    (tmp_path / "locks").mkdir()
    junk = tmp_path / "locks" / "lock.duckdb"
    junk.write_bytes(b"x" * 5000)
    with pytest.raises(ValueError) as e:
        HydrationStore(junk)
    msg = _one_line(e.value, junk, NOT_A_STORE)
    assert "locked by another process" not in msg


def _hydrate_cli(tmp_path, db, capsys):
    (tmp_path / "numbers.txt").write_text("US7000000\nUS7000001\n")
    (tmp_path / "bulk").mkdir(exist_ok=True)
    code = main(["hydrate", "--numbers", str(tmp_path / "numbers.txt"), "--source", "bulk", "--bulk-dir",
                 str(tmp_path / "bulk"), "--db", str(db)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", ["junk", "truncated", "foreign"])
def test_cli_hydrate_with_a_bad_db_is_one_error_line(tmp_path, capsys, kind):
    db = tmp_path / "h.duckdb"
    if kind == "junk":
        db.write_bytes(b"\x00garbage" * 1000)
    elif kind == "truncated":
        data = _store(tmp_path / "full.duckdb").read_bytes()
        db.write_bytes(data[: len(data) // 2])
    else:
        duckdb.connect(str(db)).execute("CREATE TABLE t (x INTEGER)").close()
    line = _hydrate_cli(tmp_path, db, capsys)
    assert "h.duckdb" in line and "is not a patlink hydration store" in line, line


def test_cli_hydrate_on_a_store_a_running_hydrate_holds(tmp_path, capsys, held_store):
    line = _hydrate_cli(tmp_path, held_store, capsys)
    assert "busy.duckdb is locked by another process" in line and line.endswith("use another --db"), line
