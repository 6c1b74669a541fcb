"""patlink.io: every atomic writer leaves the target untouched when the writing code raises, and no temporary file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from patlink.io import (
    atomic_directory,
    atomic_path,
    atomic_savefig,
    atomic_write_json,
    atomic_write_lines,
    atomic_write_text,
    atomic_writer,
)


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class Boom(RuntimeError):
    pass


def test_atomic_writer_binary_replaces_on_success_and_keeps_old_on_error(tmp_path):
    target = tmp_path / "sub" / "arr.npy"
    with atomic_writer(target) as f:          # parent folder created
        np.save(f, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]
    with pytest.raises(Boom):
        with atomic_writer(target) as f:
            np.save(f, np.arange(5))
            raise Boom
    assert np.load(target).tolist() == [0, 1, 2]     # the old file, whole
    assert _names(target.parent) == ["arr.npy"]      # no temporary file left
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_atomic_writer_on_a_new_path_leaves_nothing_on_error(tmp_path):
    with pytest.raises(Boom):
        with atomic_writer(tmp_path / "new.bin") as f:
            f.write(b"partial")
            raise Boom
    assert _names(tmp_path) == []


def test_atomic_writer_text_and_bad_mode(tmp_path):
    with atomic_writer(tmp_path / "t.txt", "w") as f:
        f.write("α\r\nβ\n")
    assert (tmp_path / "t.txt").read_bytes() == "α\r\nβ\n".encode()   # UTF-8, newlines unchanged
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_writer(tmp_path / "t.txt", "a"):
            pass


def test_torch_and_numpy_archives_through_atomic_writer(tmp_path):
    torch = pytest.importorskip("torch")
    with atomic_writer(tmp_path / "ck.pt") as f:
        torch.save({"w": torch.ones(2)}, f)
    assert torch.load(tmp_path / "ck.pt", weights_only=True)["w"].tolist() == [1.0, 1.0]
    with atomic_writer(tmp_path / "p.npz") as f:     # a file object: np.savez adds no second suffix
        np.savez(f, step=np.array([1, 2]))
    assert np.load(tmp_path / "p.npz")["step"].tolist() == [1, 2] and _names(tmp_path) == ["ck.pt", "p.npz"]


def test_atomic_path_for_writers_that_want_a_name(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    target = tmp_path / "m.safetensors"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".safetensors") and not tmp.exists()
        st.save_file({"x": np.zeros(2, dtype=np.float32)}, str(tmp))
    assert st.load_file(str(target))["x"].tolist() == [0.0, 0.0]
    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            st.save_file({"x": np.ones(9, dtype=np.float32)}, str(tmp))
            raise Boom
    assert st.load_file(str(target))["x"].tolist() == [0.0, 0.0] and _names(tmp_path) == ["m.safetensors"]
    with pytest.raises(FileNotFoundError, match="did not create"):
        with atomic_path(tmp_path / "never.bin"):
            pass                                  # the writer wrote nothing (or elsewhere)
    assert not (tmp_path / "never.bin").exists()


def test_atomic_directory(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as d:
        (d / "a.txt").write_text("1")
    assert _names(target) == ["a.txt"]
    with pytest.raises(Boom):
        with atomic_directory(target) as d:
            (d / "b.txt").write_text("2")
            raise Boom
    assert _names(target) == ["a.txt"] and _names(tmp_path) == ["model"]
    with atomic_directory(target) as d:           # replaces a non-empty folder
        (d / "c.txt").write_text("3")
    assert _names(target) == ["c.txt"] and _names(tmp_path) == ["model"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        with atomic_directory(tmp_path / "file"):
            pass


def test_text_json_lines(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x\n")
    atomic_write_lines(tmp_path / "b.txt", iter(["1\n", "2\n"]))
    atomic_write_json(tmp_path / "c.json", {"n": np.int64(3), "v": np.arange(2), "s": "é"})
    assert (tmp_path / "b.txt").read_text() == "1\n2\n"
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8")) == {"n": 3, "v": [0, 1], "s": "é"}

    def lines():
        yield "partial\n"
        raise Boom

    with pytest.raises(Boom):
        atomic_write_lines(tmp_path / "a.txt", lines())
    assert (tmp_path / "a.txt").read_text() == "x\n" and _names(tmp_path) == ["a.txt", "b.txt", "c.json"]


def test_atomic_savefig_format_follows_suffix(tmp_path):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    atomic_savefig(fig, tmp_path / "f.png")
    atomic_savefig(fig, tmp_path / "f.svg", bbox_inches="tight")
    plt.close(fig)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:500]
    assert _names(tmp_path) == ["f.png", "f.svg"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
