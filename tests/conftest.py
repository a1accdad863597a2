"""Shared fixtures. Real-model fixtures are session-scoped: each model loads once per test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganymede.core import settings

SMALL = settings.SMALL_MODEL
DEFAULT = settings.DEFAULT_MODEL


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests write logs and conversations to a temporary home, but share the model caches (assembled GGUF
    files, converted transformers weights) so a second test run does not redo minutes of work."""
    home = tmp_path_factory.mktemp("ganymede-home")
    for cache in ("models", "hf"):
        real = settings.home() / cache
        real.mkdir(parents=True, exist_ok=True)
        (home / cache).symlink_to(real, target_is_directory=True)
    os.environ["GANYMEDE_HOME"] = str(home)


@pytest.fixture(scope="session")
def small_backend():
    """The bundled 0.5B model on llama.cpp: the fast real model for integration tests."""
    from ganymede.core.backends import load_backend

    return load_backend(SMALL)


@pytest.fixture(scope="session")
def default_backend():
    """The bundled default 1.5B model on llama.cpp."""
    from ganymede.core.backends import load_backend

    return load_backend(DEFAULT)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip with the reason when it is absent (it is never copied into the repo)."""
    path = settings.shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"evaluation data not found at {path}; it lives in ../shared/data beside the checkout")
    return path
