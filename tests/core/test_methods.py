"""The method model: one parser, the same ranking in eval and link, the BEIR pool convention."""

import pytest

from patlink.cli.methods import parse_method, parse_methods
from patlink.methods import BM25, KNN, Dense, Fusion, Hybrid, LinkerMethod, Method, ProfileLeaf


def test_parser_builds_the_documented_objects(tmp_path):
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "best" / "linker.json").write_text("{}")
    assert isinstance(parse_method("bm25"), BM25)
    d = parse_method("dense:mpnet@4")
    assert isinstance(d, Dense) and d.model == "mpnet" and d.windows == 4 and d.name == "dense:mpnet@4"
    h = parse_method("hybrid")
    assert isinstance(h, Hybrid) and h.how == "convex" and [p.name for p in h.parts] == ["bm25", "dense"]
    assert parse_method("hybrid-rrf").how == "rrf" and parse_method("hybrid-convex").how == "convex"
    lk = parse_method(str(run))
    assert isinstance(lk, LinkerMethod) and lk.trained_paths() == [run]
    fused = parse_method(f"{run}+bm25+dense@8")
    assert isinstance(fused, Fusion) and [p.name for p in fused.parts] == ["linker:run", "bm25", "dense@8"]
    assert fused.untuned == "validation" and fused.trained_paths() == [run]
    assert parse_method(f"{run}+bm25")._weights == "stored"
    knn = parse_method(f"knn-linker:{run}+bm25")
    assert isinstance(knn, Fusion) and knn.name == f"knn-linker:{run}+bm25" and knn.parts[0].leaf == "knn-linker"
    assert parse_method("knn:5").param == 5 and not parse_method("knn:5").tunable and KNN().tunable
    assert isinstance(parse_method("popularity"), ProfileLeaf)
    assert list(parse_methods(" bm25 , hybrid ")) == ["bm25", "hybrid"]


@pytest.mark.parametrize("bad, msg", [("nope", "unknown method"), ("dense@0", "bad window count"),
                                      ("knn:x", "bad neighbour count"), ("knn-linker", "needs a trained model"),
                                      ("", "empty method")])
def test_parser_errors_are_clear(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_method(bad)


def test_parser_refuses_a_fusion_with_a_folder_that_is_not_a_linker(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no trained linker"):
        parse_method(f"{tmp_path / 'empty'}+bm25")
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "best" / "linker.json").write_text("{}")
    with pytest.raises(ValueError, match="cannot fuse 'hybrid'"):
        parse_method(f"{run}+hybrid")


def test_for_direction_and_fit_leave_the_original_untouched():
    h = Hybrid()
    d = h.for_direction("patent2item")
    assert h.direction == "item2patent" and d.direction == "patent2item"
    assert all(p.direction == "patent2item" for p in d.parts) and all(p.direction == "item2patent" for p in h.parts)
    with pytest.raises(ValueError, match="unknown direction"):
        h.for_direction("sideways")
    with pytest.raises(ValueError, match="cannot rank patent2item"):
        parse_method("popularity").for_direction("patent2item")
    assert isinstance(h, Method) and h.fit(None) is h


@pytest.mark.slow
def test_hybrid_is_the_same_ranking_in_eval_and_link():
    """pap2pat (bundled, real): `patlink eval --method hybrid --pool all` and `patlink link --method hybrid` tune
    the same α on the same validation links and rank a test paper identically over all 1,513 patents."""
    from patlink.data import load_dataset
    from patlink.evaluation.experiment import evaluate, resolve_splits
    from patlink.linking import link

    ds = load_dataset("pap2pat")
    splits = resolve_splits(ds, seed=0)
    probe = sorted({i for i, _ in splits["test"]})[:3]
    res = evaluate(ds, {"hybrid": Hybrid()}, {**splits, "test": [x for x in splits["test"] if x[0] in probe]},
                   pool="all", directions=("item2patent",), n_bootstrap=0, depth=10)["hybrid"]["item2patent"]
    hits = link(ds, Hybrid(), {i: ds.item_texts([i])[i] for i in probe}, top_k=10)
    for q in probe:
        assert [c.id for c in hits[q]] == list(res.run[q])
        assert [c.score for c in hits[q]] == pytest.approx(list(res.run[q].values()))
    assert res.method == f"hybrid[convex(α={res.alpha:.2f})]"


def test_beir_folder_ranks_the_whole_corpus_by_default(tmp_path):
    """A BEIR folder's queries rank every corpus document (BEIR/MTEB convention), not only the judged ones."""
    from patlink.data.beir import export_beir, load_beir
    from patlink.data.dataset import Dataset
    from patlink.evaluation.experiment import default_pool, evaluate

    patents = {f"p{k}": {"title": f"pump valve seal number {k}"} for k in range(12)}
    items = {f"i{k}": {"text": f"pump valve seal number {k}"} for k in range(4)}
    links = [(f"i{k}", f"p{k}") for k in range(4)]
    ds = Dataset("toy", items, patents, links)
    folder = export_beir(ds, tmp_path / "beir", splits={"test": links[:2], "train": links[2:]})
    beir = load_beir(folder)
    assert default_pool(beir) == "all" and default_pool(ds) == "split"
    res = evaluate(beir, BM25(), directions=("item2patent",), n_bootstrap=0)["bm25"]["item2patent"]
    assert res.pool["documents"] == 12 and res.pool["queries"] == 2
    only_judged = evaluate(beir, BM25(), pool="split", directions=("item2patent",), n_bootstrap=0)
    assert only_judged["bm25"]["item2patent"].pool["documents"] == 2
