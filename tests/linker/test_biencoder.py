"""The bi-encoder (``patlink train --architecture biencoder``) on a small subset of the real pap2pat data (paper
abstract → patent claims): run folder, validation, NO_DUPLICATES batches, mined negatives, eval and fusion, the
leakage check, folds, resume, asymmetric routes.

Sizes are kept small (64 training links, 16 validation, 16 test, batches of 8, 64 tokens, one torch thread) so a
training takes ~10-30 s on 2 shared CPU cores. On this subset one epoch lifts the validation MRR of the base MiniLM
(0.86 / 0.91 → 0.91 / 0.91, seed 0).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from patlink.training.biencoder import BiEncoderConfig, train_biencoder

TINY = {"max_length": 64, "batch_size": 8, "eval_batch_size": 32, "lr": 5e-5, "epochs": 1, "threads": 1}


def _subset(n: int = 96, extra: list[tuple[str, str]] | None = None):
    """The first ``n`` pap2pat links (abstract → claims) as a dataset of their papers and patents."""
    from patlink.data import load_dataset

    ds = load_dataset("pap2pat").with_views("abstract", "claims")
    links = sorted(ds.links)[:n] + list(extra or [])
    items = {i: ds.items[i] for i, _ in links}
    patents = {p: ds.patents[p] for _, p in links}
    return dataclasses.replace(ds, items=items, patents=patents, links=links, link_splits={})


def _split(links):
    links = sorted(links)
    return {"train": links[:64], "val": links[64:80], "test": links[80:96]}


@pytest.fixture(scope="module", autouse=True)
def _own_cache(tmp_path_factory):
    """Window vectors of a trained model are cached under its fingerprint, new at every training: keep them out of
    the shared cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PATLINK_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(scope="module")
def subset():
    return _subset()


@pytest.fixture(scope="module")
def beir(subset, tmp_path_factory):
    from patlink.data.beir import export_beir

    return export_beir(subset, tmp_path_factory.mktemp("beir") / "p2p", splits=_split(subset.links))


@pytest.fixture(scope="module")
def cli_run(beir, tmp_path_factory):
    """One bi-encoder trained through ``patlink train`` on the BEIR export (1 epoch)."""
    from patlink.cli.main import main

    tmp = tmp_path_factory.mktemp("run")
    cfg = tmp / "cfg.json"
    cfg.write_text(json.dumps({k: v for k, v in TINY.items() if k != "epochs"}))
    out = tmp / "be"
    rc = main(["train", "--architecture", "biencoder", "--beir", str(beir), "--out", str(out), "--config", str(cfg),
               "--epochs", "1", "--device", "cpu"])
    assert rc == 0
    return out


def test_run_folder_layout(cli_run, beir):
    out = cli_run
    for name in ("config.json", "split.json", "metrics.json", "biencoder.json", "fusion.json", "best/modules.json",
                 "best/biencoder_model.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()   # a finished run keeps no trainer checkpoint
    from patlink.data.beir import load_beir

    qs = load_beir(beir).link_splits
    split = json.loads((out / "split.json").read_text())
    assert {k: sorted(map(tuple, v)) for k, v in split.items() if v} == {
        "train": sorted(qs["train"]), "val": sorted(qs["val"]), "test": sorted(qs["test"])}
    m = json.loads((out / "metrics.json").read_text())
    assert m["finished"] is True and m["architecture"] == "biencoder"
    assert [e["epoch"] for e in m["epochs"]] == [0, 1]
    for e in m["epochs"]:
        for d in ("mrr_item2patent", "mrr_patent2item"):
            assert 0 < e["val"][d] <= 1
    assert "train_time_s" not in m["epochs"][0] and m["epochs"][1]["train_time_s"] > 0
    assert m["seconds_per_epoch"] == m["epochs"][1]["train_time_s"]
    assert m["peak_rss_mib"] > 100
    marker = json.loads((out / "biencoder.json").read_text())
    assert marker["format"] == "patlink-biencoder-run/1" and marker["windows"] == 1 and marker["max_length"] == 64
    assert marker["best_epoch"] == m["best_epoch"] and marker["fusion"]["alpha"] == m["fusion"]["alpha"]
    best = max(m["epochs"], key=lambda e: e["val"]["mrr_mean"])
    assert m["best_epoch"] == best["epoch"] and m["best_metric"] == pytest.approx(best["val"]["mrr_mean"])


def test_best_loads_and_moved_from_the_base(cli_run):
    from sentence_transformers import SentenceTransformer

    from patlink.config import resolve_model_path

    m = json.loads((cli_run / "metrics.json").read_text())
    assert m["best_epoch"] == 1, "one epoch beats the base model on this subset (seed 0)"
    tuned = SentenceTransformer(str(cli_run / "best"), device="cpu")
    base = SentenceTransformer(resolve_model_path("minilm"), device="cpu")
    a, b = dict(tuned.named_parameters()), dict(base.named_parameters())
    assert a.keys() == b.keys()
    moved = [k for k in a if not np.allclose(a[k].detach().numpy(), b[k].detach().numpy())]
    assert len(moved) > len(a) // 2   # end to end: (nearly) every tensor of the backbone trained
    info = json.loads((cli_run / "best" / "biencoder_model.json").read_text())
    assert (info["epoch"], info["step"]) == (m["best_epoch"], m["best_step"]) == (1, 8)


def test_eval_cli_run_and_run_plus_bm25(cli_run, beir, tmp_path, capsys):
    from patlink.cli.main import main

    rc = main(["eval", "--beir", str(beir), "--method", f"bm25,{cli_run},{cli_run}+bm25", "--bootstrap", "0",
               "--device", "cpu", "--out", str(tmp_path / "ev")])
    assert rc == 0
    res = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    text = json.dumps(res, ensure_ascii=False)
    alpha = json.loads((cli_run / "fusion.json").read_text())
    for d in ("item2patent", "patent2item"):
        assert f"convex(α={alpha[f'alpha_{d}']:.2f})" in text   # the weight stored at training is the one used
    assert "biencoder:be" in text


def test_runs_name_at_n_reads_more_windows(cli_run):
    from patlink.cli.methods import parse_method
    from patlink.methods import BiEncoderMethod, Fusion

    m = parse_method(f"{cli_run}@3")
    assert isinstance(m, BiEncoderMethod) and m.windows == 3 and m.name == "biencoder:be@3"
    assert parse_method(str(cli_run)).windows == 1
    f = parse_method(f"{cli_run}@3+bm25")
    assert isinstance(f, Fusion) and f.parts[0].windows == 3
    ds = _subset()
    i, p = min(ds.links)
    docs = ds.patent_texts([p, sorted(ds.links)[1][1]])   # claims: far longer than 3 windows of 32 tokens
    one, three = parse_method(str(cli_run)), parse_method(f"{cli_run}@3")
    one.index(docs)
    three.index(docs)
    _, _, s1 = one.score_matrix(ds.item_texts([i]))
    _, _, s3 = three.score_matrix(ds.item_texts([i]))
    assert s1.shape == s3.shape == (1, 2) and np.abs(s1 - s3).max() > 1e-3


def test_leakage_check_refuses_the_runs_training_links(cli_run, beir, tmp_path, capsys):
    from patlink.cli.main import main

    split = json.loads((cli_run / "split.json").read_text())
    d = tmp_path / "leaky"
    d.mkdir()
    parts = {"train": split["val"], "val": split["test"], "test": split["train"]}   # test = the run's train links
    for name, links in parts.items():
        (d / f"{name}.tsv").write_text("item_id\tpatent_id\n" + "".join(f"{i}\t{p}\n" for i, p in links))
    rc = main(["eval", "--beir", str(beir), "--split-dir", str(d), "--method", f"{cli_run}+bm25", "--bootstrap",
               "0", "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "was trained or validated on" in err and "64 of the 64" in err.replace("\n", " ")


def _capture(tmp_path, ds, split, cfg):
    """Build the trainer of ``cfg`` and stop before the first step; returns what the trainer would train on."""
    from transformers import TrainerCallback

    seen: dict = {}

    class Stop(Exception):
        pass

    class Capture(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):
            seen["sampler"] = train_dataloader.batch_sampler
            seen["dataset"] = train_dataloader.dataset
            raise Stop

    with pytest.raises(Stop):
        train_biencoder(ds, split, cfg, tmp_path / "run", callbacks=[Capture()])
    return seen


def test_no_duplicates_batches_keep_a_querys_positives_apart(tmp_path):
    base = _subset()
    links = sorted(base.links)
    item = links[0][0]
    extra = [(item, p) for _, p in links[1:4]]   # one paper with 4 patents: 4 training rows with the same anchor
    ds = dataclasses.replace(base, links=links + extra)
    split = {"train": links[:64] + extra, "val": links[64:80], "test": links[80:96]}
    seen = _capture(tmp_path, ds, split, BiEncoderConfig(**TINY))
    sampler, data = seen["sampler"], seen["dataset"]
    assert type(sampler).__name__ == "NoDuplicatesBatchSampler"
    anchors = data["anchor"]
    rows = [k for k, a in enumerate(anchors) if a == base.item_texts([item])[item]]
    assert len(rows) == 4 and len(anchors) == 67
    for epoch in range(5):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        batches = [list(b) for b in sampler]
        assert sum(len(b) for b in batches) >= 64
        for b in batches:
            assert len(set(b) & set(rows)) <= 1   # never two positives of one query in a batch
            texts = [anchors[k] for k in b] + [data["positive"][k] for k in b]
            assert len(texts) == len(set(texts))


def test_mined_negatives_come_from_training_patents_only(tmp_path, subset):
    split = _split(subset.links)
    cfg = BiEncoderConfig(**TINY, negatives="mined", mine_with="bm25", n_negatives=2)
    data = _capture(tmp_path, subset, split, cfg)["dataset"]
    assert data.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    texts = subset.patent_texts()
    from patlink.data.chunking import backbone_chunks

    first = {backbone_chunks(texts[p], "minilm", 32, 1)[0]: p for p in texts}
    train_patents = {p for _, p in split["train"]}
    positive_of = {subset.item_texts([i])[i]: p for i, p in split["train"]}
    for row in data:
        for c in ("negative_1", "negative_2"):
            neg = first[row[c]]
            assert neg in train_patents and neg != positive_of[row["anchor"]]


def test_metrics_record_what_mining_did(tmp_path, subset):
    """metrics.json holds the mining report (queries, negatives kept, dropped above the margin, skipped) from the
    first validation on."""
    from transformers import TrainerCallback

    class Stop(Exception):
        pass

    class AfterFirstValidation(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kw):   # eval_on_start has written metrics.json
            raise Stop

    split = _split(subset.links)
    cfg = BiEncoderConfig(**TINY, negatives="mined", mine_with="bm25", n_negatives=2, tune_fusion=False)
    with pytest.raises(Stop):
        train_biencoder(subset, split, cfg, tmp_path / "run", callbacks=[AfterFirstValidation()])
    r = json.loads((tmp_path / "run" / "metrics.json").read_text())["mining"]
    n = len({i for i, _ in split["train"]})
    assert r["strategy"] == cfg.mine_strategy and r["n_negatives"] == 2 and r["queries"] == n
    assert r["full"] + r["short"] + r["skipped"] == n and 0 < r["kept"] <= 2 * n
    assert r["summary"].startswith(f"{cfg.mine_strategy}: {r['full']}/{n} queries with 2 negatives")
    assert set(r["skipped_examples"]) <= set(subset.items)


def test_resume_after_interruption(tmp_path, subset):
    from transformers import TrainerCallback

    from patlink.training.runs import is_finished

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 8:
                raise KeyboardInterrupt

    split, out = _split(subset.links), tmp_path / "run"
    cfg = BiEncoderConfig(**{**TINY, "epochs": 2}, tune_fusion=False)
    with pytest.raises(KeyboardInterrupt):
        train_biencoder(subset, split, cfg, out, callbacks=[Interrupt()])
    assert not is_finished(out) and (out / "checkpoints" / "checkpoint-8" / "trainer_state.json").is_file()
    before = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in before["epochs"]] == [0, 1]
    with pytest.raises(ValueError, match=r"config differs in \['lr'\]"):
        train_biencoder(subset, split, dataclasses.replace(cfg, lr=3e-5), out, resume=True)
    lines: list[str] = []
    res = train_biencoder(subset, split, cfg, out, resume=True, log=lines.append)
    assert any("resuming from" in x and "checkpoint-8" in x for x in lines)
    assert sum(x.startswith("epoch ") for x in lines) == 1   # only epoch 2 was trained and validated again
    after = json.loads((out / "metrics.json").read_text())
    assert after["finished"] and [e["epoch"] for e in after["epochs"]] == [0, 1, 2]
    assert after["epochs"][:2] == before["epochs"]   # kept, not recomputed
    assert [s["step"] for s in after["steps"]] == sorted({s["step"] for s in after["steps"]})
    assert max(s["step"] for s in after["steps"]) == 16
    assert not (out / "checkpoints").exists() and res.best_epoch in (0, 1, 2)
    assert train_biencoder(subset, split, cfg, out, resume=True).best_epoch == res.best_epoch   # finished: as is


def test_asymmetric_routes_embed_the_same_text_differently(tmp_path, subset):
    from sentence_transformers import SentenceTransformer

    from patlink.methods import BiEncoderMethod

    out = tmp_path / "asym"
    res = train_biencoder(subset, _split(subset.links), BiEncoderConfig(**TINY, asymmetric=True, tune_fusion=False),
                          out)
    assert res.best_epoch == 1
    st = SentenceTransformer(str(out / "best"), device="cpu")
    assert type(st[0]).__name__ == "Router"
    text = subset.item_texts()[min(subset.items)]
    m = BiEncoderMethod(out, cache=False)
    as_item = m.for_direction("item2patent").encode_queries([text])
    as_patent = m.for_direction("item2patent").encode_documents([text])
    assert float(as_item[0] @ as_patent[0]) < 0.9999
    # patent→item: the patents are the queries, still through the document route
    np.testing.assert_allclose(m.for_direction("patent2item").encode_queries([text]), as_patent, atol=1e-6)
    assert json.loads((out / "biencoder.json").read_text())["routes"] == {"item": "query", "patent": "document"}


def test_folds_layout_and_cross_validated_eval(beir, tmp_path, capsys):
    from patlink.cli.main import main
    from patlink.cli.methods import parse_method

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**{k: v for k, v in TINY.items() if k != "epochs"}, "tune_fusion": False}))
    out = tmp_path / "cv"
    rc = main(["train", "--architecture", "biencoder", "--beir", str(beir), "--out", str(out), "--config",
               str(cfg), "--epochs", "1", "--folds", "2", "--device", "cpu"])
    assert rc == 0
    tests = []
    for f in (0, 1):
        sub = out / f"fold{f}"
        assert (sub / "biencoder.json").is_file() and (sub / "best" / "modules.json").is_file()
        tests.append({tuple(x) for x in json.loads((sub / "split.json").read_text())["test"]})
    assert tests[0] and tests[1] and not tests[0] & tests[1]
    m = parse_method(str(out))
    assert m.with_subfolder("fold1").path == out / "fold1"
    rc = main(["eval", "--beir", str(beir), "--folds", "2", "--method", str(out), "--bootstrap", "0", "--device",
               "cpu", "--json"])
    assert rc == 0
    # a second call skips the finished folds
    rc = main(["train", "--architecture", "biencoder", "--beir", str(beir), "--out", str(out), "--config",
               str(cfg), "--epochs", "1", "--folds", "2", "--device", "cpu"])
    assert rc == 0 and capsys.readouterr().out.count("already trained") == 2


def test_config_and_cli_errors(tmp_path, capsys):
    from patlink.cli.main import main

    with pytest.raises(ValueError, match="loss"):
        BiEncoderConfig(loss="triplet").validate()
    with pytest.raises(ValueError, match="unknown bi-encoder config key"):
        BiEncoderConfig.from_dict({"temperature": 0.05})
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        BiEncoderConfig(batch_size=1).validate()
    assert BiEncoderConfig.from_dict(BiEncoderConfig(windows=4).to_dict()) == BiEncoderConfig(windows=4)
    out = str(tmp_path / "x")
    assert main(["train", "--dataset", "pap2pat", "--out", out, "--loss", "mnrl"]) == 2
    assert "bi-encoder option" in capsys.readouterr().err
    assert main(["train", "--dataset", "pap2pat", "--out", out, "--architecture", "cross"]) == 2
    assert "unknown --architecture" in capsys.readouterr().err
    assert main(["train", "--dataset", "pap2pat", "--out", out, "--architecture", "biencoder", "--loss", "x"]) == 2
    assert "loss" in capsys.readouterr().err
    assert not Path(out).exists()


def test_cached_mnrl_one_direction_on_two_windows(tmp_path):
    """GradCache MNRL, items → patents only, each patent read as 2 windows: one training row per window."""
    ds = _subset(48)
    links = sorted(ds.links)
    split = {"train": links[:32], "val": links[32:40], "test": links[40:48]}
    cfg = BiEncoderConfig(max_length=32, batch_size=8, mini_batch_size=4, loss="cached-mnrl", bidirectional=False,
                          windows=2, epochs=1, threads=1, tune_fusion=False)
    res = train_biencoder(ds, split, cfg, tmp_path / "run")
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["n_train_links"] == 32 and m["n_train_rows"] == 64   # claims are longer than 2 × 30 tokens
    assert m["finished"] and len(m["steps"]) == 8 and all(np.isfinite(s["loss"]) for s in m["steps"])
    assert json.loads((tmp_path / "run" / "biencoder.json").read_text())["windows"] == 2
    assert res.best_epoch in (0, 1) and (tmp_path / "run" / "best" / "modules.json").is_file()
