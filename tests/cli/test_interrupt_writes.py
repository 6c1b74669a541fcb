"""Ctrl-C against the writes of :mod:`patlink.io` (what the CLI's exit 130 promises: old or new files, never
partial ones).

A real SIGINT (``signal.raise_signal``) is sent from inside ``os.replace``, the moment a finished write is being
moved into place: the interrupt is held until the move is done, then raised as ``KeyboardInterrupt``. For a
folder, whose swap takes two moves, an interrupt between them used to delete both the old and the new folder.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from patlink import io as pio


def _interrupting_replace(monkeypatch, when):
    """``os.replace`` in patlink.io raises SIGINT just before the move for which ``when(src, dst)`` holds."""
    real = os.replace
    calls = []

    def replace(src, dst, *a, **k):
        calls.append((str(src), str(dst)))
        if when(src, dst):
            signal.raise_signal(signal.SIGINT)
        return real(src, dst, *a, **k)

    monkeypatch.setattr(pio.os, "replace", replace)
    return calls


def test_interrupt_while_a_file_is_moved_into_place_gives_the_new_complete_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}\n')
    _interrupting_replace(monkeypatch, lambda src, dst: str(dst) == str(target))
    with pytest.raises(KeyboardInterrupt):
        pio.atomic_write_json(target, {"new": list(range(1000))})
    assert target.read_text().startswith('{\n  "new"') and target.read_text().endswith("]\n}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_interrupt_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "links.csv"
    target.write_text("old\n")

    def lines():
        yield "new,1\n"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pio.atomic_write_lines(target, lines())
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["links.csv"]


def test_interrupt_between_the_two_moves_of_a_folder_swap_keeps_a_folder(tmp_path, monkeypatch):
    model = tmp_path / "best"
    model.mkdir()
    (model / "weights").write_text("old weights")
    # the second move (new folder -> target) is the one interrupted
    _interrupting_replace(monkeypatch, lambda src, dst: str(dst) == str(model))
    with pytest.raises(KeyboardInterrupt), pio.atomic_directory(model) as tmp:
        (tmp / "weights").write_text("new weights")
    assert (model / "weights").read_text() == "new weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_failed_second_move_of_a_folder_swap_brings_the_old_folder_back(tmp_path, monkeypatch):
    model = tmp_path / "best"
    model.mkdir()
    (model / "weights").write_text("old weights")
    real, failed = os.replace, []

    def replace(src, dst, *a, **k):   # the move of the new folder onto the target fails (once)
        if str(dst) == str(model) and not failed:
            failed.append(src)
            raise OSError(28, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(pio.os, "replace", replace)
    with pytest.raises(OSError, match="No space"), pio.atomic_directory(model) as tmp:
        (tmp / "weights").write_text("new weights")
    assert (model / "weights").read_text() == "old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_held_interrupts_nest_and_restore_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), pio._interrupts_held():
        with pio._interrupts_held():
            signal.raise_signal(signal.SIGINT)
            done = True   # still running: the interrupt is held
        assert done
    assert signal.getsignal(signal.SIGINT) is before


def test_token_store_leaves_no_temporary_shard_when_interrupted(tmp_path, monkeypatch):
    """The token-embedding cache (filled by ``patlink data embed`` and training) writes its shards through a
    temporary file; an interrupt while saving one leaves neither the shard nor the temporary file."""
    from patlink.models import token_cache

    store = token_cache.TokenEmbeddingStore("minilm", cache_dir=tmp_path)

    def interrupted_save(path, arr, *a, **k):
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(token_cache.np, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        store._write_shard(["k1"], [np.zeros((3, 4), dtype=np.float16)])
    store.close()
    assert sorted(p.name for p in store.path.iterdir()) == ["index.sqlite"]
