"""Subtitle cues (.srt and .vtt), read one way for every app: the translator keeps each cue's number and timing
byte for byte and translates the text lines; the summarizer reads the text lines as dialogue turns.

A file is blocks separated by blank lines. A cue block has a timing line (`00:00:01,000 --> 00:00:02,500`,
hours optional, `,` or `.` before 1 to 3 millisecond digits: real files are not always strict); WebVTT's header,
NOTE, STYLE and REGION blocks are metadata; any other block is stray text."""

from __future__ import annotations

import re
from dataclasses import dataclass

TIMING = re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3}\s*-->\s*(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3}")
META = ("WEBVTT", "NOTE", "STYLE", "REGION")
_BLANK = re.compile(r"(\n[ \t]*\n)")


@dataclass
class Block:
    """One block as it is in the file (no surrounding blank lines). `timing` indexes the timing line in `rows`."""

    text: str
    line: int  # 1-based number of the block's first line
    kind: str  # "cue", "meta" or "stray"
    timing: int | None = None

    @property
    def rows(self) -> list[str]:
        return self.text.split("\n")

    @property
    def head(self) -> str:
        """Everything up to and including the timing line (cue number or id, timing, cue settings)."""
        if self.timing is None:
            return self.text
        rows = self.rows
        return "\n".join(rows[: self.timing + 1]) + ("\n" if self.timing + 1 < len(rows) else "")

    @property
    def body(self) -> str:
        """The cue's text lines, joined as in the file."""
        return "" if self.timing is None else "\n".join(self.rows[self.timing + 1 :])


def blocks(text: str) -> list[str | Block]:
    """The file in order: blank-line separators (and empty stretches) as strings, everything else as Blocks.
    Joining the strings and each Block's `text` gives `text` back exactly."""
    out: list[str | Block] = []
    line = 1
    for i, chunk in enumerate(_BLANK.split(text)):
        if i % 2 or not chunk.strip():
            if chunk:
                out.append(chunk)
        else:
            rows = chunk.split("\n")
            timing = next((k for k, row in enumerate(rows) if TIMING.match(row)), None)
            if rows[0].lstrip("\ufeff").strip().startswith(META):
                kind = "meta"
            else:
                kind = "cue" if timing is not None else "stray"
            out.append(Block(chunk, line, kind, timing if kind == "cue" else None))
        line += chunk.count("\n")
    return out


def cues(text: str) -> list[Block]:
    """Only the cue blocks."""
    return [b for b in blocks(text) if isinstance(b, Block) and b.kind == "cue"]
