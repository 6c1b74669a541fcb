"""Resuming from a ``checkpoint.pt`` that is cut short or is not a checkpoint: one ValueError line naming the file
and what to do (the CLI prints it and exits 2), never torch's OSError/RuntimeError/EOFError traceback."""

from __future__ import annotations

import pytest
import torch
from conftest import FakeTokenStore, fixture_split, make_fixture_dataset, tiny_config

from patlink.training.trainer import train_linker

FIX = "is truncated or corrupt: delete it or train without --resume"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ds = make_fixture_dataset(24)
    split = fixture_split(ds, n_val=6)
    out = tmp_path_factory.mktemp("run")
    train_linker(ds, split, tiny_config(epochs=1), out, store=FakeTokenStore())
    return ds, split, out, (out / "checkpoint.pt").read_bytes()


def _resume(trained, tmp_path, content: bytes):
    ds, split, _, _ = trained
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(content)
    with pytest.raises(ValueError) as e:
        train_linker(ds, split, tiny_config(epochs=2), out, store=FakeTokenStore(), resume=True)
    return out / "checkpoint.pt", str(e.value), e.value


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.5, 0.97])
def test_a_truncated_checkpoint_is_one_error_line(trained, tmp_path, keep):
    data = trained[3]
    path, msg, exc = _resume(trained, tmp_path, data[: int(len(data) * keep)])
    assert type(exc) is ValueError and msg == f"{path} {FIX}"


@pytest.mark.parametrize("content", [b"not a checkpoint", b"\x80\x02garbage", b"PK\x03\x04" * 100])
def test_a_file_that_is_not_a_checkpoint_is_one_error_line(trained, tmp_path, content):
    path, msg, _ = _resume(trained, tmp_path, content)
    assert msg == f"{path} {FIX}"


def test_a_torch_file_of_something_else_is_one_error_line(trained, tmp_path):
    import io

    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buf)
    path, msg, _ = _resume(trained, tmp_path, buf.getvalue())
    assert msg == f"{path} {FIX}"


def test_the_whole_checkpoint_still_resumes(trained, tmp_path):
    import shutil

    ds, split, run, _ = trained
    out = tmp_path / "run"
    shutil.copytree(run, out)
    res = train_linker(ds, split, tiny_config(epochs=2), out, store=FakeTokenStore(), resume=True)
    assert len(res.history) == 2    # epoch 1 from the checkpoint, epoch 2 trained
