"""Where Ganymede keeps its files and which model it uses when none is named."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "bundled:qwen2.5-coder-1.5b"
SMALL_MODEL = "bundled:qwen2.5-coder-0.5b"


def home() -> Path:
    """The folder for the model cache, the call log and saved conversations."""
    root = Path(os.environ.get("GANYMEDE_HOME", Path.home() / ".cache" / "ganymede")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def default_model() -> str:
    return os.environ.get("GANYMEDE_MODEL", DEFAULT_MODEL)


def default_context_window() -> int:
    """Context length local backends allocate; the KV cache grows with it, so keep it laptop-sized."""
    return int(os.environ.get("GANYMEDE_CONTEXT_WINDOW", "8192"))


def default_threads() -> int:
    return int(os.environ.get("GANYMEDE_THREADS", str(os.cpu_count() or 2)))


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """Evaluation data lives beside the checkout, never inside it."""
    return Path(os.environ.get("GANYMEDE_DATA", repo_root().parent / "shared" / "data"))
