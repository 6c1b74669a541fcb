"""Fixtures of the CLI tests: a tiny BEIR folder, the environment of a subprocess, the boundary's outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch):
    """A user's PATLINK_DEBUG must not change what the boundary prints."""
    monkeypatch.delenv("PATLINK_DEBUG", raising=False)


def write_beir(folder: Path, n: int = 40, n_test: int = 12, *, dev: bool = False,
               shared_test_items: int = 0) -> Path:
    """A BEIR folder of ``n`` one-to-one links ``(q{k}, d{k})``: the last ``n_test`` in qrels/test.tsv, the others
    in qrels/train.tsv (no dev.tsv unless ``dev``: then 4 of the training links go there). With
    ``shared_test_items=m``, the first ``m`` test queries also get a training link (to ``d0``)."""
    words = ["solar", "battery", "anode", "pump", "valve", "sensor", "laser", "lens", "gear", "motor"]
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"_id": f"d{k}", "title": f"{words[k % 10]} device {k}",
                                "text": f"A {words[k % 10]} with a {words[(k * 3) % 10]} part, number {k}."}) + "\n" for k in range(n))
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"_id": f"q{k}", "text": f"{words[k % 10]} product using {words[(k * 3) % 10]}"})
                    + "\n" for k in range(n))
    head = "query-id\tcorpus-id\tscore\n"
    train = [f"q{k}\td{k}\t1\n" for k in range(n - n_test)]
    train += [f"q{k}\td0\t1\n" for k in range(n - n_test, n - n_test + shared_test_items)]
    if dev:
        (folder / "qrels" / "dev.tsv").write_text(head + "".join(train[:4]))
        train = train[4:]
    (folder / "qrels" / "train.tsv").write_text(head + "".join(train))
    (folder / "qrels" / "test.tsv").write_text(head + "".join(f"q{k}\td{k}\t1\n" for k in range(n - n_test, n)))
    return folder


@pytest.fixture
def beir_dir(tmp_path) -> Path:
    """40 one-to-one links: 28 in train.tsv, 12 in test.tsv, no dev split."""
    return write_beir(tmp_path / "beir")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a ``python -m patlink.cli.main`` subprocess: offline hub, no PATLINK_DEBUG."""
    env = {k: v for k, v in os.environ.items() if k != "PATLINK_DEBUG"}
    env.update(HF_HUB_OFFLINE="1", **extra)
    return env


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), hidden ones included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
