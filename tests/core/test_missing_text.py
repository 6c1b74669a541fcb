"""Patents with and without text are never mixed silently: pools refuse, drop or keep them explicitly, and a text
source can bring new patent fields (``summary``) that become a view."""

from __future__ import annotations

import json

import pytest

from patlink.cli.main import main
from patlink.data import PATENT_TEXT_FIELDS, Dataset, load_dataset
from patlink.data.beir import load_beir
from patlink.data.pools import pools_for
from patlink.evaluation.experiment import evaluate
from patlink.methods import BM25


def _partly(n_without: int = 10) -> Dataset:
    """pap2pat whose first ``n_without`` patents (sorted ids) lost their claims."""
    ds = load_dataset("pap2pat").with_views("abstract", "claims")
    for p in sorted(ds.patents)[:n_without]:
        ds.patents[p]["claims"] = ""
    return ds


def test_summary_is_a_standard_patent_field():
    assert PATENT_TEXT_FIELDS[-1] == "summary"
    ds = load_dataset("pap2pat")
    assert "summary" in ds.patent_fields
    assert ds.patents_with_text("summary") == 0      # nothing summarised yet: an empty view, not an error
    summ = ds.with_patent_texts({p: {"summary": f"summary of {p}"} for p in sorted(ds.patents)[:5]})
    assert summ.patents_with_text("summary") == 5
    assert summ.patent_texts([sorted(ds.patents)[0]], view="summary")[sorted(ds.patents)[0]].startswith("summary of")


def test_text_source_adds_fields_to_a_beir_corpus(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": f"US{7000000 + i}", "title": "", "text": ""})
                                                     for i in range(3)) + "\n")
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "a query"}) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tUS7000000\t1\n")
    ds = load_beir(tmp_path)
    assert "claims" not in ds.patent_fields
    got = ds.with_patent_texts({"US7000000": {"claims": "1. A widget.", "summary": "A widget.", "cpc": "G06F"}})
    assert got.patent_fields[-2:] == ("claims", "summary")       # text fields only, in the standard order
    assert "cpc" not in got.patent_fields
    assert got.patent_texts(view="claims")["US7000000"] == "1. A widget."
    assert "claims" not in ds.patent_fields                       # the original is unchanged


def test_pool_refuses_a_mix_and_keeps_it_when_asked():
    ds = _partly()
    with pytest.raises(ValueError, match=r"10 of the 1513 candidate patents have no text in view claims.*"
                                         r"--missing-text drop"):
        pools_for(ds, ds.links, "all")
    items, patents = pools_for(ds, ds.links, "all", missing_text="keep")
    assert sum(1 for t in patents.values() if not t) == 10
    full = load_dataset("pap2pat").with_views("abstract", "claims")
    assert len(pools_for(full, full.links, "all")[1]) == 1513    # complete data: no error
    with pytest.raises(ValueError, match="unknown missing_text"):
        pools_for(ds, ds.links, "all", missing_text="drop")


def test_without_textless_patents_drops_them_and_their_links():
    ds = _partly()
    gone = set(sorted(ds.patents)[:10])
    ds.negative_links = [(next(i for i, p in ds.links if p == q), sorted(ds.patents)[20]) for q in sorted(gone)[:1]]
    out = ds.without_textless_patents()
    assert set(out.patents) == set(ds.patents) - gone
    assert not any(p in gone for _, p in out.links)
    assert len(out.links) == len(ds.links) - 10                  # pap2pat is one-to-one
    assert out.metadata["textless_patents_dropped"] == 10 and out.metadata["textless_links_dropped"] == 10
    assert out.negative_links == ds.negative_links              # its patent has text: kept
    assert len(ds.patents) == 1513                               # self unchanged
    assert pools_for(out, out.links, "all")[1]                   # no mix left
    with pytest.raises(ValueError, match="none of the 1513 patents"):
        load_dataset("pap2pat").without_textless_patents("summary")


def test_evaluation_reports_coverage():
    ds = _partly().without_textless_patents()
    links = sorted(ds.links)
    res = evaluate(ds, {"bm25": BM25()}, {"train": links[:100], "val": links[100:200],
                                                       "test": links[200:300]}, n_bootstrap=0)
    assert res.context["patents with text"].startswith("1503 of 1503 in view claims (10 without text dropped")
    with pytest.raises(ValueError, match="have no text in view claims"):
        ds2 = _partly(3)
        evaluate(ds2, {"bm25": BM25()}, {"train": links[:100], "val": links[100:200],
                                                      "test": links[200:300]}, pool="all", n_bootstrap=0)


def test_cli_missing_text(tmp_path, capsys):
    """A BEIR folder where two patents have no text: eval refuses (exit 2, one line), drop and keep run."""
    ds = load_dataset("pap2pat").with_views("abstract", "claims")
    ids = sorted(ds.links)[:60]
    (tmp_path / "b" / "qrels").mkdir(parents=True)
    b = tmp_path / "b"
    pats = sorted({p for _, p in ids})
    with open(b / "corpus.jsonl", "w") as f:
        for k, p in enumerate(pats):
            f.write(json.dumps({"_id": p, "title": "", "text": "" if k < 2 else ds.patents[p]["claims"]}) + "\n")
    with open(b / "queries.jsonl", "w") as f:
        for i, _ in ids:
            f.write(json.dumps({"_id": i, "text": ds.items[i]["abstract"]}) + "\n")
    (b / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{i}\t{p}\t1\n" for i, p in ids))
    def run(*args):
        code = main(["eval", "--beir", str(b), "--method", "bm25", "--bootstrap", "0", "--json", *args])
        out = capsys.readouterr()
        return code, out.out + out.err, out.out

    code, out, _ = run()
    assert code == 2, out
    assert "2 of the 60 candidate patents have no text in view title,text" in out
    assert len([line for line in out.splitlines() if "no text" in line]) == 1
    code, out, stdout = run("--missing-text", "drop")
    assert code == 0, out
    assert json.loads(stdout)["n_queries"] == 58
    assert "left out 2 patents without text in view title,text and their 2 links" in out
    code, out, stdout = run("--missing-text", "keep")
    assert code == 0, out
    assert json.loads(stdout)["n_queries"] == 60
    code, out, _ = run("--missing-text", "maybe")
    assert code == 2 and "unknown --missing-text" in out
