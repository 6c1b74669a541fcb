"""The CLI end to end on a BEIR fixture and on the bundled datasets (BM25 only: fast, offline)."""

import json

from patlink.cli.main import main


def test_data_stats_json(capsys):
    assert main(["data", "stats", "honeywell-vpm", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["items"], out["patents"], out["edges"]) == (1827, 4445, 20203)
    assert out["components"] == 432 and out["missing_text"]["patents"] == 4445


def test_unknown_dataset_is_one_line_error(capsys):
    assert main(["data", "stats", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "pap2pat" in err


def test_check_lists_anomalies_with_lines(capsys):
    assert main(["data", "check", "honeywell-vpm", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["anomaly_counts"]["nbsp_separator"] == 128
    assert all(a["line"] >= 2 for a in rep["anomalies"])
    assert len(rep["products_without_description"]) == 116


def test_export_then_eval_beir(tmp_path, capsys):
    assert main(["data", "export-beir", "pap2pat", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["eval", "--beir", str(tmp_path / "b"), "--method", "bm25", "--bootstrap", "50",
                 "--direction", "item2patent", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("mrr", "map", "ndcg@10", "recall@10", "recall@100", "roc_auc", "pr_auc"):
        assert 0 <= out[k] <= 1 and k in out["ci95"]
    assert out["n_queries"] == 1513 and out["mrr"] > 0.9


def test_eval_both_directions_and_report(tmp_path, capsys):
    assert main(["eval", "--dataset", "pap2pat", "--method", "bm25", "--bootstrap", "50",
                 "--out", str(tmp_path / "r"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "patent2item" in out and out["patent2item"]["n_queries"] == out["n_queries"]
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "curves_item2patent.png").is_file()
    cv = json.loads((tmp_path / "r" / "metrics.json").read_text())["cv"]  # a single split = one fold, seed 0
    assert cv["folds"] == 1 and cv["seed"] == 0 and len(cv["query_fold"]["item2patent"]) == out["n_queries"]
    assert cv["fold_sizes"][0]["test"] == out["n_queries"] and cv["fold_sizes"][0]["train"] > 0


def test_link_prints_ranked_patents(capsys):
    assert main(["link", "--dataset", "pap2pat", "--method", "bm25", "--top", "3", "--json",
                 "perovskite solar cell with a hole transport layer"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 3 and out["results"][0]["score"] >= out["results"][1]["score"]


def test_both_dataset_and_beir_is_an_error(tmp_path, capsys):
    assert main(["eval", "--dataset", "pap2pat", "--beir", str(tmp_path), "--method", "bm25"]) == 2


def test_pool_all_ranks_every_patent(capsys):
    assert main(["eval", "--dataset", "pap2pat", "--method", "bm25", "--bootstrap", "0", "--pool", "all",
                 "--direction", "item2patent", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pool"] == {"queries": 227, "documents": 1513, "empty_queries": 0, "empty_documents": 0}


def test_cli_data_embed_fills_both_caches(tmp_path, monkeypatch):
    from patlink.cli.main import main
    from patlink.data.beir import load_beir
    from patlink.models.token_cache import TokenEmbeddingStore
    from patlink.retrieval.embed import EmbeddingCache, _sha1

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "P1", "title": "Valve", "text": "a check valve"}\n'
                                       '{"_id": "P2", "title": "Pump", "text": "a rotary pump"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "Q1", "text": "valve"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nQ1\tP1\t1\n")
    assert main(["data", "embed", "--beir", str(beir), "--side", "both", "--json"]) == 0
    ds = load_beir(beir)
    texts = list(ds.patent_texts().values()) + list(ds.item_texts().values())
    assert TokenEmbeddingStore("minilm", 256).missing(texts) == []
    assert len(EmbeddingCache("minilm", 256, True).get([_sha1(t) for t in texts])) == 3
    assert main(["data", "embed", "--beir", str(beir), "--side", "nope"]) == 2
