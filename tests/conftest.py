"""Suite-wide fixtures: no test sees the state of the machine it runs on.

Every test session gets its own empty patlink cache (``PATLINK_CACHE`` -> a session temporary folder), so the
embeddings, token embeddings, assembled model weights and hydration stores a user has under ``~/.cache/patlink``
(or a ``$PATLINK_CACHE`` of theirs) are never read or written by the tests. Tests that need a cache of their own
still set ``PATLINK_CACHE`` to their ``tmp_path``; that overrides this one for the test. See tests/README.md.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_patlink_cache(tmp_path_factory):
    """``PATLINK_CACHE`` = an empty folder shared by the session; the hub is offline (no network in tests)."""
    patch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("patlink-cache")
    patch.setenv("PATLINK_CACHE", str(root))
    patch.setenv("HF_HUB_OFFLINE", "1")
    yield root
    patch.undo()
