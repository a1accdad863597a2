"""A conversation exported as JSON or Markdown: `ganymede chat --export` prints it, the chat tab offers it as a
download; both write the same text."""

from __future__ import annotations

import json
from pathlib import Path

from ganymede.apps.chat.conversation import Conversation, is_incomplete
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic
from ganymede.core.messages import text_of

#: export format -> file suffix
EXPORT_FORMATS = {"json": ".json", "markdown": ".md"}


def to_markdown(conv: Conversation) -> str:
    lines = [f"# {conv.title}", ""]
    if conv.system_prompt:
        lines += [f"> System: {conv.system_prompt}", ""]
    for msg in conv.messages:
        cut = " *(incomplete: cut off while being written)*" if is_incomplete(msg) else ""
        lines += [f"**{msg['role'].capitalize()}:**{cut}", "", text_of(msg.get("content")), ""]
    return "\n".join(lines)


def export_text(conv: Conversation, fmt: str) -> str:
    """The conversation as `fmt` ("json": every field, indented; "markdown": title, system prompt, turns)."""
    if fmt == "json":
        return json.dumps(conv.to_dict(), indent=2, ensure_ascii=False)
    if fmt == "markdown":
        return to_markdown(conv)
    raise GanymedeError(f"unknown export format {fmt!r}", f"use one of {', '.join(EXPORT_FORMATS)}")


def export_file(conv: Conversation, fmt: str, folder: str | Path) -> Path:
    """Write the export to `folder`/conversation-ID.json (or .md) and return the file's path."""
    text = export_text(conv, fmt)
    return write_atomic(Path(folder) / f"conversation-{conv.id}{EXPORT_FORMATS[fmt]}", text)
