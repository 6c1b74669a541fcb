"""Fixtures (synthetic, NOT real data) for the linker tests: a fake token store and a tiny linked dataset."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from patlink.data.dataset import Dataset
from patlink.models.token_cache import pad_batch
from patlink.training.config import EncoderConfig, TrainConfig

D_IN = 16


class FakeTokenStore:
    """Maps each text to deterministic float16 token arrays: token t of a text is the embedding of the word t
    (a fixed random vector per word) plus small noise, so texts sharing words are related."""

    def __init__(self, d: int = D_IN):
        self.d = d
        self.calls = 0

    def _word(self, w: str) -> np.ndarray:
        seed = int(hashlib.sha1(w.encode()).hexdigest()[:8], 16)
        return np.random.default_rng(seed).standard_normal(self.d)

    def encode(self, texts):
        self.calls += 1
        out = []
        for t in texts:
            words = t.split() or ["<empty>"]
            out.append(np.stack([self._word(w) for w in words]).astype(np.float16))
        return out

    @staticmethod
    def pad_batch(arrays, max_tokens=None):
        return pad_batch(arrays, max_tokens)


def make_fixture_dataset(n: int = 40, seed: int = 0, extra_links: int = 0) -> Dataset:
    """n items and n patents; item k and patent k share a topic word (fixture, not real data)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{j}" for j in range(50)]
    items, patents, links = {}, {}, []
    for k in range(n):
        topic = f"topic{k}"
        items[f"i{k}"] = {"text": " ".join([topic] + list(rng.choice(vocab, 4)))}
        patents[f"p{k}"] = {"title": " ".join([topic] + list(rng.choice(vocab, 5)))}
        links.append((f"i{k}", f"p{k}"))
    for _ in range(extra_links):
        a, b = rng.integers(0, n, 2)
        if (f"i{a}", f"p{b}") not in links:
            links.append((f"i{a}", f"p{b}"))
    return Dataset(name="fixture", items=items, patents=patents, links=links, patent_view=("title",))


def fixture_split(ds: Dataset, n_val: int = 8):
    links = sorted(ds.links)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(links))
    val = [links[i] for i in perm[:n_val]]
    train = [links[i] for i in perm[n_val:]]
    return {"train": train, "val": val, "test": []}


@pytest.fixture
def fake_store():
    return FakeTokenStore()


def tiny_config(**kw) -> TrainConfig:
    """A TrainConfig small enough for the fixture graph (16-d fake tokens, 16-link batches, no early stop)."""
    base = dict(encoder=EncoderConfig(hidden=32, out_dim=16, n_heads=2, n_queries=2), batch_size=16, lr=3e-3,
                progress=False, patience=0, full_val_metrics=False)
    base.update(kw)
    return TrainConfig.from_dict(base)   # flat keys of earlier configs map onto the nested sections
