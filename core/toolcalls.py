"""Tool calls written as text by local models (Qwen/Hermes `<tool_call>` blocks), parsed into ToolCalls."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from ganymede.core.messages import ToolCall

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


def _json_values(text: str) -> list[Any]:
    """A JSON list's items, or the objects of one or more JSON values written one after another (small models
    list several calls that way); [] when any part is not JSON."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return []
        values.extend(value if isinstance(value, list) else [value])
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
    return values


def parse_tool_calls(text: str, tool_names: set[str] | None = None) -> tuple[str, list[ToolCall]]:
    """Split model text into (prose, tool calls). Text without tool-call blocks is returned unchanged.

    Small models sometimes answer with a bare or fenced JSON call (or several, as a list or one object after
    another) instead of `<tool_call>` blocks; that counts only when the whole reply is such calls to
    `tool_names`."""
    calls: list[ToolCall] = []
    if tool_names and "<tool_call>" not in text and (whole := _FENCED.match(text)):
        items = _json_values(whole.group(1))
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


def first_json(text: str) -> Any:
    """The first JSON value in a reply (code fences and prose around it aside), or None. Constrained replies
    are JSON already; this is for backends that cannot constrain decoding and write it in free text."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError:
            continue
    return None
