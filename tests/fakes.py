"""A scripted backend for fast unit tests of control flow. Real-model tests live in tests/integration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ganymede.core.backends.base import Backend, Tools
from ganymede.core.backends.refs import ModelRef
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, ToolCall, Usage

Reply = str | Completion | Callable[[list[Message]], str | Completion]


class ScriptedBackend(Backend):
    """Answers from a script (a list of replies used in order, or a function of the messages).

    Tokens are whitespace-separated words, so tests can reason about budgets exactly."""

    name = "scripted"

    def __init__(self, replies: list[Reply] | Reply = "ok", context_window: int = 4096) -> None:
        super().__init__(ModelRef("scripted:test", "openai", "scripted-test"))
        self.replies = replies
        self.context_window = context_window
        self.calls: list[tuple[list[Message], GenerationConfig, Any]] = []

    def count_tokens(self, text_or_messages: str | list[Message], tools: Tools = None) -> int:
        if isinstance(text_or_messages, str):
            return len(text_or_messages.split())
        return sum(len(m.get("content", "").split()) + 2 for m in text_or_messages) + 1

    def _next(self, messages: list[Message]) -> Completion:
        if callable(self.replies):
            reply = self.replies(messages)
        elif isinstance(self.replies, list):
            reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        else:
            reply = self.replies
        if callable(reply):
            reply = reply(messages)
        if isinstance(reply, Completion):
            return reply
        return Completion(
            text=reply,
            model=self.model_id,
            usage=Usage(prompt_tokens=self.count_tokens(messages), completion_tokens=self.count_tokens(reply)),
        )

    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion:
        self.calls.append((messages, config, tools))
        return self._next(messages)

    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Iterator[str]:
        self.calls.append((messages, config, tools))
        text = self._next(messages).text
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word


def tool_call_reply(name: str, **arguments: Any) -> Completion:
    return Completion(text="", model="scripted-test", tool_calls=[ToolCall(name=name, arguments=arguments, id="c1")])
