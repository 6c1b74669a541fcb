"""Resumable runs, numbers files, the CLI, and the honeywell-vpm dataset given a store's texts."""

from __future__ import annotations

import json

import pytest

from patlink.hydrate.bulk import BulkSource
from patlink.hydrate.config import BulkConfig, HydrateConfig
from patlink.hydrate.runner import hydrate, read_numbers_file
from patlink.hydrate.store import HydrationStore, hydrated_texts

HONEYWELL = ["US10001292", "US7000308", "US6201715"]  # real honeywell-vpm numbers; only 2 in the fixtures


class Counting:
    """Wraps a source and records every batch it is asked for."""

    name = "bulk"

    def __init__(self, inner):
        self.inner, self.batches = inner, []

    def fetch(self, numbers):
        self.batches.append(list(numbers))
        return self.inner.fetch(numbers)

    def close(self):
        pass


def test_resumable_run(fixtures_dir, tmp_path):
    cfg = HydrateConfig(source="bulk", db_path=tmp_path / "h.duckdb", batch_size=2)
    src = Counting(BulkSource(BulkConfig(fixtures_dir / "bulk")))
    s1 = hydrate(["10,001,292", "US-7000308-B2", "US 6201715 B1", "US10001292", "garbage"], cfg, source=src)
    assert src.batches == [["US10001292", "US7000308"], ["US6201715"]]
    assert sorted(s1.fetched) == ["US10001292", "US7000308"] and s1.cached == []
    assert s1.failed == {"US6201715": "not found in source"}
    assert s1.requested == 3 and [x[1] for x in s1.invalid] == ["garbage"]

    src.batches.clear()
    s2 = hydrate(HONEYWELL, cfg, source=src)  # second run: only the failed number is retried
    assert src.batches == [["US6201715"]] and s2.cached == ["US10001292", "US7000308"] and s2.fetched == []

    src.batches.clear()
    cfg.retry_failed = False
    s3 = hydrate(HONEYWELL, cfg, source=src)
    assert src.batches == [] and s3.skipped_failed == ["US6201715"]
    with HydrationStore(cfg.db_path) as st:
        assert st.count() == (2, 1)
        assert st.con.execute("SELECT attempts FROM failures").fetchone()[0] == 2


def test_source_errors_are_recorded_per_number(tmp_path):
    class Broken:
        name = "bulk"

        def __init__(self):
            self.calls = 0

        def fetch(self, numbers):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("network down")
            return {}, {}  # forgets its numbers

        def close(self):
            pass

    cfg = HydrateConfig(source="bulk", db_path=tmp_path / "h.duckdb", batch_size=1)
    s = hydrate(["US1234567", "US2345678"], cfg, source=Broken())
    assert s.failed == {"US1234567": "ConnectionError: network down",
                        "US2345678": "source returned nothing for this number"}


def test_read_numbers_file(tmp_path):
    f = tmp_path / "numbers.csv"
    f.write_text("publication_number\nUS7852519\n7,852,519\n\n# a comment\nUS-7000308-B2\nnot-a-patent\n"
                 "US 10001292 B2,Fixture product\n", encoding="utf-8")
    numbers, invalid = read_numbers_file(f)
    assert numbers == ["US7852519", "US7000308", "US10001292"]
    assert [(w, t) for w, t, _ in invalid] == [("line 7", "not-a-patent")]
    with pytest.raises(FileNotFoundError):
        read_numbers_file(tmp_path / "missing.txt")


def test_honeywell_dataset_gets_hydrated_texts_only_when_given_the_store(fixtures_dir, tmp_path, monkeypatch):
    from patlink.data import load_dataset
    from patlink.hydrate.store import open_texts

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "cache"))  # the default store of `patlink hydrate`
    summary = hydrate(HONEYWELL, HydrateConfig(source="bulk", bulk=BulkConfig(fixtures_dir / "bulk")))
    db = tmp_path / "cache" / "hydrate.duckdb"
    assert summary.db_path == str(db)
    texts = hydrated_texts(HONEYWELL, db)
    assert sorted(texts) == ["US10001292", "US7000308"]
    assert texts["US7000308"]["title"] == "Fixture indicia reader with dual illumination"

    plain = load_dataset("honeywell-vpm")  # a store at the default path is NOT read implicitly
    assert plain.patents_with_text() == 0 and plain.metadata["hydrated_patents"] == 0
    assert plain.patents["US10001292"] == {}

    with open_texts(db) as store:
        ds = load_dataset("honeywell-vpm", texts=store)
    assert ds.metadata["hydrated_patents"] == 2 and ds.metadata["patent_texts_from"] == str(db)
    assert ds.patents_with_text() == 2 and ds.missing_text()["patents"] == len(ds.patents) - 2
    assert ds.patents["US10001292"]["title"] == 'Fixture wall module with a "quoted" title'
    assert ds.patent_texts(["US7000308"], view="title,claims")["US7000308"].startswith(
        "Fixture indicia reader with dual illumination\n1. A fixture indicia reader")
    assert ds.patents["US6201715"] == {}  # not hydrated: stays text-less
    assert load_dataset("honeywell-vpm").patents_with_text() == 0  # the hydrated copy did not leak into the cache


def test_cli_numbers_file_json(fixtures_dir, tmp_path, capsys):
    from patlink.cli.main import main

    f = tmp_path / "n.txt"
    f.write_text("US10001292\nUS6201715\nbogus\n")
    db = tmp_path / "cli.duckdb"
    rc = main(["hydrate", "--numbers", str(f), "--source", "bulk", "--bulk-dir", str(fixtures_dir / "bulk"),
               "--db", str(db), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["requested"], out["fetched"], out["failed"], out["invalid"]) == (2, 1, 1, 1)
    assert out["invalid_inputs"][0][:2] == ["line 3", "bogus"]
    rc = main(["hydrate", "--numbers", str(f), "--source", "bulk", "--bulk-dir", str(fixtures_dir / "bulk"),
               "--db", str(db)])
    assert rc == 0
    assert "already cached" in capsys.readouterr().out
    assert set(hydrated_texts(["US10001292"], db)) == {"US10001292"}


def test_cli_user_errors(tmp_path, capsys):
    from patlink.cli.main import main

    assert main(["hydrate"]) == 2
    assert main(["hydrate", "honeywell-vpm", "--source", "bulk"]) == 2
    assert main(["hydrate", "honeywell-vpm", "--source", "ftp"]) == 2
    err = capsys.readouterr().err
    assert "--bulk-dir" in err and "unknown --source" in err
