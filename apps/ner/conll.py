"""CoNLL-2003 files: `token POS chunk tag` lines, blank lines between sentences, `-DOCSTART-` between documents.

Tags may be IOB1 (the original release: `B-` only where two entities of the same type touch) or IOB2
(`B-` opens every entity); both are read into IOB2 so seqeval and spaCy see one convention."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganymede.core.errors import InputFileError


@dataclass(frozen=True)
class Sentence:
    words: list[str]
    tags: list[str]  # IOB2
    line: int  # 1-based line of the first token, for error messages and reports

    @property
    def text(self) -> str:
        """The sentence as one string: tokens joined by single spaces (the offsets every engine reports into)."""
        return " ".join(self.words)

    def token_offsets(self) -> list[tuple[int, int]]:
        offsets, start = [], 0
        for word in self.words:
            offsets.append((start, start + len(word)))
            start += len(word) + 1
        return offsets


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """`I-X` that starts an entity becomes `B-X`; IOB2 input passes through unchanged."""
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def _check_tag(tag: str, path: Path, line_no: int) -> None:
    if tag != "O" and not (len(tag) > 2 and tag[:2] in {"B-", "I-"}):
        raise InputFileError(
            f"{path}, line {line_no}: tag {tag!r} is not O, B-TYPE or I-TYPE",
            "CoNLL lines are `token POS chunk tag` (or `token tag`) with IOB1 or IOB2 tags",
        )


def read_conll(path: str | Path, limit: int | None = None) -> list[Sentence]:
    """All sentences of a CoNLL file (the last column is the NER tag). Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"CoNLL file not found: {path}", "give the path of a CoNLL-2003 file such as eng.testa")
    sentences: list[Sentence] = []
    for sentence in _iter_sentences(path):
        sentences.append(sentence)
        if limit is not None and len(sentences) >= limit:
            break
    if not sentences:
        raise InputFileError(f"{path}: no sentences found", "expected `token POS chunk tag` lines")
    return sentences


def _iter_sentences(path: Path) -> Iterator[Sentence]:
    words: list[str] = []
    tags: list[str] = []
    first_line = 0
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("-DOCSTART-"):
                if words:
                    yield Sentence(words, iob1_to_iob2(tags), first_line)
                    words, tags = [], []
                continue
            columns = line.split()
            if len(columns) < 2:
                raise InputFileError(
                    f"{path}, line {line_no}: expected a token and a tag, got {line[:60]!r}",
                    "CoNLL lines are `token POS chunk tag` (or `token tag`)",
                )
            _check_tag(columns[-1], path, line_no)
            if not words:
                first_line = line_no
            words.append(columns[0])
            tags.append(columns[-1])
    if words:
        yield Sentence(words, iob1_to_iob2(tags), first_line)


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """IOB2 tags -> (first token, end token exclusive, label). A stray `I-` opens a new entity, as seqeval does."""
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for i, tag in enumerate([*tags, "O"]):
        opens = tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != label)
        if label is not None and (tag == "O" or opens):
            spans.append((start, i, label))
            start, label = None, None
        if opens:
            start, label = i, tag[2:]
    return spans


def spans_to_tags(n_tokens: int, spans: Sequence[tuple[int, int, str]]) -> list[str]:
    tags = ["O"] * n_tokens
    for start, end, label in spans:
        for i in range(start, end):
            tags[i] = ("B-" if i == start else "I-") + label
    return tags


def char_spans_to_tags(offsets: Sequence[tuple[int, int]], entities: Sequence[tuple[int, int, str]]) -> list[str]:
    """Character-offset entities -> IOB2 tags over tokens with the given offsets.

    A token belongs to an entity when their characters overlap, so engines whose tokenizers split
    differently from the gold tokens are scored on whole gold tokens. Overlapping entities: first wins."""
    token_spans: list[tuple[int, int, str]] = []
    taken = [False] * len(offsets)
    for start, end, label in sorted(entities):
        covered = [i for i, (t_start, t_end) in enumerate(offsets) if t_start < end and start < t_end]
        if not covered or any(taken[i] for i in covered):
            continue
        for i in covered:
            taken[i] = True
        token_spans.append((covered[0], covered[-1] + 1, label))
    return spans_to_tags(len(offsets), token_spans)
