"""BigQuery source: SQL + query-parameter construction, checked with a fake client and a fake client library."""

from __future__ import annotations

import datetime as dt
import sys
import types

import pytest

from patlink.hydrate.bigquery import BigQuerySource, build_query, row_to_record
from patlink.hydrate.config import BigQueryConfig


class _Param:
    def __init__(self, *args):
        self.args = args


def _fake_bigquery_module(monkeypatch):
    bq = types.ModuleType("google.cloud.bigquery")
    bq.ArrayQueryParameter = type("ArrayQueryParameter", (_Param,), {})
    bq.ScalarQueryParameter = type("ScalarQueryParameter", (_Param,), {})

    class QueryJobConfig:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    bq.QueryJobConfig = QueryJobConfig
    google = types.ModuleType("google")
    cloud = types.ModuleType("google.cloud")
    cloud.bigquery = bq
    google.cloud = cloud
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.cloud", cloud)
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", bq)
    return bq


class FakeClient:
    """Records each query; returns rows shaped like the SQL's SELECT list."""

    def __init__(self, rows):
        self.rows, self.calls = rows, []

    def query(self, sql, job_config=None):
        self.calls.append((sql, job_config))
        rows = self.rows
        return types.SimpleNamespace(result=lambda: iter(rows))


ROW = {"number": "US10001292", "publication_number": "US-10001292-B2", "kind_code": "B2", "family_id": "56851234",
       "publication_date": 20180619, "filing_date": 20160301, "grant_date": 20180619, "priority_date": 20150302,
       "title": "Fixture title", "abstract": "Fixture  abstract\n\n", "claims": "1. Fixture claim.\n2. Another.",
       "description": "Fixture description.", "cpc": ["G05D23/1917", "F24F11/30"]}


def test_build_query_is_parameterised():
    evil = "US7852519') OR 1=1 --"
    sql, params = build_query(["US10001292", evil])
    assert "@numbers" in sql and "@language" in sql
    assert "US10001292" not in sql and "OR 1=1" not in sql  # inputs never reach the SQL text
    assert params == [("numbers", "STRING", ["US10001292", evil]), ("language", "STRING", "en")]
    assert "`patents-public-data.patents.publications`" in sql
    # one US publication per number: the grant first (not the latest, which may be a reexamination certificate)
    assert "country_code = 'US'" in sql and "PARTITION BY number" in sql and "ORDER BY CASE WHEN kind_code" in sql
    with pytest.raises(ValueError, match="invalid BigQuery table"):
        build_query(["US1"], BigQueryConfig(table="x`; DROP TABLE y; --"))


def test_fetch_with_fake_client(monkeypatch):
    bq = _fake_bigquery_module(monkeypatch)
    client = FakeClient([ROW, {**ROW, "number": "US9999999"}])  # an unasked row is ignored
    src = BigQuerySource(BigQueryConfig(maximum_bytes_billed=10**9), client=client)
    records, errors = src.fetch(["US10001292", "US7000308"])
    assert errors == {"US7000308": "not found in source"} and list(records) == ["US10001292"]
    sql, job = client.calls[0]
    assert "@numbers" in sql
    assert job.kwargs["maximum_bytes_billed"] == 10**9
    arr, scalar = job.kwargs["query_parameters"]
    assert isinstance(arr, bq.ArrayQueryParameter) and arr.args == ("numbers", "STRING", ["US10001292", "US7000308"])
    assert isinstance(scalar, bq.ScalarQueryParameter) and scalar.args == ("language", "STRING", "en")
    r = records["US10001292"]
    assert (r.abstract, r.claims) == ("Fixture abstract", "1. Fixture claim.\n2. Another.")
    assert (r.priority_date, r.publication_date, r.family_id, r.kind) == ("2015-03-02", "2018-06-19", "56851234", "B2")
    assert r.cpc == ["G05D23/1917", "F24F11/30"] and r.source == "bigquery"


def test_row_to_record_accepts_attribute_rows_and_dates():
    row = types.SimpleNamespace(**{**ROW, "publication_date": dt.date(2018, 6, 19), "kind_code": None, "cpc": None})
    r = row_to_record(row)
    assert r.publication_date == "2018-06-19" and r.kind == "B2" and r.cpc == []


def test_missing_library_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)  # import fails
    src = BigQuerySource()
    with pytest.raises(RuntimeError, match=r"patlink\[bigquery\]"):
        src.fetch(["US1"])
