"""Shared fixtures. Slow fixtures start real services once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from granary import config

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def granary_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An isolated data root and secrets dir for the test session (the repo's data is untouched)."""
    root = tmp_path_factory.mktemp("granary")
    saved = dict(os.environ)
    os.environ["GRANARY_DATA"] = str(root)
    os.environ["GRANARY_SECRETS_DIR"] = str(root / "secrets")
    config.settings.cache_clear()
    yield root
    os.environ.clear()
    os.environ.update(saved)
    config.settings.cache_clear()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
