"""A Ctrl-C after a command finished (while the interpreter shuts down) changes nothing: the process's own
command line ignores SIGINT once its exit code is decided; an in-process call (argv given) leaves the handler."""

from __future__ import annotations

import signal
import sys

from patlink.cli.main import main


def test_process_command_line_ignores_interrupts_after_the_exit_code(monkeypatch, capsys):
    before = signal.getsignal(signal.SIGINT)
    try:
        monkeypatch.setattr(sys, "argv", ["patlink", "data", "list"])
        assert main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_in_process_call_keeps_the_handler(capsys):
    before = signal.getsignal(signal.SIGINT)
    assert main(["data", "list"]) == 0
    assert signal.getsignal(signal.SIGINT) is before
