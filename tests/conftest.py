"""Shared test setup: keep every test's response cache private and temporary."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_response_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs in tests cache model replies under tmp_path, never in the user's cache."""
    directory = tmp_path / "response-cache"
    monkeypatch.setenv("SOCIETAS_CACHE_DIR", str(directory))
    return directory
