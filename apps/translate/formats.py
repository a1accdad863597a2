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

from ganymede.core.errors import InputFileError

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
        return "".join(p if isinstance(p, str) else next(it) for p in self.parts)

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
_TIMING = re.compile(r"^\s*(\d{1,2}:)?\d{1,2}:\d{2}[,.]\d{3}\s*-->\s*(\d{1,2}:)?\d{1,2}:\d{2}[,.]\d{3}")


def _read_cues(text: str, vtt: bool) -> Document:
    """Cues are blocks between blank lines; everything up to and including the timing line is fixed."""
    doc = Document()
    blocks = re.split(r"(\n[ \t]*\n)", text)
    line = 1
    for i, block in enumerate(blocks):
        if i % 2 or not block.strip():
            doc.parts.append(block)
            line += block.count("\n")
            continue
        lines = block.split("\n")
        timing = next((k for k, item in enumerate(lines) if _TIMING.match(item)), None)
        first = lines[0].strip()
        is_meta = vtt and (first.startswith(("WEBVTT", "NOTE", "STYLE", "REGION")) or timing is None)
        if timing is None and not is_meta:
            doc.skipped.append(f"line {line}: a subtitle block without a timing line was kept as it is")
        if timing is None:
            doc.parts.append(block)
        else:
            doc.parts.append("\n".join(lines[: timing + 1]) + ("\n" if timing + 1 < len(lines) else ""))
            doc.add("\n".join(lines[timing + 1 :]), f"line {line + timing + 1}", protect=True)
        line += block.count("\n")
    return doc


def read_srt(text: str) -> Document:
    return _read_cues(text, vtt=False)


def read_vtt(text: str) -> Document:
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise InputFileError("not a WebVTT file: the first line must be WEBVTT")
    return _read_cues(text, vtt=True)


# -- Markdown ---------------------------------------------------------------------------------------------
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^(\s{0,3}#{1,6}\s+)(.*?)(\s+#+\s*)?$")
_LIST = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?)(.*)$")
_QUOTE = re.compile(r"^(\s{0,3}(?:>\s?)+)(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# Inline markup the model must not change: code spans, link/image targets, autolinks, bare URLs, HTML tags.
_INLINE = re.compile(
    r"(`+)(?:(?!\1).)+?\1|\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|<https?://[^>]+>|https?://[^\s)>\]]+|</?[a-zA-Z][^>]*>"
)


def protect_inline(text: str) -> tuple[str, dict[str, str]]:
    """Replace inline code, URLs and tags with numbered placeholders the model copies through."""
    protected: dict[str, str] = {}

    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("]("):
            placeholder = f"[[{len(protected)}]]"
            protected[placeholder] = token[1:]
            return "]" + placeholder
        placeholder = f"[[{len(protected)}]]"
        protected[placeholder] = token
        return placeholder

    return _INLINE.sub(keep, text), protected


def restore_inline(translation: str, protected: dict[str, str]) -> str | None:
    """Markup back in place, or None when the model dropped or duplicated a placeholder."""
    for placeholder, original in protected.items():
        if translation.count(placeholder) != 1:
            return None
        translation = translation.replace(placeholder, original)
    return translation


def _md_segment(doc: Document, prefix: str, text: str, suffix: str, where: str) -> None:
    if prefix:
        doc.parts.append(prefix)
    if text.strip() and any(ch.isalpha() for ch in _INLINE.sub("", text)):
        masked, protected = protect_inline(text)
        doc.parts.append(Segment(masked, protected, where))
    else:
        doc.parts.append(text)
    doc.parts.append(suffix)


def read_md(text: str) -> Document:
    doc = Document()
    lines = text.splitlines(keepends=True)
    i = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((k for k in range(1, len(lines)) if lines[k].strip() in {"---", "..."}), None)
        if end is not None:
            doc.parts.append("".join(lines[: end + 1]))
            i = end + 1
    while i < len(lines):
        line = lines[i]
        body, newline = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
        where = f"line {i + 1}"
        fence = _FENCE.match(body)
        if fence:  # code block: fixed up to the closing fence (or the end of the file)
            marker = fence.group(1)
            end = next((k for k in range(i + 1, len(lines)) if lines[k].strip().startswith(marker)), len(lines) - 1)
            doc.parts.append("".join(lines[i : end + 1]))
            i = end + 1
            continue
        indented_code = (body.startswith("    ") or body.startswith("\t")) and (i == 0 or not lines[i - 1].strip())
        if (
            not body.strip()
            or _RULE.match(body)
            or _REFDEF.match(body)
            or body.lstrip().startswith("<")
            or (indented_code and not _LIST.match(body))
        ):
            doc.parts.append(line)
            i += 1
            continue
        if "|" in body and (
            _TABLE_SEP.match(body)
            or (i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]))
            or (i > 0 and "|" in lines[i - 1] and lines[i - 1].strip())
        ):
            if _TABLE_SEP.match(body):
                doc.parts.append(line)
            else:
                for k, cell in enumerate(re.split(r"(\|)", body)):
                    if k % 2:
                        doc.parts.append(cell)
                    else:
                        lead = cell[: len(cell) - len(cell.lstrip())]
                        trail = cell[len(cell.rstrip()) :] if cell.strip() else ""
                        _md_segment(doc, lead, cell.strip() if cell.strip() else cell[len(lead) :], trail, where)
                doc.parts.append(newline)
            i += 1
            continue
        for pattern in (_HEADING, _LIST, _QUOTE):
            match = pattern.match(body)
            if match:
                suffix = (match.group(3) or "") if pattern is _HEADING else ""
                _md_segment(doc, match.group(1), match.group(2), suffix + newline, where)
                i += 1
                break
        else:  # a paragraph: consecutive plain lines, translated together
            end = i
            while end + 1 < len(lines) and lines[end + 1].strip() and not _starts_block(lines[end + 1]):
                end += 1
            paragraph = "".join(lines[i : end + 1])
            stripped = paragraph.rstrip("\r\n")
            _md_segment(doc, "", stripped, paragraph[len(stripped) :], where)
            i = end + 1
    return doc


def _starts_block(line: str) -> bool:
    body = line.rstrip("\r\n")
    return bool(
        _FENCE.match(body)
        or _HEADING.match(body)
        or _LIST.match(body)
        or _QUOTE.match(body)
        or _RULE.match(body)
        or body.lstrip().startswith(("<", "|"))
    )


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
