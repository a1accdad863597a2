"""Chat: multi-turn conversation with a system prompt, streaming, and history that fits the context window.
Conversations persist in SQLite ($GANYMEDE_HOME/conversations.db) so they survive restarts."""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.core import settings
from ganymede.core.calllog import call_context
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import ContextWindowExceededError, GanymedeError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, text_of

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend, Stream

PROMPT = "chat"


# -- preprocess: fit the history into the context window ------------------------------------------
@dataclass
class FittedHistory:
    messages: list[Message]
    dropped_turns: int = 0

    @property
    def note(self) -> str | None:
        if not self.dropped_turns:
            return None
        return f"{self.dropped_turns} earlier message(s) were left out so the conversation fits the context window."


def fit_history(backend: Backend, messages: list[Message], config: GenerationConfig) -> FittedHistory:
    """Drop the oldest turns (never the system prompt or the newest message) until prompt + reply fit.

    Leaves room for at least a short reply; a single message too long for the window is an error."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system) :]
    reply_room = min(config.max_new_tokens, max(64, backend.context_window // 4))
    dropped = 0
    while True:
        candidate = system + turns
        if backend.count_tokens(candidate) + reply_room <= backend.context_window:
            return FittedHistory(candidate, dropped)
        if len(turns) <= 1:
            raise ContextWindowExceededError(
                f"the message has {backend.count_tokens(candidate)} tokens; the model's context window is "
                f"{backend.context_window}",
                "shorten the message, or use the summarize app for long documents",
            )
        # Drop a whole exchange so the history never starts with an orphaned assistant reply.
        cut = 2 if len(turns) > 2 and turns[1]["role"] == "assistant" else 1
        turns = turns[cut:]
        dropped += cut


def build_messages(history: list[Message], user_text: str, system_prompt: str | None) -> list[Message]:
    messages: list[Message] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.extend({"role": m["role"], "content": text_of(m.get("content"))} for m in history if m["role"] != "system")
    messages.append({"role": "user", "content": user_text})
    return messages


# -- model call --------------------------------------------------------------------------------------
def reply(backend: Backend, messages: list[Message], config: GenerationConfig) -> tuple[Completion, str | None]:
    fitted = fit_history(backend, messages, config)
    with call_context(app="chat", template=PROMPT):
        return backend.chat(fitted.messages, config), fitted.note


def stream_reply(backend: Backend, messages: list[Message], config: GenerationConfig) -> tuple[Stream, str | None]:
    fitted = fit_history(backend, messages, config)
    with call_context(app="chat", template=PROMPT):
        return backend.stream(fitted.messages, config), fitted.note


# -- persistence -------------------------------------------------------------------------------------
@dataclass
class Conversation:
    id: str
    title: str
    messages: list[Message] = field(default_factory=list)
    system_prompt: str = ""
    model: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @classmethod
    def new(cls, system_prompt: str = "", model: str = "") -> Conversation:
        return cls(id=uuid.uuid4().hex[:12], title="New chat", system_prompt=system_prompt, model=model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "system_prompt": self.system_prompt,
            "model": self.model,
            "created": self.created,
            "updated": self.updated,
            "messages": self.messages,
        }

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.system_prompt:
            lines += [f"> System: {self.system_prompt}", ""]
        for msg in self.messages:
            lines += [f"**{msg['role'].capitalize()}:**", "", text_of(msg.get("content")), ""]
        return "\n".join(lines)


def title_from(text: str, limit: int = 48) -> str:
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


class ConversationStore:
    """Conversations in SQLite; every save is one transaction, so a crash never leaves half a chat."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings.home() / "conversations.db"
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, title TEXT, system_prompt TEXT,"
                " model TEXT, created REAL, updated REAL, messages TEXT)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def save(self, conv: Conversation) -> Conversation:
        conv.updated = time.time()
        if conv.title == "New chat" and conv.messages:
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
            raise GanymedeError(f"no conversation with id {conv_id!r}", "list them with `ganymede chat --list`")
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


# -- one turn of a saved conversation (used by the UI) --------------------------------------------
def stream_turn(
    backend: Backend,
    store: ConversationStore,
    conv_id: str | None,
    history: list[Message],
    user_text: str,
    system_prompt: str,
    config: GenerationConfig,
) -> Iterator[tuple[list[Message], str | None, str]]:
    """Stream the answer to `user_text` after `history`, yielding (messages so far, note, conversation id).

    The user's message is saved before generation starts and the answer after (a stopped answer as far as it
    got), so a stopped or crashed generation never loses what the user wrote."""
    conv = store.get(conv_id) if conv_id else Conversation.new(system_prompt, backend.ref.raw)
    conv.system_prompt = system_prompt
    turns: list[Message] = [{"role": m["role"], "content": text_of(m.get("content"))} for m in history]
    turns.append({"role": "user", "content": user_text})
    conv.messages = turns
    store.save(conv)
    stream, note = stream_reply(backend, build_messages(history, user_text, system_prompt), config)
    answer = ""
    try:
        for delta in stream:
            answer += delta
            yield [*turns, {"role": "assistant", "content": answer}], note, conv.id
    finally:  # also when the UI's Stop closes this generator: the reply is kept as far as it got
        if answer:
            conv.messages = [*turns, {"role": "assistant", "content": answer}]
            store.save(conv)
    yield conv.messages, note, conv.id


def split_last_user(history: list[Message]) -> tuple[list[Message], str]:
    """History before the last user message, and that message's text (for retry and undo)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user":
            return history[:i], text_of(history[i].get("content"))
    return history, ""


# -- CLI -----------------------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("chat", help="chat with a model (interactive, or one answer with -m)")
    parser.add_argument("-m", "--message", help="answer this one message and exit")
    parser.add_argument("--system", help="system prompt (default: the one in prompts/chat.yaml)")
    parser.add_argument("--json", action="store_true", help="print {text, model, usage, settings} as JSON")
    parser.add_argument("--resume", metavar="ID", help="continue a saved conversation")
    parser.add_argument("--list", action="store_true", help="list saved conversations")
    parser.add_argument("--export", metavar="ID", help="print a saved conversation")
    parser.add_argument("--format", choices=["json", "markdown"], default="markdown", help="export format")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from ganymede.core.prompts import load_prompt

    store = ConversationStore()
    if args.list:
        rows = [{"id": c.id, "title": c.title, "messages": len(c.messages), "model": c.model} for c in store.list()]
        if args.json:
            print_json(rows)
        for row in [] if args.json else rows:
            print(f"{row['id']}  {row['messages']:>3} msgs  {row['title']}")
        return 0
    if args.export:
        conv = store.get(args.export)
        print(json.dumps(conv.to_dict(), indent=2, ensure_ascii=False) if args.format == "json" else conv.to_markdown())
        return 0

    spec = load_prompt(PROMPT)
    config = config_from_args(spec.config(), args)
    system_prompt = spec.system if args.system is None else args.system
    backend = load_backend_from_args(args)
    conv = store.get(args.resume) if args.resume else Conversation.new(system_prompt, backend.ref.raw)

    if args.message is not None:
        messages = build_messages(conv.messages, args.message, conv.system_prompt or system_prompt)
        if args.json:
            completion, note = reply(backend, messages, config)
            print_json(
                {
                    "text": completion.text,
                    "model": backend.ref.raw,
                    "usage": completion.to_dict()["usage"],
                    "settings": config.model_dump(),
                    "note": note,
                }
            )
            text = completion.text
        else:
            text = _print_stream(backend, messages, config)
        turns = [m for m in messages if m["role"] != "system"]
        conv.messages = [*turns, {"role": "assistant", "content": text}]
        if args.resume:
            store.save(conv)
        return 0
    return _interactive(backend, store, conv, config, system_prompt)


def _print_stream(backend: Backend, messages: list[Message], config: GenerationConfig) -> str:
    stream, note = stream_reply(backend, messages, config)
    if note:
        print(f"[{note}]", file=sys.stderr)
    for delta in stream:
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    assert stream.completion is not None
    return stream.completion.text


def _interactive(
    backend: Backend, store: ConversationStore, conv: Conversation, config: GenerationConfig, system_prompt: str
) -> int:
    print(f"Chatting with {backend.describe()} (conversation {conv.id}). /new, /exit; Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print(file=sys.stderr)
            return 0
        if not text:
            continue
        if text in {"/exit", "/quit"}:
            return 0
        if text == "/new":
            conv = Conversation.new(system_prompt, backend.ref.raw)
            print(f"[new conversation {conv.id}]", file=sys.stderr)
            continue
        messages = build_messages(conv.messages, text, conv.system_prompt or system_prompt)
        try:
            answer = _print_stream(backend, messages, config)
        except GanymedeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        conv.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        store.save(conv)
