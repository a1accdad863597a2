"""Reading dialogues from files for the summarize app: .txt, .json, .jsonl, .csv, .srt and .vtt, and folders
of them. Each reader returns Dialogue objects (turns plus, for labelled data, reference summaries); a file
that cannot be read raises InputFileError naming the file and the line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records
from ganymede.core.subtitles import TIMING, cues

FORMATS = ("txt", "json", "jsonl", "csv", "srt", "vtt")
EXTENSIONS = {f".{fmt}": fmt for fmt in FORMATS}
#: the fields a JSON record may hold its references in (DialogSum train/dev: summary; test: summary1..3)
REFERENCE_FIELDS = ("summary", "summary1", "summary2", "summary3")

# "Speaker: text": a short label without sentence punctuation, so "Note: the time is 3:30" style prose
# lines with long prefixes are not taken for speakers.
_SPEAKER_LINE = re.compile(r"^\s*(#?[^\s:#][^:\n]{0,40}?#?|#[^#:\n]{1,30}#)\s*:\s?(.*)$")
_VTT_VOICE = re.compile(r"^<v(?:\.[^\s>]+)*\s+([^>]+)>(.*?)(?:</v>)?$")
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Turn:
    speaker: str
    text: str

    def render(self) -> str:
        return f"{self.speaker}: {self.text}" if self.speaker else self.text


@dataclass
class Dialogue:
    """One dialogue to summarize. `source` identifies it in outputs and for resuming (a path, or
    path#id for one record of a multi-record file)."""

    source: str
    turns: list[Turn]
    references: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(turn.render() for turn in self.turns)


def parse_turn_lines(text: str, name: str = "<text>") -> list[Turn]:
    """`Speaker: text` lines (DialogSum's `#Person1#: ...` included). A line with no speaker label continues
    the previous turn; text with no labels at all becomes unlabelled turns, one per line."""
    turns: list[Turn] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _SPEAKER_LINE.match(line)
        if match and _looks_like_speaker(match.group(1)):
            turns.append(Turn(match.group(1).strip(), match.group(2).strip()))
        elif turns and turns[-1].speaker:
            turns[-1].text = f"{turns[-1].text} {line}".strip()
        else:
            turns.append(Turn("", line))
    if not turns:
        raise InputFileError(f"{name}: no dialogue text found", "write one `Speaker: text` line per turn")
    return turns


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Sentence pieces of one long turn, for chunking a turn too long for one prompt. Joined with spaces
    they give the turn back up to whitespace."""
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]
    return pieces or [text]


def _looks_like_speaker(label: str) -> bool:
    label = label.strip()
    if label.startswith("#") and label.endswith("#"):
        return True
    # Names are a few words; "http" or digits-only labels are times or links, not speakers.
    return 0 < len(label.split()) <= 4 and not label.isdigit() and label.lower() not in {"http", "https"}


def turns_from_records(records: Any, name: str) -> list[Turn]:
    """A list of {speaker, text} turns (also role/content, name/message) from JSON."""
    if not isinstance(records, list) or not records:
        raise InputFileError(f"{name}: expected a non-empty list of turns")
    turns = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputFileError(f"{name}: turn {i + 1} is not an object with speaker and text")
        speaker = record.get("speaker", record.get("role", record.get("name", "")))
        text = record.get("text", record.get("content", record.get("message")))
        if not isinstance(text, str):
            raise InputFileError(f"{name}: turn {i + 1} has no text field", 'write {"speaker": ..., "text": ...}')
        turns.append(Turn(str(speaker or "").strip(), text.strip()))
    return turns


def _dialogue_from_record(record: dict[str, Any], source: str, name: str) -> Dialogue:
    value = record.get("dialogue", record.get("turns"))
    if isinstance(value, str):
        turns = parse_turn_lines(value, name)
    elif isinstance(value, list):
        turns = turns_from_records(value, name)
    else:
        raise InputFileError(f"{name}: no `dialogue` field (text or a list of turns)", "see DialogSum's format")
    references = [str(record[key]) for key in REFERENCE_FIELDS if isinstance(record.get(key), str) and record[key]]
    return Dialogue(source, turns, references)


def _record_id(record: dict[str, Any], fallback: int) -> str:
    for key in ("id", "fname", "dialogue_id"):
        if record.get(key) not in (None, ""):
            return str(record[key])
    return str(fallback)


def read_json(text: str, path: str) -> list[Dialogue]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict):
        return [_dialogue_from_record(data, path, path)]
    if isinstance(data, list) and data and all(isinstance(r, dict) and "dialogue" in r for r in data):
        return [
            _dialogue_from_record(r, f"{path}#{_record_id(r, i)}", f"{path} item {i}") for i, r in enumerate(data, 1)
        ]
    return [Dialogue(path, turns_from_records(data, path))]


def read_jsonl(text: str, path: str) -> list[Dialogue]:
    """One dialogue record a line, or (when the lines are turns) one dialogue of the whole file."""
    records = list(jsonl_records(text.splitlines(), path))
    if not records:
        raise InputFileError(f"{path}: the file has no records")
    if "dialogue" in records[0][1] or "turns" in records[0][1]:
        return [_dialogue_from_record(r, f"{path}#{_record_id(r, n)}", f"{path} line {n}") for n, r in records]
    return [Dialogue(path, turns_from_records([r for _, r in records], path))]


def read_csv(text: str, path: str) -> list[Dialogue]:
    """Columns speaker and text (case-insensitive); an optional dialogue_id column splits the file."""
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    text_col = next((columns[c] for c in ("text", "utterance", "message", "content") if c in columns), None)
    speaker_col = next((columns[c] for c in ("speaker", "name", "role") if c in columns), None)
    if text_col is None or speaker_col is None:
        raise InputFileError(
            f"{path} line 1: expected speaker and text columns, found {', '.join(reader.fieldnames or []) or 'none'}",
            "name the header columns speaker,text",
        )
    group_col = next((columns[c] for c in ("dialogue_id", "conversation_id") if c in columns), None)
    groups: dict[str, list[Turn]] = {}
    for number, row in enumerate(reader, start=2):
        body = (row.get(text_col) or "").strip()
        if not body:
            continue
        if None in row:
            raise InputFileError(f"{path} line {number}: more cells than header columns", "quote text with commas")
        key = (row.get(group_col) or "").strip() if group_col else ""
        groups.setdefault(key, []).append(Turn((row.get(speaker_col) or "").strip(), body))
    if not groups:
        raise InputFileError(f"{path}: no rows with text")
    return [Dialogue(f"{path}#{key}" if group_col else path, turns) for key, turns in groups.items()]


def _cue_turns(lines: Iterable[str]) -> list[Turn]:
    turns = []
    for line in lines:
        voice = _VTT_VOICE.match(line.strip())
        if voice:
            turns.append(Turn(voice.group(1).strip(), _TAG.sub("", voice.group(2)).strip()))
            continue
        clean = _TAG.sub("", line).strip()
        if clean.startswith("- "):  # "- line" marks a change of speaker within a cue
            clean = clean[2:]
        match = _SPEAKER_LINE.match(clean)
        if match and _looks_like_speaker(match.group(1)):
            turns.append(Turn(match.group(1).strip(), match.group(2).strip()))
        elif clean:
            turns.append(Turn("", clean))
    return turns


def read_subtitles(text: str, path: str) -> list[Dialogue]:
    """SRT or WebVTT cues (core/subtitles.py, the reader the translator uses too), timestamps and numbering
    dropped; consecutive lines of one speaker are merged."""
    turns: list[Turn] = []
    for cue in cues(text):
        turns.extend(_cue_turns(row.rstrip() for row in cue.body.split("\n") if row.strip()))
    merged: list[Turn] = []
    for turn in turns:
        if (
            merged
            and turn.speaker == merged[-1].speaker
            and (turn.speaker or not merged[-1].text.endswith((".", "?", "!")))
        ):
            merged[-1].text = f"{merged[-1].text} {turn.text}"
        else:
            merged.append(turn)
    if not merged:
        raise InputFileError(f"{path}: no subtitle cues found", "expected `00:00:01,000 --> 00:00:02,000` lines")
    return [Dialogue(path, merged)]


def sniff_format(text: str, suffix: str) -> str:
    """The format by extension, corrected by content where they disagree (JSONL saved as .json)."""
    head = text.lstrip("\ufeff \n\r\t")[:2000]
    by_ext = EXTENSIONS.get(suffix.lower())
    if by_ext == "json" and head.startswith("{") and "\n{" in text.strip():
        return "jsonl"
    if by_ext:
        return by_ext
    if head.startswith("WEBVTT"):
        return "vtt"
    if any(TIMING.match(line) for line in head.splitlines()[:4]):
        return "srt"
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl" if "\n{" in text.strip() else "json"
    return "txt"


READERS = {
    "txt": lambda text, path: [Dialogue(path, parse_turn_lines(text, path))],
    "json": read_json,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "srt": read_subtitles,
    "vtt": read_subtitles,
}


def read_file(path: str | Path, fmt: str | None = None) -> list[Dialogue]:
    """The dialogues in one file (several for JSONL/JSON record lists and grouped CSV)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{file}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {file}: {exc.strerror or exc}") from None
    if not text.strip():
        raise InputFileError(f"{file}: the file is empty")
    chosen = fmt or sniff_format(text, file.suffix)
    if chosen not in READERS:
        raise InputFileError(f"{file}: unknown format {chosen!r}", f"use one of {', '.join(FORMATS)}")
    return READERS[chosen](text, str(file))


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given, and the known-format files inside folders (recursively, sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
        else:
            yield path
