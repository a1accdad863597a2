"""Ganymede's apps, one package each, and APPS: the registry that the CLI, the UI, `bench` and `tune` read.

Each app package exposes `add_cli(subparsers)`, and optionally `add_eval_cli(subparsers)` and
`tune_data` (a `DataAdapter` for `ganymede tune`). Its top-level imports stay light: `ganymede --help`
imports every app package.

Adding an app = one package here + one line in APPS + one prompt file + one tab in ui/tabs/."""

from __future__ import annotations

import importlib
from types import ModuleType

#: app name -> package, in the order their commands and tabs appear.
APPS: dict[str, str] = {
    "chat": "ganymede.apps.chat",
    "assistant": "ganymede.apps.assistant",
    "ner": "ganymede.apps.ner",
    "translate": "ganymede.apps.translate",
    "summarize": "ganymede.apps.summarize",
    "tables": "ganymede.apps.tables",
}


def app(name: str) -> ModuleType:
    """The package of the app called `name`."""
    return importlib.import_module(APPS[name])


def all_apps() -> list[ModuleType]:
    return [app(name) for name in APPS]
