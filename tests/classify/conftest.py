"""Fixtures for the classify tests. The corpora here are small FIXTURES generated from word lists, not real data."""

import json
import random

import pytest

VOCAB = {
    "G06F": ["computer", "processor", "memory", "data", "software", "instruction", "cache", "register", "program", "storage"],
    "A61K": ["pharmaceutical", "composition", "compound", "dose", "tablet", "treatment", "patient", "drug", "formulation", "oral"],
    "H04L": ["network", "packet", "transmission", "protocol", "router", "node", "message", "encryption", "server", "channel"],
}


def make_fixture_records(n: int = 60, seed: int = 0) -> list[dict]:
    """Fixture documents: each gets 1–2 of three labels and 20 words drawn from its labels' word lists."""
    rng = random.Random(seed)
    labels = list(VOCAB)
    out = []
    for i in range(n):
        labs = [labels[i % 3]] + ([labels[(i + 1) % 3]] if i % 4 == 0 else [])
        words = [rng.choice(VOCAB[rng.choice(labs)]) for _ in range(20)]
        out.append({"id": f"FIX{i}", "text": "a method comprising " + " ".join(words), "labels": labs})
    return out


@pytest.fixture
def fixture_jsonl(tmp_path):
    p = tmp_path / "fixture_corpus.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in make_fixture_records()) + "\n")
    return p
