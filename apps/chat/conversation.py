"""Chat: multi-turn conversation with a system prompt, streaming, and history that fits the context window.

preprocess (build the messages, drop the oldest turns that do not fit) -> model call (reply, or stream_reply)
-> one turn of a saved conversation (stream_turn: the user's message saved first, the answer after)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ganymede.core.calllog import call_context
from ganymede.core.errors import ContextWindowExceededError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, text_of

if TYPE_CHECKING:
    from ganymede.apps.chat.store import ConversationStore
    from ganymede.core.backends.base import Backend, Stream

PROMPT = "chat"
#: the title of a conversation until its first message names it
NEW_TITLE = "New chat"


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


def split_last_user(history: list[Message]) -> tuple[list[Message], str]:
    """History before the last user message, and that message's text (for retry and undo)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user":
            return history[:i], text_of(history[i].get("content"))
    return history, ""


# -- model call --------------------------------------------------------------------------------------
def reply(backend: Backend, messages: list[Message], config: GenerationConfig) -> tuple[Completion, str | None]:
    fitted = fit_history(backend, messages, config)
    with call_context(app="chat", template=PROMPT):
        return backend.chat(fitted.messages, config), fitted.note


def stream_reply(backend: Backend, messages: list[Message], config: GenerationConfig) -> tuple[Stream, str | None]:
    fitted = fit_history(backend, messages, config)
    with call_context(app="chat", template=PROMPT):
        return backend.stream(fitted.messages, config), fitted.note


# -- a conversation ----------------------------------------------------------------------------------
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
        return cls(id=uuid.uuid4().hex[:12], title=NEW_TITLE, system_prompt=system_prompt, model=model)

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


def title_from(text: str, limit: int = 48) -> str:
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


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
