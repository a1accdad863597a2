"""The types every layer speaks: OpenAI-shaped messages in, a Completion out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict


class Message(TypedDict, total=False):
    """An OpenAI-style chat message; the shape llama.cpp, HF chat templates and Gradio 6 all use."""

    role: str
    content: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str
    name: str


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = ""

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    time_to_first_token: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Completion:
    text: str
    model: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"]["total_tokens"] = self.usage.total_tokens
        return data


def user(content: str) -> Message:
    return {"role": "user", "content": content}


def system(content: str) -> Message:
    return {"role": "system", "content": content}


def assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


def text_of(content: Any) -> str:
    """Flatten message content that may be a list of blocks (Gradio 6, OpenAI) into text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(text_of(part.get("text", "") if isinstance(part, dict) else part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return str(content)


def normalize(messages: list[Message] | list[dict[str, Any]]) -> list[Message]:
    """Messages with plain-text content, as every backend expects."""
    out: list[Message] = []
    for msg in messages:
        clean: Message = {"role": msg["role"], "content": text_of(msg.get("content"))}
        for key in ("tool_calls", "tool_call_id", "name"):
            if msg.get(key):
                clean[key] = msg[key]  # type: ignore[literal-required]
        out.append(clean)
    return out
