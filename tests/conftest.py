"""Suite-wide settings: the hub is offline (no test uses the network).

The patlink cache is deliberately NOT redirected to a temporary folder: the sentence- and token-embedding caches
are content-addressed memos (model, max length, SHA-1 of the text) whose hits equal a recomputation, and
rebuilding them every session made the suite minutes slower (measured, see tests/README.md). What made tests
depend on the machine — a hydration store read from the cache folder — no longer exists: datasets get patent texts
only from a store passed to them. The rule every test follows is in tests/README.md.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offline_hub():
    """``HF_HUB_OFFLINE=1`` for the whole session (the bundled models load from installed packages)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("HF_HUB_OFFLINE", "1")
    yield
    patch.undo()
