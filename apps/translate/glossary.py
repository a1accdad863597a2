"""Glossaries: terms to keep as they are or to render one way, as prompt notes and as a check on the output."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from ganymede.core.errors import InputFileError


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    translation: str  # equal to term for a do-not-translate entry

    @property
    def keep(self) -> bool:
        return self.term == self.translation


@dataclass
class Glossary:
    entries: list[GlossaryEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def relevant(self, text: str) -> list[GlossaryEntry]:
        """Entries whose term occurs in `text` (whole words, case-insensitive): only those go into a prompt."""
        return [e for e in self.entries if find_term(e.term, text)]

    def notes(self, text: str) -> str:
        """Prompt lines for the entries this text uses ("" when none)."""
        lines = []
        for entry in self.relevant(text):
            if entry.keep:
                lines.append(f'- keep "{entry.term}" exactly as it is (do not translate it)')
            else:
                lines.append(f'- translate "{entry.term}" as "{entry.translation}"')
        return "\nUse this glossary:\n" + "\n".join(lines) if lines else ""

    def missing(self, source: str, translation: str) -> list[GlossaryEntry]:
        """Entries used in the source whose required rendering is absent from the translation."""
        return [e for e in self.relevant(source) if not find_term(e.translation, translation)]


def find_term(term: str, text: str) -> bool:
    """Whether `term` occurs in `text` as whole words, ignoring case."""
    pattern = r"(?<!\w)" + re.escape(term) + r"(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def parse_glossary(text: str, name: str = "glossary") -> Glossary:
    """One entry a line: `term` (keep as is), `term = translation`, `term => translation`, or `term<TAB>translation`
    (also CSV with two columns). Blank lines and lines starting with # are ignored."""
    entries: list[GlossaryEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for separator in ("=>", "\t", "=", ","):
            if separator in line:
                term, _, translation = (part.strip() for part in line.partition(separator))
                break
        else:
            term, translation = line, line
        if separator == "," and term.startswith('"'):  # quoted CSV cells
            term, translation = next(csv.reader([line]))[:2]
        if not term or not translation:
            raise InputFileError(
                f"{name} line {number}: empty term or translation in {raw!r}", "write `term`, or `term = translation`"
            )
        entries.append(GlossaryEntry(term.strip(), translation.strip()))
    return Glossary(entries)


def load_glossary(path: str | Path | None) -> Glossary:
    """The glossary in the UTF-8 file at `path`; an empty one when no path is given."""
    if not path:
        return Glossary()
    file = Path(path)
    try:
        return parse_glossary(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read glossary {file}: {exc}", "give a UTF-8 text file") from None
