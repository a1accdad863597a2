"""Saved conversations: SQLite in the data folder (settings.data_dir()), so chats survive restarts and crashes.

Every save is one committed transaction with synchronous=FULL, so what a save wrote is on disk when it returns: a
chat turn saves the user's message before generation starts and the reply while it streams (see ChatTurn)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ganymede.apps.chat.conversation import NEW_TITLE, Conversation, title_from
from ganymede.core import settings
from ganymede.core.errors import GanymedeError
from ganymede.core.messages import text_of


class ConversationNotFoundError(GanymedeError):
    pass


class ConversationStore:
    """Conversations in SQLite; every save is one transaction, so a crash never leaves half a chat."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings.data_dir() / "conversations.db"
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, title TEXT, system_prompt TEXT,"
                " model TEXT, created REAL, updated REAL, messages TEXT)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                # FULL: a commit has reached the disk when it returns (the default of most builds; said, not assumed).
                conn.execute("PRAGMA synchronous = FULL")
                with conn:
                    yield conn
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise GanymedeError(
                f"cannot use the saved conversations at {self.path}: {exc}",
                "check that the folder is writable and the disk is not full (GANYMEDE_DATA_DIR sets the folder)",
            ) from None

    def save(self, conv: Conversation) -> Conversation:
        conv.updated = time.time()
        if conv.title == NEW_TITLE and conv.messages:
            conv.title = title_from(text_of(conv.messages[0].get("content")))
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    conv.id,
                    conv.title,
                    conv.system_prompt,
                    conv.model,
                    conv.created,
                    conv.updated,
                    json.dumps(conv.messages, ensure_ascii=False),
                ),
            )
        return conv

    def get(self, conv_id: str) -> Conversation:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise ConversationNotFoundError(
                f"no conversation with id {conv_id!r}", "take an id from the saved conversations' list"
            )
        return Conversation(row[0], row[1], json.loads(row[6]), row[2], row[3], row[4], row[5])

    def list(self) -> list[Conversation]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id FROM conversations ORDER BY updated DESC").fetchall()
        return [self.get(r[0]) for r in rows]

    def rename(self, conv_id: str, title: str) -> Conversation:
        conv = self.get(conv_id)
        conv.title = title.strip() or conv.title
        with self._connect() as conn:
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (conv.title, conv_id))
        return conv

    def delete(self, conv_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
