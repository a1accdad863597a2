"""Summaries in output files: JSONL records, Markdown or plain-text sections, and reading them back so a
batch resumes where it stopped."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records

OUTPUT_FORMATS = ("jsonl", "md", "txt")


def output_format(path: str | None, explicit: str | None) -> str:
    """`explicit` when given, else the format `path`'s extension names (plain text when it names none)."""
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".") if path else ""
    return {"jsonl": "jsonl", "md": "md", "markdown": "md"}.get(suffix, "txt")


def render_records(records: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if fmt == "md":
        return "".join(f"## {r['source']}\n\n{r['summary']}\n\n" for r in records)
    return "".join(f"=== {r['source']} ===\n{r['summary']}\n\n" for r in records)


_MD_ENTRY = re.compile(r"^## (.+?)\n\n(.*?)(?=\n\n## |\n*\Z)", re.MULTILINE | re.DOTALL)
_TXT_ENTRY = re.compile(r"^=== (.+?) ===\n(.*?)(?=\n\n=== |\n*\Z)", re.MULTILINE | re.DOTALL)


def read_records(path: str | Path, fmt: str) -> list[dict[str, Any]]:
    """Records already in an output file (to resume a batch); a missing file has none."""
    file = Path(path)
    if not file.is_file():
        return []
    text = file.read_text(encoding="utf-8")
    if fmt == "jsonl":
        try:
            return [record for _, record in jsonl_records(text.splitlines(), file) if "source" in record]
        except InputFileError as exc:
            raise InputFileError(
                f"{exc.message}, cannot resume from it", "move the file away, or write to another output file"
            ) from None
    pattern = _MD_ENTRY if fmt == "md" else _TXT_ENTRY
    return [{"source": m.group(1), "summary": m.group(2).strip()} for m in pattern.finditer(text)]
