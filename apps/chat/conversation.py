"""Chat: multi-turn conversation with a system prompt, streaming, and history that fits the context window.

preprocess (build the messages, drop the oldest turns that do not fit) -> model call (reply, or stream_reply)
-> one turn of a saved conversation (ChatTurn, and stream_turn for the UI): the user's message is committed before
generation starts and the reply is saved while it streams, marked incomplete until it ends, so neither a Stop nor a
crash (`kill -9`, a power cut after the last save) loses what the user typed, and at most CHECKPOINT_SECONDS of the
reply."""

from __future__ import annotations

import contextlib
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
#: a streamed reply is written to the store at least this often (and at its first piece), so a crash loses at
#: most this much of it; a save is one small SQLite transaction, cheap at this rate
CHECKPOINT_SECONDS = 0.5
#: the key a saved assistant message carries (True) while its generation has not finished: it is being written,
#: or it was stopped, failed or cut off by a crash
INCOMPLETE = "incomplete"


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


# -- incomplete replies ---------------------------------------------------------------------------
def is_incomplete(message: Message | dict[str, Any]) -> bool:
    return message.get("role") == "assistant" and bool(message.get(INCOMPLETE))


def incomplete_reply(messages: list[Message]) -> Message | None:
    """The conversation's last message when it is a reply that did not finish (else None)."""
    return messages[-1] if messages and is_incomplete(messages[-1]) else None


def carry_marks(history: list[Message] | list[dict[str, Any]], saved: list[Message]) -> list[Message]:
    """`history` as plain text messages, each keeping the incomplete mark of the saved message it repeats.

    The UI sends the history back without the marks (a Chatbot keeps only role and content), and a reply that
    was cut off stays marked as such when the conversation goes on."""
    out: list[Message] = []
    for i, message in enumerate(history):
        plain: Message = {"role": message["role"], "content": text_of(message.get("content"))}
        repeats = i < len(saved) and text_of(saved[i].get("content")) == plain["content"]
        if repeats and is_incomplete(saved[i]) and plain["role"] == "assistant":
            plain[INCOMPLETE] = True  # type: ignore[typeddict-unknown-key]
        out.append(plain)
    return out


# -- one turn of a saved conversation ----------------------------------------------------------------
class ChatTurn:
    """One exchange of a saved conversation, durable at each step.

    Creating it checks that the prompt fits and commits the user's message (after `history`, by default the
    conversation's messages) before any generation; iterating it streams the reply's pieces while saving the reply
    as it grows (at its first piece, then at least every `checkpoint_seconds`), marked incomplete, and once more at
    the end: complete, or still marked incomplete when it was stopped (the iterator closed) or failed. Saving before
    a piece is handed on means the store never lags what was shown by more than `checkpoint_seconds`."""

    def __init__(
        self,
        backend: Backend,
        store: ConversationStore,
        conv: Conversation,
        user_text: str,
        system_prompt: str,
        config: GenerationConfig,
        history: list[Message] | list[dict[str, Any]] | None = None,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        self.store = store
        self.conv = conv
        self.checkpoint_seconds = checkpoint_seconds
        before = carry_marks(conv.messages if history is None else history, conv.messages)
        # Fitting the prompt may refuse it (too long): that happens before anything is saved, so a refused
        # message leaves no orphan in the conversation. Generation itself starts only when the stream is iterated.
        self.stream, self.note = stream_reply(backend, build_messages(before, user_text, system_prompt), config)
        self.turns: list[Message] = [*before, {"role": "user", "content": user_text}]
        conv.messages = list(self.turns)
        store.save(conv)
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        answer = ""
        saved_at: float | None = None
        finished = False
        try:
            for delta in self.stream:
                answer += delta
                now = time.monotonic()
                if saved_at is None or now - saved_at >= self.checkpoint_seconds:
                    self._save(answer, finished=False)
                    saved_at = now
                yield delta
            finished = True
            self.completion = self.stream.completion
        finally:  # also when the caller stops early (a UI Stop closes the iterator) or generation fails
            self.stream.close()
            if answer or finished:
                self._save(answer, finished=finished)

    def _save(self, answer: str, finished: bool) -> None:
        reply: Message = {"role": "assistant", "content": answer}
        if not finished:
            reply[INCOMPLETE] = True  # type: ignore[typeddict-unknown-key]
        self.conv.messages = [*self.turns, reply]
        self.store.save(self.conv)


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

    A ChatTurn: the user's message is committed before generation starts and the answer is saved as it streams,
    so a stopped or crashed generation never loses what the user wrote, and keeps the answer as far as it got."""
    conv = store.get(conv_id) if conv_id else Conversation.new(system_prompt, backend.ref.raw)
    conv.system_prompt = system_prompt
    turn = ChatTurn(backend, store, conv, user_text, system_prompt, config, history=history)
    answer = ""
    # closing(): a UI Stop closes this generator, and the turn must hear of it now to save the reply as stopped.
    with contextlib.closing(iter(turn)) as deltas:
        for delta in deltas:
            answer += delta
            yield [*turn.turns, {"role": "assistant", "content": answer}], turn.note, conv.id
    yield conv.messages, turn.note, conv.id
