"""File formats for translation: each reader cuts a file into fixed parts (kept byte for byte: subtitle
numbers and timings, Markdown code blocks and markup, JSON keys, other CSV columns) and segments (the prose to
translate); `Document.rebuild` puts the translated segments back in place."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ganymede.apps.translate.markdown import _INLINE, protect_inline, read_md, restore_inline
from ganymede.core.errors import InputFileError

__all__ = ["Document", "Segment", "protect_inline", "read_document", "read_md", "restore_inline"]

FORMATS = ("txt", "md", "srt", "vtt", "jsonl", "csv")
SUFFIXES = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".srt": "srt",
    ".vtt": "vtt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}


@dataclass
class Segment:
    """Text to translate. `protected` maps placeholders in `text` back to markup the model must not touch."""

    text: str
    protected: dict[str, str] = field(default_factory=dict)
    where: str = ""  # for messages: "line 12", "row 7"
    # Markdown: what sits between the lines of a multi-line segment in the file (line end + the next line's
    # container prefix, `> ` or list indentation), so each translated line gets its prefix back.
    joins: tuple[str, ...] = ()
    kind: str = "text"  # "md": Markdown prose (one line per source line, or one line); "cell": a table cell

    def place(self, translation: str) -> str:
        """The translation as it goes into the file. Markdown prose keeps the source's line layout when the
        translation has as many lines, else becomes one line (a heading, cell or list item cannot span lines
        without their prefixes)."""
        if self.kind == "text":
            return translation
        lines = [line.strip() for line in translation.split("\n")]
        if len(lines) != len(self.joins) + 1:
            return " ".join(line for line in lines if line)
        return lines[0] + "".join(join + line for join, line in zip(self.joins, lines[1:], strict=True))


@dataclass
class Document:
    """Fixed strings and Segments in file order; the translation of segment i replaces it in `rebuild`."""

    parts: list[str | Segment] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # bad records kept unchanged, with the reason

    @property
    def segments(self) -> list[Segment]:
        return [p for p in self.parts if isinstance(p, Segment)]

    def rebuild(self, translations: list[str]) -> str:
        it = iter(translations)
        return "".join(p if isinstance(p, str) else p.place(next(it)) for p in self.parts)

    def add(self, text: str, where: str = "", protect: bool = False) -> None:
        """Append prose (leading/trailing whitespace kept outside the segment), or a fixed part if blank.
        `protect` masks inline tags and URLs (subtitle <i>, <v Name>) so the model cannot alter them."""
        core = text.strip()
        if not core or not any(ch.isalpha() for ch in _INLINE.sub("", core)):
            self.parts.append(text)
            return
        start = text.index(core[0])
        if start:
            self.parts.append(text[:start])
        self.parts.append(Segment(*protect_inline(core), where=where) if protect else Segment(core, where=where))
        if text[start + len(core) :]:
            self.parts.append(text[start + len(core) :])


def format_of(path: str | Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise InputFileError(f"unknown format {explicit!r}", f"choose one of {', '.join(FORMATS)}")
        return explicit
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputFileError(
            f"{path}: cannot tell the format from {suffix or 'no extension'!r}",
            f"use one of {', '.join(sorted(SUFFIXES))}, or --format",
        )
    return SUFFIXES[suffix]


# -- plain text -------------------------------------------------------------------------------------------
def read_txt(text: str) -> Document:
    doc = Document()
    line = 1
    for i, part in enumerate(re.split(r"(\n[ \t]*\n\s*)", text)):
        if i % 2:
            doc.parts.append(part)
        else:
            doc.add(part, f"line {line}")
        line += part.count("\n")
    return doc


# -- subtitles ----------------------------------------------------------------------------------------------
def _read_cues(text: str, vtt: bool) -> Document:
    """Cue number, timing and settings are fixed (core/subtitles.py reads the blocks); the text lines are a
    segment with their inline tags protected."""
    from ganymede.core.subtitles import Block, blocks

    doc = Document()
    for block in blocks(text):
        if not isinstance(block, Block):
            doc.parts.append(block)
        elif block.kind != "cue":
            if block.kind == "stray" and not vtt:
                doc.skipped.append(f"line {block.line}: a subtitle block without a timing line was kept as it is")
            doc.parts.append(block.text)
        else:
            doc.parts.append(block.head)
            if block.body:
                doc.add(block.body, f"line {block.line + (block.timing or 0) + 1}", protect=True)
    return doc


def read_srt(text: str) -> Document:
    return _read_cues(text, vtt=False)


def read_vtt(text: str) -> Document:
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise InputFileError("not a WebVTT file: the first line must be WEBVTT")
    return _read_cues(text, vtt=True)


# -- JSONL and CSV ------------------------------------------------------------------------------------
@dataclass
class _JsonRecord:
    record: dict
    field_name: str
    newline: str
    where: str


class JsonlDocument(Document):
    """Records are rebuilt with json.dumps so the translated value is escaped correctly."""

    @property
    def segments(self) -> list[Segment]:
        return [Segment(p.record[p.field_name], where=p.where) for p in self.parts if isinstance(p, _JsonRecord)]

    def rebuild(self, translations: list[str]) -> str:
        it = iter(translations)
        out = []
        for part in self.parts:
            if isinstance(part, _JsonRecord):
                record = {**part.record, part.field_name: next(it)}
                out.append(json.dumps(record, ensure_ascii=False) + part.newline)
            else:
                out.append(part)
        return "".join(out)


def read_jsonl(text: str, field_name: str = "text") -> Document:
    """One segment per record's `field_name`; records that are not JSON objects with that string field are
    reported and kept unchanged."""
    doc = JsonlDocument()
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        body = line.rstrip("\r\n")
        if not body.strip():
            doc.parts.append(line)
            continue
        try:
            record = json.loads(body)
        except json.JSONDecodeError as exc:
            doc.skipped.append(f"line {number}: not valid JSON ({exc.msg}); kept as it is")
            doc.parts.append(line)
            continue
        if not isinstance(record, dict) or not isinstance(record.get(field_name), str):
            doc.skipped.append(f"line {number}: no string field {field_name!r}; kept as it is")
            doc.parts.append(line)
            continue
        doc.parts.append(_JsonRecord(record, field_name, line[len(body) :], f"line {number}"))  # type: ignore[arg-type]
    return doc


class CsvDocument(Document):
    def __init__(
        self, rows: list[list[str]], column: int, dialect: type[csv.Dialect] | csv.Dialect, skipped: list[str]
    ) -> None:
        super().__init__(parts=[], skipped=skipped)
        self.rows = rows
        self.column = column
        self.dialect = dialect

    @property
    def segments(self) -> list[Segment]:
        return [
            Segment(row[self.column], where=f"row {n}")
            for n, row in enumerate(self.rows[1:], start=2)
            if len(row) > self.column
        ]

    def rebuild(self, translations: list[str]) -> str:
        it = iter(translations)
        buffer = io.StringIO()
        writer = csv.writer(buffer, dialect=self.dialect)
        writer.writerow(self.rows[0])
        for row in self.rows[1:]:
            writer.writerow([*row[: self.column], next(it), *row[self.column + 1 :]] if len(row) > self.column else row)
        return buffer.getvalue()


def read_csv(text: str, column: str | None = None, tsv: bool = False) -> Document:
    """The header row names the columns; `column` (name or 1-based number) is translated, the rest kept."""
    if tsv:
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect=dialect))
    if not rows:
        raise InputFileError("the CSV file is empty")
    header = rows[0]
    if column is None:
        candidates = [name for name in ("text", "source", "sentence", "content") if name in header]
        if len(header) == 1:
            index = 0
        elif candidates:
            index = header.index(candidates[0])
        else:
            raise InputFileError(
                f"which column should be translated? columns: {', '.join(header)}", "add --column NAME"
            )
    elif column in header:
        index = header.index(column)
    elif column.isdigit() and 1 <= int(column) <= len(header):
        index = int(column) - 1
    else:
        raise InputFileError(f"no column {column!r}; columns: {', '.join(header)}", "give --column a name or number")
    skipped = [
        f"row {n}: has {len(row)} cells, fewer than the header; kept as it is"
        for n, row in enumerate(rows[1:], start=2)
        if len(row) <= index
    ]
    return CsvDocument(rows, index, dialect, skipped)


def read_document(
    path: str | Path, fmt: str | None = None, field_name: str = "text", column: str | None = None
) -> tuple[Document, str]:
    """Read `path` as `fmt` (default: from its extension). Errors name the file."""
    file = Path(path)
    kind = format_of(file, fmt)
    try:
        text = file.read_text(encoding="utf-8-sig" if kind in {"csv", "srt"} else "utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{file}: cannot read it as UTF-8 text ({exc})") from None
    readers: dict[str, Callable[[str], Document]] = {
        "txt": read_txt,
        "md": read_md,
        "srt": read_srt,
        "vtt": read_vtt,
        "jsonl": lambda t: read_jsonl(t, field_name),
        "csv": lambda t: read_csv(t, column, tsv=file.suffix.lower() == ".tsv"),
    }
    try:
        return readers[kind](text), kind
    except InputFileError as exc:
        raise InputFileError(f"{file}: {exc.message}", exc.hint) from None
