"""Tool calls written as text by local models (Qwen/Hermes `<tool_call>` blocks), parsed into ToolCalls."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from core.messages import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"^\s*(?:```(?:json)?\s*)?(\{.*\}|\[.*\])\s*(?:```)?\s*$", re.DOTALL)


def _as_call(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name=obj["name"], arguments=args, id=f"call_{uuid.uuid4().hex[:12]}")


def parse_tool_calls(text: str, tool_names: set[str] | None = None) -> tuple[str, list[ToolCall]]:
    """Split model text into (prose, tool calls). Text without tool-call blocks is returned unchanged.

    Small models sometimes answer with a bare or fenced JSON call instead of a `<tool_call>` block;
    that counts only when the whole reply is such a call to one of `tool_names`."""
    calls: list[ToolCall] = []
    if tool_names and "<tool_call>" not in text and (whole := _FENCED.match(text)):
        try:
            parsed = json.loads(whole.group(1))
        except json.JSONDecodeError:
            parsed = None
        items = parsed if isinstance(parsed, list) else [parsed]
        found = [c for c in map(_as_call, items) if c and c.name in tool_names]
        if found and len(found) == len(items):
            return "", found
    for block in _TAGGED.findall(text):
        try:
            parsed = json.loads(block)
        except json.JSONDecodeError:
            continue
        for item in parsed if isinstance(parsed, list) else [parsed]:
            call = _as_call(item)
            if call:
                calls.append(call)
    if not calls:
        return text, []
    return _TAGGED.sub("", text).strip(), calls


def tool_names(tools: Iterable[dict[str, Any]] | None) -> set[str]:
    """Names in OpenAI-style tool schemas ({"type": "function", "function": {"name": ...}})."""
    return {t.get("function", t).get("name", "") for t in tools or ()}
