"""Devices: resolution of ``--device`` strings, mixed precision that is a no-op off CUDA, the one-line CLI error for
a GPU that is not there, and the CPU results unchanged by the device argument.

GPU paths cannot run on a CPU-only machine; ``benchmarks/gpu_check.py`` times them where a GPU is available. The
resolution order of ``auto`` is checked here by making torch report a GPU (monkeypatch), without using one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patlink.cli.main import main
from patlink.devices import DEVICE_CHOICES, amp_dtype, autocast, check_device_spec, grad_scaler, resolve_device

NO_CUDA = "--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False); use --device cpu or auto"
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a CUDA GPU")


# ---------------------------------------------------------------------------------------------- resolution
@needs_no_gpu
def test_auto_is_the_cpu_on_a_machine_without_gpu():
    expected = "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto") == resolve_device(None) == expected
    assert resolve_device("cpu") == resolve_device(" CPU ") == "cpu"


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


def test_cuda_index_is_checked_against_the_gpus_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("CUDA") == "cuda"
    with pytest.raises(ValueError, match=r"^--device cuda:2: PyTorch sees 2 CUDA GPU\(s\) \(cuda:0 … cuda:1\)"):
        resolve_device("cuda:2")


@needs_no_gpu
@pytest.mark.parametrize("spec", ["cuda", "cuda:0"])
def test_cuda_without_gpu_is_one_clear_line(spec):
    with pytest.raises(ValueError) as e:
        resolve_device(spec)
    assert str(e.value) == NO_CUDA.replace("--device cuda:", f"--device {spec}:") and "\n" not in str(e.value)


def test_mps_without_mps_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^--device mps: PyTorch sees no MPS device"):
        resolve_device("mps")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cuda:", "tpu", ""])
def test_unknown_device_lists_the_valid_ones(spec):
    with pytest.raises(ValueError) as e:
        check_device_spec(spec)
    msg = str(e.value)
    assert "unknown device" in msg and all(c in msg for c in DEVICE_CHOICES) and "\n" not in msg
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device(spec)


# ---------------------------------------------------------------------------------------------- mixed precision
def test_autocast_is_a_no_op_on_the_cpu():
    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 8)
    x = torch.randn(4, 16)
    plain = lin(x)
    with autocast("cpu") as dtype:
        inside = lin(x)
    assert dtype is None and amp_dtype("cpu") is None and amp_dtype("mps") is None
    assert inside.dtype == torch.float32 and torch.equal(plain, inside)


def test_grad_scaler_passes_through_off_cuda():
    s = grad_scaler("cpu", None)
    loss = torch.tensor(2.5)
    assert not s.is_enabled() and s.scale(loss) is loss
    assert not grad_scaler("cuda", torch.bfloat16).is_enabled()   # bfloat16 needs no scaling


# ---------------------------------------------------------------------------------------------- CLI
@needs_no_gpu
@pytest.mark.parametrize("argv", [
    ["eval", "--dataset", "pap2pat", "--method", "dense"],
    ["train", "--dataset", "pap2pat", "--out", "{tmp}/run", "--epochs", "1"],
    ["bench", "--models", "minilm", "--tasks", "pap2pat-paper2patent", "--out", "{tmp}/bench"],
    ["data", "embed", "pap2pat", "--side", "items"],
])
def test_device_cuda_without_gpu_exits_2_with_one_line(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv + ["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {NO_CUDA}"
    assert not any(tmp_path.iterdir())   # refused before anything was written


def test_unknown_device_on_the_command_line_exits_2(capsys):
    assert main(["eval", "--dataset", "pap2pat", "--method", "bm25", "--device", "gpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --device gpu: unknown device") and len(err.splitlines()) == 1


def test_device_option_is_documented_in_help(capsys):
    for cmd in (["eval"], ["train"], ["bench"], ["data", "embed"]):
        assert main([*cmd, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--device" in out and "auto" in out


# ---------------------------------------------------------------------------------------------- library, on the CPU
def test_dense_on_the_cpu_gives_the_vectors_of_the_model_itself(tmp_path, monkeypatch):
    """Dense(device="cpu") (and the default, and auto on this machine) = the frozen model's own normalised
    embeddings, bitwise (one batch: the same padding as a direct call)."""
    from patlink.methods import Dense
    from patlink.models.backbone import load_sentence_model

    monkeypatch.setenv("PATLINK_CACHE", str(tmp_path))   # a cold disk cache: the vectors are computed here
    texts = ["a barcode scanner with a laser diode", "gas turbine blade cooling channels", "lithium battery",
             "a valve"]
    direct = load_sentence_model("minilm").encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    cpu = Dense(device="cpu").encode(texts)
    assert cpu.dtype == np.float32 and cpu.shape == (4, 384)
    assert np.array_equal(cpu, direct.astype(np.float32))
    assert np.array_equal(Dense().encode(texts), cpu)               # the default is the CPU
    if resolve_device("auto") == "cpu":
        assert np.array_equal(Dense(device="auto").encode(texts), cpu)
    assert load_sentence_model("minilm", "auto" if resolve_device("auto") == "cpu" else "cpu") is \
        load_sentence_model("minilm", "cpu")                        # one loaded model per resolved device


def test_methods_check_the_device_form_at_once():
    from patlink.cli.methods import parse_methods
    from patlink.methods import Dense, Hybrid, LinkerMethod

    with pytest.raises(ValueError, match="unknown device"):
        Dense(device="gpu")
    with pytest.raises(ValueError, match="unknown device"):
        Hybrid(device="gpu")
    with pytest.raises(ValueError, match="unknown device"):
        LinkerMethod("runs/none", device="gpu")
    m = parse_methods("dense,hybrid", device="cuda")    # the form is fine; a GPU is looked for when one is used
    assert m["dense"].config.device == m["hybrid"].parts[1].config.device == "cuda"


@needs_no_gpu
def test_train_config_device():
    from patlink.training.config import TrainConfig
    from patlink.training.trainer import _resume_key

    cfg = TrainConfig()
    assert cfg.device == "cpu" and cfg.mixed_precision is True
    cfg.validate()
    with pytest.raises(ValueError) as e:
        cfg.replace(device="cuda").validate()
    assert str(e.value) == NO_CUDA
    with pytest.raises(ValueError, match="must be a string"):
        cfg.replace(device=0).validate()
    # a run may resume on another device: device and precision are not part of the resume check
    assert _resume_key(cfg) == _resume_key(cfg.replace(device="cuda", mixed_precision=False))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
