"""The CLI's one error boundary (``patlink.cli.main.main``), command by command.

Every command and sub-command is enumerated from the typer app, so a new one is covered without editing this
file: ``--help`` exits 0, an unknown option exits 2 with one line on stderr naming the option and the command's
``--help``. Representative cases also run through the real entry points in subprocesses (``python -m
patlink.cli.main`` and the ``patlink`` console-script entry point), since only there does an exit code reach the
shell. Then bad input (a missing BEIR folder, malformed or wrongly typed configs, an ``--out`` that cannot be a
folder), unexpected exceptions (exit 1, one line; the traceback only with ``--debug`` / ``PATLINK_DEBUG=1``),
exceptions of plain click, and a real SIGINT sent to long-running commands (exit 130, ``interrupted``, no partial
file). Every case asserts the exit code, that stderr has no traceback, and that the message is one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import typer

from patlink.cli import main as cli_main
from patlink.cli.main import app, main

from .conftest import files_of, subprocess_env


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_one_line(err: str, *needles: str) -> str:
    """stderr is exactly one non-empty line, without a traceback, containing every needle."""
    assert "Traceback" not in err, err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------- every command
def _command_paths() -> list[tuple[str, ...]]:
    """Every command path of the app: () for ``patlink`` itself, ("eval",), ("data", "embed") …"""
    out: list[tuple[str, ...]] = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        out.append(path)
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _command_paths()


def _label(path: tuple[str, ...]) -> str:
    return " ".join(("patlink", *path))


def test_the_enumeration_finds_the_commands_and_sub_commands():
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "eval", "train", "link", "data", "data embed", "pipeline", "pipeline run", "serve",
            "review export"} <= names
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("path", COMMANDS, ids=_label)
def test_help_exits_0(path, capsys):
    assert main([*path, "--help"]) == 0
    out, err = capsys.readouterr()
    assert "Usage" in out and not _error_lines(err)


@pytest.mark.parametrize("path", COMMANDS, ids=_label)
def test_unknown_option_exits_2_with_one_line(path, capsys):
    assert main([*path, "--no-such-option-xyz"]) == 2
    out, err = capsys.readouterr()
    line = assert_one_line(err, "no such option: --no-such-option-xyz", f"(see {_label(path)} --help)")
    assert line.startswith("error: ") and not out


def test_global_debug_option_is_in_the_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--debug" in out and "130" in out


# ---------------------------------------------------------------------------------------------- real entry points
def _run_all(cases: list[list[str]], env: dict | None = None, timeout: float = 240):
    """Run each argv through ``python -m patlink.cli.main`` concurrently; (returncode, stdout, stderr) each."""
    procs = [subprocess.Popen([sys.executable, "-m", "patlink.cli.main", *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env or subprocess_env()) for argv in cases]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results


def test_usage_errors_through_python_m(beir_dir):
    cases = [
        (["eval", "--bogus"], 2, ["no such option: --bogus", "(see patlink eval --help)"]),
        (["train", "--beir", str(beir_dir)], 2, ["missing option '--out'", "(see patlink train --help)"]),
        (["eval", "--dataset", "pap2pat", "--bootstrap", "notanint"], 2,
         ["invalid value for '--bootstrap'", "(see patlink eval --help)"]),
        (["nosuchcmd"], 2, ["no such command 'nosuchcmd'", "(see patlink --help)"]),
        (["data", "embed", "--side"], 2, ["--side", "requires an argument", "(see patlink data embed --help)"]),
        (["pipeline", "run", "--bogus"], 2, ["no such option: --bogus", "(see patlink pipeline run --help)"]),
    ]
    for (argv, code, needles), (rc, out, err) in zip(cases, _run_all([c[0] for c in cases])):
        assert rc == code, (argv, rc, err)
        assert_one_line(err, *needles)


def test_help_and_missing_sub_command_through_python_m():
    (rc_help, out_help, err_help), (rc_group, out_group, err_group) = _run_all([["eval", "--help"], ["data"]])
    assert rc_help == 0 and "--method" in out_help and not _error_lines(err_help)
    # a group without its sub-command: its help, exit 2 (click's convention for a usage error)
    assert rc_group == 2 and "embed" in out_group and "Traceback" not in err_group


def test_console_script_entry_point_goes_through_the_boundary():
    """``[project.scripts] patlink = patlink.cli.main:main``, run as the generated script does:
    ``sys.exit(main())``."""
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "patlink"]
    assert ep.value == "patlink.cli.main:main"
    code = ("import sys; from importlib.metadata import entry_points; "
            "sys.exit([e for e in entry_points(group='console_scripts') if e.name == 'patlink'][0].load()())")
    p = subprocess.run([sys.executable, "-c", code, "eval", "--bogus"], capture_output=True, text=True, check=False,
                       env=subprocess_env(), timeout=240)
    assert p.returncode == 2
    assert_one_line(p.stderr, "no such option: --bogus")


# ---------------------------------------------------------------------------------------------- bad input
def test_missing_beir_folder(tmp_path, capsys):
    assert main(["eval", "--beir", str(tmp_path / "nope"), "--method", "bm25"]) == 2
    assert_one_line(capsys.readouterr().err, "nope", "not a BEIR folder")


def test_device_that_does_not_exist_is_a_usage_error(capsys):
    assert main(["eval", "--dataset", "pap2pat", "--device", "quantum"]) == 2
    assert_one_line(capsys.readouterr().err, "quantum")


@pytest.mark.parametrize("body,needles", [
    ('{"epochs": ', ["not valid JSON"]),
    ('[1, 2]', ["must be a JSON object", "list"]),
    ('{"epochs": "3"}', ["epochs must be an integer", "'3'"]),
    ('{"hard_negatives": 5}', ["negatives.per_epoch (hard_negatives)", "list of integers"]),
    ('{"encoder": {"n_heads": "4"}}', ["encoder.n_heads must be an integer"]),
    ('{"encoder": 3}', ["TrainConfig.encoder must be an object"]),
    ('{"no_such_key": 1}', ["unknown TrainConfig key", "no_such_key"]),
], ids=["malformed", "list", "epochs-str", "flat-wrong-type", "nested-wrong-type", "section-not-object", "unknown"])
def test_bad_train_config_is_one_line_and_writes_nothing(body, needles, beir_dir, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(body)
    monkeypatch.setattr("patlink.cli.common.load_input", _must_not_run("a dataset was loaded"))
    out = tmp_path / "run"
    assert main(["train", "--beir", str(beir_dir), "--out", str(out), "--config", str(cfg)]) == 2
    assert_one_line(capsys.readouterr().err, "config.json", *needles)
    assert not out.exists()


def test_missing_train_config_file(beir_dir, tmp_path, capsys):
    assert main(["train", "--beir", str(beir_dir), "--out", str(tmp_path / "run"), "--config",
                 str(tmp_path / "absent.json")]) == 2
    assert_one_line(capsys.readouterr().err, "--config", "absent.json", "no such file")


def test_n_heads_not_dividing_the_backbone_width_is_refused_before_any_data_or_file(beir_dir, tmp_path, capsys,
                                                                                      monkeypatch):
    cfg = tmp_path / "heads.json"
    cfg.write_text('{"encoder": {"n_heads": 5}}')
    monkeypatch.setattr("patlink.cli.common.load_input", _must_not_run("a dataset was loaded"))
    out = tmp_path / "run"
    t0 = time.perf_counter()
    assert main(["train", "--beir", str(beir_dir), "--out", str(out), "--config", str(cfg)]) == 2
    assert_one_line(capsys.readouterr().err, "encoder.n_heads=5 must divide", "384")
    assert not out.exists() and time.perf_counter() - t0 < 30


@pytest.mark.parametrize("command", ["eval", "train"])
def test_out_that_cannot_be_a_folder_is_refused_before_any_work(command, beir_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("patlink.cli.common.load_input", _must_not_run("the command started working"))
    monkeypatch.setattr("patlink.evaluation.experiment.evaluate", _must_not_run("the evaluation ran"))
    a_file = tmp_path / "existing.txt"
    a_file.write_text("keep me\n")
    for out, needle in ((a_file, "is a file; give a folder"), (a_file / "sub", "is a file, so the folder")):
        assert main([command, "--beir", str(beir_dir), "--out", str(out)]) == 2
        assert_one_line(capsys.readouterr().err, f"--out {out}", needle)
    assert a_file.read_text() == "keep me\n"


# ---------------------------------------------------------------------------------------------- exception kinds
class _Boom:
    """Stands in for the console of ``patlink data list``: printing the table raises ``exc``."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def print(self, *a, **k):
        raise self.exc


def _must_not_run(what: str):
    def f(*a, **k):
        raise AssertionError(what)
    return f


def _data_list_raising(monkeypatch, exc: BaseException) -> None:
    from patlink.cli import data_cmd

    monkeypatch.setattr(data_cmd, "console", _Boom(exc))


def test_unexpected_exception_is_exit_1_one_line_without_traceback(monkeypatch, capsys):
    _data_list_raising(monkeypatch, ZeroDivisionError("division by zero"))
    assert main(["data", "list"]) == 1
    assert_one_line(capsys.readouterr().err,
                    "error: internal error: ZeroDivisionError: division by zero "
                    "(run with --debug or PATLINK_DEBUG=1 for the traceback)")


@pytest.mark.parametrize("how", ["option", "env"])
def test_debug_prints_the_traceback(how, monkeypatch, capsys):
    _data_list_raising(monkeypatch, ZeroDivisionError("division by zero"))
    if how == "env":
        monkeypatch.setenv("PATLINK_DEBUG", "1")
    assert main(["--debug", "data", "list"] if how == "option" else ["data", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert _error_lines(err)[-1] == "error: internal error: ZeroDivisionError: division by zero"


def test_debug_after_the_command_is_not_the_global_option(monkeypatch, capsys):
    assert main(["data", "list", "--debug"]) == 2
    assert_one_line(capsys.readouterr().err, "no such option: --debug", "(see patlink data list --help)")


@pytest.mark.parametrize("exc,code,needle", [
    (ValueError("bad value for the thing"), 2, "error: bad value for the thing"),
    (FileNotFoundError(2, "No such file or directory", "links.csv"), 2, "error: links.csv: No such file"),
    (KeyError("unknown split 'x'; expected one of train, val, test"), 2, "error: unknown split 'x'"),
    (KeyError("train"), 1, "internal error: KeyError: train"),   # a bare key: a bug, not bad input
    (RuntimeError("[red]markup[/red] stays text\nand one line"), 1, "[red]markup[/red] stays text and one line"),
])
def test_exception_kinds(exc, code, needle, monkeypatch, capsys):
    _data_list_raising(monkeypatch, exc)
    assert main(["data", "list"]) == code
    assert_one_line(capsys.readouterr().err, needle)


def test_plain_click_exceptions_are_recognised(monkeypatch, capsys):
    """Code raising click's own classes (not typer's copies) still gets the boundary's treatment."""
    import click

    _data_list_raising(monkeypatch, click.UsageError("plain click usage error"))
    assert main(["data", "list"]) == 2
    assert_one_line(capsys.readouterr().err, "error: plain click usage error")
    _data_list_raising(monkeypatch, click.exceptions.Exit(3))
    assert main(["data", "list"]) == 3
    _data_list_raising(monkeypatch, click.ClickException("plain click exception"))
    assert main(["data", "list"]) == 1
    assert_one_line(capsys.readouterr().err, "error: plain click exception")


def test_keyboard_interrupt_in_process_is_130_and_restores_the_handler(monkeypatch, capsys):
    before = signal.getsignal(signal.SIGINT)
    _data_list_raising(monkeypatch, KeyboardInterrupt())
    assert main(["data", "list"]) == 130
    assert _error_lines(capsys.readouterr().err) == ["interrupted"]
    assert signal.getsignal(signal.SIGINT) is before


def test_typer_and_click_exception_classes_are_both_known():
    import click

    assert click.exceptions.UsageError in cli_main._USAGE and click.exceptions.Exit in cli_main._EXIT
    from typer._click import exceptions as typer_click

    assert typer_click.UsageError in cli_main._USAGE and typer_click.NoArgsIsHelpError in cli_main._NO_ARGS


# ---------------------------------------------------------------------------------------------- SIGINT
class _Reader(threading.Thread):
    """Collects a pipe's bytes; ``seen(marker)`` waits until ``marker`` has appeared."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.buf, self.cond = pipe, bytearray(), threading.Condition()
        self.start()

    def run(self):
        fd = self.pipe.fileno()
        while chunk := os.read(fd, 4096):
            with self.cond:
                self.buf += chunk
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def seen(self, marker: bytes, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: marker in self.buf or not self.is_alive(), timeout) and \
                marker in self.buf

    def text(self) -> str:
        self.join(30)
        return self.buf.decode("utf-8", "replace")


@pytest.mark.slow
def test_sigint_exits_130_says_interrupted_and_leaves_no_partial_file(tmp_path):
    """Ctrl-C in the middle of the work of ``patlink eval`` (dense: embedding the pap2pat texts) and of ``patlink
    data embed`` (token embeddings), each with an empty cache so that the work lasts: exit 130, ``interrupted`` as
    the last line of stderr, no traceback; the earlier report in ``--out`` is left as it was and no temporary file
    remains anywhere it writes."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text('{"old": true}\n')
    (out / "report.md").write_text("# the earlier report\n")
    before = files_of(out)
    cases = {
        "eval": (["eval", "--dataset", "pap2pat", "--method", "dense", "--out", str(out)], b"evaluating dense",
                 tmp_path / "cache-eval"),
        "embed": (["data", "embed", "pap2pat", "--side", "both"], b"token embeddings", tmp_path / "cache-embed"),
    }
    procs = {}
    for name, (argv, marker, cache) in cases.items():
        p = subprocess.Popen([sys.executable, "-m", "patlink.cli.main", *argv], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=subprocess_env(PATLINK_CACHE=str(cache)))
        procs[name] = (p, _Reader(p.stderr), marker)
    try:
        for name, (p, reader, marker) in procs.items():
            assert reader.seen(marker, timeout=300), (name, reader.text())
            assert p.poll() is None, (name, "finished before it could be interrupted", reader.text())
        time.sleep(2)   # well inside the work
        for p, _, _ in procs.values():
            p.send_signal(signal.SIGINT)
        for name, (p, reader, _) in procs.items():
            rc = p.wait(timeout=180)
            err = reader.text()
            assert rc == 130, (name, rc, err)
            assert "Traceback" not in err, (name, err)
            assert _error_lines(err)[-1].strip() == "interrupted", (name, err)
            assert err.count("interrupted") == 1, (name, err)
    finally:
        for p, _, _ in procs.values():
            if p.poll() is None:
                p.kill()
    assert files_of(out) == before   # the report of the earlier run, untouched
    for _, _, cache in cases.values():
        stray = [p for p in cache.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
        assert not stray, stray
