"""What fine-tuning needs from an app: a data adapter turning one training record into the app's own prompt
messages and the target reply. Apps expose one as `tune_data`; `ganymede tune` reads it through APPS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class RecordError(ValueError):
    """A training record that cannot be used; the reader adds the file and line."""


@dataclass
class Example:
    source: str  # "FILE line N"
    messages: list[dict[str, str]]
    target: str


@dataclass(frozen=True)
class DataAdapter:
    app: str
    fields: str  # what a record holds, for help texts and errors
    build: Callable[[dict[str, Any], str, dict[str, Any]], tuple[list[dict[str, str]], str]]
    #: prompt options recorded in the adapter and reused at inference (e.g. summarize's shots and max_words)
    prompt: Callable[[dict[str, Any]], dict[str, Any]]
