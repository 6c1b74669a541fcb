"""``patlink data export`` / :func:`patlink.data.export.export_dataset`: what was hydrated or summarised goes out in
the chosen view, is read back unchanged, and the export says how many patents have text."""

from __future__ import annotations

import json

import pytest

from patlink.cli.main import main
from patlink.data import load_dataset, read_corpus
from patlink.data.beir import load_beir
from patlink.data.export import export_dataset
from patlink.data.links import read_links


@pytest.fixture(scope="module")
def hw_partly():
    """honeywell-vpm with texts for 5 patents (title, claims, summary, kind) — as a hydration store gives them."""
    ds = load_dataset("honeywell-vpm")
    some = sorted(ds.patents)[:5]
    texts = {p: {"title": f"Title {p}", "claims": f"1. A device of {p}.", "summary": f"Summary of {p}.",
                 "kind": "B2", "source": "bulk-uspto-xml"} for p in some}
    return ds.with_patent_texts(texts), some


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_table_export_round_trip(tmp_path, fmt):
    ds = load_dataset("pap2pat").with_views("abstract", "title,claims")
    rep = export_dataset(ds, tmp_path, fmt)
    assert rep.files == [f"patents.{fmt}", f"items.{fmt}", f"links.{fmt}", "export.json"]
    assert rep.patents == rep.patents_with_text == 1513
    corpus = read_corpus(tmp_path / f"patents.{fmt}")
    assert corpus.text_fields == ("title", "claims")
    got = dict(zip(corpus.ids, corpus.texts))
    assert got == ds.patent_texts()                                # exactly what methods read in that view
    items = read_corpus(tmp_path / f"items.{fmt}", side="items")
    assert dict(zip(items.ids, items.texts)) == ds.item_texts()
    assert sorted(read_links(tmp_path / f"links.{fmt}")) == sorted(ds.links)
    meta = json.loads((tmp_path / "export.json").read_text())
    assert meta["patent_view"] == ["title", "claims"] and meta["patents_without_text"] == 0


def test_summary_view_export_counts_patents_without_text(tmp_path, hw_partly):
    ds, some = hw_partly
    rep = export_dataset(ds.with_views(patent_view="summary"), tmp_path, "jsonl")
    assert rep.patents == len(ds.patents) and rep.patents_with_text == 5
    rows = [json.loads(line) for line in (tmp_path / "patents.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert by_id[some[0]]["summary"] == f"Summary of {some[0]}."
    assert by_id[some[0]]["kind"] == "B2" and by_id[some[0]]["source"] == "bulk-uspto-xml"
    assert "claims" not in by_id[some[0]]                          # only the view and bibliographic fields
    assert sum(1 for r in rows if r["summary"]) == 5
    assert json.loads((tmp_path / "export.json").read_text())["patents_without_text"] == len(ds.patents) - 5


def test_beir_export_of_dropped_dataset(tmp_path, hw_partly):
    ds, some = hw_partly
    kept = ds.with_views(patent_view="title,claims").without_textless_patents()
    rep = export_dataset(kept, tmp_path, "beir")
    assert rep.files[:2] == ["corpus.jsonl", "queries.jsonl"]
    back = load_beir(tmp_path)
    assert sorted(back.patents) == some
    assert sorted(back.links) == sorted(kept.links) and all(p in some for _, p in back.links)
    assert back.patents[some[0]]["title"] == f"Title {some[0]}"
    assert back.patents[some[0]]["text"] == f"1. A device of {some[0]}."


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "x"
    code = main(["data", "export", "pap2pat", "--patent-view", "claims", "--format", "parquet", "--out", str(out),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["patents_with_text"] == 1513
    assert (out / "patents.parquet").is_file()
    code = main(["data", "export", "pap2pat", "--format", "csv", "--out", str(out)])
    assert code == 2 and "unknown --format 'csv'" in capsys.readouterr().err
    code = main(["data", "export", "honeywell-vpm", "--patent-view", "summary", "--format", "beir", "--out",
                 str(tmp_path / "hw")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "0 with text in view summary, 4445 WITHOUT" in " ".join(captured.out.split())


def test_read_corpus_of_a_store_reads_its_summaries(tmp_path):
    """A hydration store with summaries (also of numbers without a patents row) read as a corpus has a summary
    column: `patlink index STORE --text-fields summary` indexes what `patlink summarise` wrote."""
    from patlink.hydrate.records import PatentRecord
    from patlink.hydrate.store import HydrationStore
    from patlink.hydrate.summaries import SummaryRow

    db = tmp_path / "s.duckdb"
    with HydrationStore(db) as store:
        store.write_batch([PatentRecord("US7852519", title="Valve", claims="1. A valve.")])
        for n, text in (("US7852519", "A valve summary."), ("US20130210636", "An application summary.")):
            store.summaries.put(SummaryRow(n, text, "extractive", "lexrank:minilm", "h", 1, 10, 3))
    corpus = read_corpus(db, text_fields="summary")
    assert dict(zip(corpus.ids, corpus.texts)) == {"US20130210636": "An application summary.",
                                                   "US7852519": "A valve summary."}
    full = read_corpus(db, text_fields="title,claims")
    assert dict(zip(full.ids, full.texts)) == {"US7852519": "Valve\n1. A valve."}
    app = read_corpus("pap2pat", texts=db, text_fields="summary")   # a dataset given the store's summaries
    assert dict(zip(app.ids, app.texts)) == {"US20130210636": "An application summary."}
    assert len(app.empty) == 1512                                    # the others have none: counted, not hidden
