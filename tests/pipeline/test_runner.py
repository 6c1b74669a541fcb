"""End to end: `patlink pipeline run` against the local fixture servers; caching, resume, failures, review."""

import csv
import json
from pathlib import Path

import pytest

from patlink.cli.main import main
from patlink.pipeline.config import FetchConfig, LLMConfig, PipelineConfig, SearchConfig
from patlink.pipeline.review import final_descriptions, import_review
from patlink.pipeline.runner import read_products_file, run_pipeline
from patlink.pipeline.store import PipelineStore

FIX = Path(__file__).parent / "fixtures"


def _script_search(web):
    s = web.search
    s["Honeywell Acme FS-100"] = ["/products/product_fs100.html"]
    s["Honeywell Acme FS-100 datasheet"] = ["/docs/acme-fs-100-datasheet.pdf"]
    s["Honeywell Acme FS-100 technical specifications"] = ["/slow/acme-fs-100.html"]
    s["Honeywell Acme FS-100 user manual"] = ["/private/acme-fs-100.html"]
    s["Honeywell Acme V2"] = ["/products/product_v2.html?acme-v2"]
    s["Honeywell Acme V2 datasheet"] = ["/loop/acme-v2"]
    s["Honeywell Acme V2 technical specifications"] = ["/missing/acme-v2", "/products/product_unrelated.html"]
    s["Honeywell Acme V2 user manual"] = ["/huge/acme-v2.html"]
    s["Honeywell Acme Ghost G0 datasheet"] = ["/missing/acme-ghost-g0"]


@pytest.fixture()
def products(tmp_path):
    f = tmp_path / "products.txt"
    f.write_text("# FIXTURE product list\nAcme FS-100\nAcme V2\nAcme Ghost G0\n")
    return f


def _cli(*args):
    return main([str(a) for a in args])


def _run_args(web, llm, products, db):
    return ["pipeline", "run", "--company", "Honeywell", "--products", products, "--db", db,
            "--search", "searxng", "--searxng-url", web, "--top-k", "2", "--llm-base-url", llm,
            "--llm-model", "fake-model", "--timeout", "1.2", "--retries", "0", "--max-bytes", "1000000",
            "--no-progress", "--json"]


def test_cli_run_all_stages_against_local_servers(web, llm, products, tmp_path, capsys):
    _script_search(web)
    db = tmp_path / "p.duckdb"
    pats = tmp_path / "patents.jsonl"
    pats.write_text(json.dumps({"id": "US 7,123,456 B2", "title": "Thermal flow sensor",
                                "abstract": "A heated element measures flow."}) + "\n")
    assert _cli(*_run_args(web, llm, products, db), "--patents", pats) == 0
    out = json.loads(capsys.readouterr().out)
    run = out["run"]
    assert run["search"]["done"] == 12 and run["search"]["failed"] == 0
    # filter kept the name-matching URLs, dropped the unrelated page
    with PipelineStore(db) as st:
        filt = st.stage_outputs("filter")
        assert web + "/products/product_unrelated.html" in [d["url"] for d in filt["Acme V2"]["dropped"]]
        assert filt["Acme Ghost G0"]["kept"] == [web + "/missing/acme-ghost-g0"]
        fails = {f["key"]: f["error"] for f in st.failures("fetch")}
        assert "timed out" in fails[web + "/slow/acme-fs-100.html"]
        assert "robots.txt" in fails[web + "/private/acme-fs-100.html"]
        assert "redirects" in fails[web + "/loop/acme-v2"]
        assert "HTTP 404" in fails[web + "/missing/acme-v2"]
        assert "byte limit" in fails[web + "/huge/acme-v2.html"]
        done_fetch = set(st.stage_outputs("fetch"))
        assert done_fetch == {web + "/products/product_fs100.html", web + "/docs/acme-fs-100-datasheet.pdf",
                              web + "/products/product_v2.html?acme-v2"}
        ext = st.stage_outputs("extract")
        assert "heated platinum" in " ".join(ext[web + "/docs/acme-fs-100-datasheet.pdf"]["chunks"])
        cond = st.stage_outputs("condense")
        assert cond["Acme FS-100"]["description"] == "PARAGRAPH about Acme FS-100 from 3 bullets."
        assert cond["Acme FS-100"]["method"] == "llm"
        assert "Acme V2" in cond
        assert "no information found" in st.get("condense", "Acme Ghost G0").error  # recorded, not fatal
        summ = st.stage_outputs("patent_summary")["US7123456"]
        assert summ["summary"].startswith("SUMMARY") and len(summ["summary"].split()) == 180
    n_llm = len(llm.requests)
    assert n_llm > 0

    # re-run: nothing is recomputed, no page is fetched again, no LLM call is made
    hits_before = dict(web.hits)
    assert _cli(*_run_args(web, llm, products, db)) == 0
    out2 = json.loads(capsys.readouterr().out)["run"]
    assert out2["search"] == {"done": 0, "cached": 12, "failed": 0, "gave_up": 0}
    assert out2["fetch"]["done"] == 0 and out2["fetch"]["cached"] == 3
    assert out2["condense"]["cached"] == 2
    assert len(llm.requests) == n_llm
    for ok in ("/products/product_fs100.html", "/docs/acme-fs-100-datasheet.pdf", "/products/product_v2.html"):
        assert web.hits[ok] == hits_before[ok] == 1  # finished pages are never fetched again
    assert web.hits["/missing/acme-v2"] == 2  # failed ones are retried (attempt 2 of max 3)

    # status
    assert _cli("pipeline", "status", "--db", db, "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["stages"]["fetch"] == {"done": 3, "failed": 6}
    assert status["products"] == 3 and status["patents_with_text"] == 1
    assert any(f["stage"] == "condense" and f["key"] == "Acme Ghost G0" for f in status["failures"])


def _cfg(db, web, llm=None, **fetch):
    return PipelineConfig(
        company="Honeywell", db_path=db, show_progress=False,
        search=SearchConfig(provider="searxng", searxng_url=web, top_k=1),
        fetch=FetchConfig(timeout_s=1.2, connect_timeout_s=1.2, retries=0, max_bytes=1_000_000, **fetch),
        llm=LLMConfig(base_url=llm, model="m", retries=0) if llm else LLMConfig())


def test_interrupted_run_resumes(web, llm, products, tmp_path, monkeypatch):
    _script_search(web)
    db = tmp_path / "p.duckdb"
    calls = {"n": 0}
    from patlink.pipeline import condense as condense_mod

    orig = condense_mod.Condenser.bullets

    def flaky_bullets(self, product, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the bullets stage
        return orig(self, product, chunk)

    monkeypatch.setattr(condense_mod.Condenser, "bullets", flaky_bullets)
    with PipelineStore(db) as st:
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(_cfg(db, web, llm), st, products_file=products, sleep=lambda s: None)
        assert st.counts()["bullets"]["done"] == 1 and st.counts()["condense"]["done"] == 0
    monkeypatch.setattr(condense_mod.Condenser, "bullets", orig)
    fetched = dict(web.hits)
    with PipelineStore(db) as st:
        rep = run_pipeline(_cfg(db, web, llm), st, sleep=lambda s: None)  # products already in the db
        assert rep["fetch"]["done"] == 0 and rep["fetch"]["cached"] >= 2
        assert rep["bullets"]["cached"] == 1 and rep["bullets"]["done"] >= 1
        assert set(st.stage_outputs("condense")) == {"Acme FS-100", "Acme V2"}
    assert web.hits["/products/product_fs100.html"] == fetched["/products/product_fs100.html"] == 1


def test_changed_input_is_recomputed_and_failures_give_up(web, tmp_path):
    db = tmp_path / "p.duckdb"
    prods = tmp_path / "p.txt"
    prods.write_text("Acme Ghost G0\n")
    web.search["Honeywell Acme Ghost G0"] = ["/missing/acme-ghost-g0"]
    with PipelineStore(db, max_attempts=2) as st:
        for _ in range(3):
            run_pipeline(_cfg(db, web), st, products_file=prods, until="fetch", sleep=lambda s: None)
        assert web.hits["/missing/acme-ghost-g0"] == 2  # third run gave up
        assert st.get("fetch", web + "/missing/acme-ghost-g0").attempts == 2
        rep = run_pipeline(_cfg(db, web), st, until="fetch", retry_failed=True, sleep=lambda s: None)
        assert rep["fetch"]["failed"] == 1 and web.hits["/missing/acme-ghost-g0"] == 3


def test_offline_extractive_run_with_url_list_and_review_roundtrip(web, tmp_path, capsys):
    db = tmp_path / "p.duckdb"
    urls = tmp_path / "urls.tsv"
    urls.write_text(f"product\turl\nAcme Flow Sensor FS-100\t{web}/products/product_fs100.html\n"
                    f"Acme Flow Sensor FS-100\t{web}/docs/acme-fs-100-datasheet.pdf\n")
    vpm = FIX / "vpm_page.html"
    assert _cli("pipeline", "run", "--company", "Honeywell", "--products", vpm, "--urls", urls, "--db", db,
                "--no-progress", "--timeout", "1", "--until", "condense") == 0
    capsys.readouterr()
    with PipelineStore(db) as st:
        assert ("Acme Widget Housing", "USD654321") in st.links()
        desc = st.stage_outputs("condense")["Acme Flow Sensor FS-100"]
        assert desc["method"] == "extractive" and len(desc["description"].split()) <= 150
        assert "flow" in desc["description"].lower()
    review = tmp_path / "review.csv"
    assert _cli("pipeline", "export-review", "--out", review, "--db", db) == 0
    rows = list(csv.DictReader(review.open()))
    assert {r["product"] for r in rows} >= {"Acme Flow Sensor FS-100", "Acme Valve V2"}
    for r in rows:
        if r["product"] == "Acme Valve V2":
            assert r["status"] == "failed" and r["description"] == ""  # nothing found: needs a person
            r["description"] = "A two-way solenoid valve (written by a reviewer)."
        if r["product"] == "Acme Scanner S3":
            r["exclude"] = "yes"
    capsys.readouterr()
    with review.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert _cli("pipeline", "import-review", review, "--reviewer", "alice", "--db", db, "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["fields_changed"] == 2 and res["products_changed"] == 2
    with PipelineStore(db) as st:
        ed = st.edits()
        assert [(e["product"], e["field"], e["old_value"], e["new_value"], e["reviewer"]) for e in ed] == [
            ("Acme Scanner S3", "exclude", "no", "yes", "alice"),
            ("Acme Valve V2", "description", "", "A two-way solenoid valve (written by a reviewer).", "alice")]
        assert fin_exclude(st, "Acme Scanner S3")
        fin = final_descriptions(st)
        assert fin["Acme Valve V2"]["edited"] and fin["Acme Valve V2"]["method"] == "manual"
        assert not fin["Acme Flow Sensor FS-100"]["edited"]
        # importing the same file again changes nothing
        assert import_review(st, review, "alice")["fields_changed"] == 0
        # malformed file: nothing applied, line numbers reported
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({"product": "Acme Flow Sensor FS-100", "description": "new"}) + "\n"
                       + json.dumps({"product": "No Such Product", "description": "x"}) + "\n"
                       + json.dumps({"product": "Acme Flow Sensor FS-100", "exclude": "maybe"}) + "\n")
        with pytest.raises(ValueError, match="line 2.*unknown product.*line 3.*exclude"):
            import_review(st, bad, "bob")
        assert len(st.edits()) == 2
        with pytest.raises(ValueError, match="reviewer"):
            import_review(st, review, " ")
    out = tmp_path / "export"
    assert _cli("pipeline", "export", "--out", out, "--db", db) == 0
    recs = [json.loads(l) for l in (out / "products.jsonl").read_text().splitlines()]
    v2 = next(r for r in recs if r["id"] == "Acme Valve V2")
    assert v2["edited"] and v2["edited_fields"] == ["description"]
    assert (out / "links.tsv").read_text().startswith("product\tpatent\n")


def fin_exclude(st, product):
    return final_descriptions(st)[product]["exclude"]


def test_vpm_command_and_errors(web, tmp_path, capsys):
    db = tmp_path / "v.duckdb"
    assert _cli("pipeline", "vpm", web + "/vpm.html", "--db", db, "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert ["Acme Thermostat T9", "USD654321"] in got["links"]
    assert _cli("pipeline", "vpm", web + "/vpm.pdf", "--json") == 0
    assert ["Acme Lid", "USD600001"] in json.loads(capsys.readouterr().out)["links"]
    with PipelineStore(db) as st:
        assert st.counts()["vpm"]["done"] == 1 and len(st.links()) == 12
    assert _cli("pipeline", "status", "--db", tmp_path / "nope.duckdb") == 2
    assert _cli("pipeline", "run", "--products", tmp_path / "missing.txt", "--db", db) == 2
    assert _cli("pipeline", "run", "--products", FIX / "vpm_page.txt", "--llm-base-url", "http://x", "--db", db) == 2
    assert "--llm-model" in capsys.readouterr().err


def test_read_products_file_formats(tmp_path):
    (tmp_path / "a.csv").write_text("name,other\nWidget A,1\n Widget  B ,2\n")
    assert read_products_file(tmp_path / "a.csv") == (["Widget A", "Widget B"], [])
    (tmp_path / "b.jsonl").write_text(json.dumps({"product": "W", "patents": ["7,123,456"]}) + "\n{bad\n")
    with pytest.raises(ValueError, match=":2:"):
        read_products_file(tmp_path / "b.jsonl")
    (tmp_path / "c.tsv").write_text("Product Name\tAssociated Patent(s)\nW\t7123456; 8234567\n")
    prods, links = read_products_file(tmp_path / "c.tsv")
    assert prods == ["W"] and {(p, n) for p, n, _ in links} == {("W", "US7123456"), ("W", "US8234567")}
