"""Every model call, recorded in SQLite ($GANYMEDE_HOME/logs.db) with its settings: provenance for every output."""

from __future__ import annotations

import contextlib
import contextvars
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganymede.core import settings

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("ganymede_call_context")

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    app TEXT,
    template TEXT,
    model TEXT,
    backend TEXT,
    settings TEXT,
    messages TEXT,
    response TEXT,
    tool_calls TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    seconds REAL,
    error TEXT
)
"""


@contextlib.contextmanager
def call_context(**labels: str) -> Iterator[None]:
    """Label the model calls made inside the block (app, template) without threading them through."""
    token = _context.set({**_context.get({}), **labels})
    try:
        yield
    finally:
        _context.reset(token)


def current_labels() -> dict[str, str]:
    return dict(_context.get({}))


def db_path() -> Path:
    return settings.home() / "logs.db"


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(), timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    return conn


def enabled() -> bool:
    return settings.log_enabled()


def record(
    *,
    model: str,
    backend: str,
    settings_used: dict[str, Any],
    messages: list[Any],
    response: str,
    tool_calls: list[Any] | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    seconds: float = 0.0,
    error: str | None = None,
) -> None:
    if not enabled():
        return
    labels = _context.get({})
    row = (
        time.time(),
        labels.get("app", "direct"),
        labels.get("template"),
        model,
        backend,
        json.dumps(settings_used, default=str),
        json.dumps(messages, ensure_ascii=False, default=str),
        response,
        json.dumps(tool_calls or [], default=str),
        prompt_tokens,
        completion_tokens,
        seconds,
        error,
    )
    try:
        with contextlib.closing(_connect()) as conn, conn:
            conn.execute(
                "INSERT INTO calls (ts, app, template, model, backend, settings, messages, response,"
                " tool_calls, prompt_tokens, completion_tokens, seconds, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
    except sqlite3.Error:
        # The log is provenance, not the product: a locked or read-only disk must not fail the answer.
        pass


def recent(limit: int = 20, app: str | None = None) -> list[dict[str, Any]]:
    if not db_path().exists():
        return []
    with contextlib.closing(_connect()) as conn:
        conn.row_factory = sqlite3.Row
        query = "SELECT * FROM calls"
        params: list[Any] = []
        if app:
            query += " WHERE app = ?"
            params.append(app)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [dict(row) for row in conn.execute(query, params)]
