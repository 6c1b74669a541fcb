"""The README's Python blocks run as they are written (the quickstart is the API's first test)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_a_python_quickstart():
    assert _python_blocks(), "README.md lost its Python quickstart"


@pytest.mark.slow
@pytest.mark.parametrize("block", range(len(_python_blocks())))
def test_readme_python_block_runs(block, capsys):
    code = _python_blocks()[block]
    exec(compile(code, f"README.md python block {block}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    if "pl.evaluate(" in code:   # what the comments promise is what it prints
        assert "hybrid[convex(α=" in out and "item → patent MRR" in out
    if "pl.link(" in code:
        assert re.search(r"^1 US\S+ \d\.\d{3} ", out, flags=re.M)
