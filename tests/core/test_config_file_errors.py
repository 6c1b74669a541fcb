"""TrainConfig.from_json: every unreadable file is one ValueError naming it (never UnicodeDecodeError or
RecursionError, which the CLI would show as a traceback)."""

from __future__ import annotations

import re

import pytest

from patlink.training.config import TrainConfig


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"epochs": ' + b"9" * 5000 + b"}", "unreadable JSON value"),
    (b'{"epochs": 3', "not valid JSON (line 1"),
])
def test_unreadable_config_files(tmp_path, content, message):
    path = tmp_path / "cfg.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(message)) as e:
        TrainConfig.from_json(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_good_file_still_reads(tmp_path):
    (tmp_path / "cfg.json").write_text('{"epochs": 2}')
    assert TrainConfig.from_json(tmp_path / "cfg.json").epochs == 2
