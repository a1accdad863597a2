"""NER inputs (text, .txt, .html news pages, .jsonl, folders, URLs) and outputs (JSON, JSONL, CSV, CoNLL, HTML).

Readers yield either a Document or an InputProblem, so a batch reports bad items and keeps going."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganymede.apps.ner.conll import char_spans_to_tags
from ganymede.apps.ner.labels import Entity
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.fileio import jsonl_records, write_atomic

TEXT_SUFFIXES = {".txt", ".text", ".md"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
INPUT_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
OUTPUT_FORMATS = ("json", "jsonl", "csv", "conll", "html")
URL_TIMEOUT_S = 20
MAX_URL_BYTES = 20_000_000


@dataclass
class Document:
    id: str
    text: str
    source: str
    entities: list[Entity] = field(default_factory=list)

    def to_dict(self, include_text: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id, "source": self.source}
        if include_text:
            record["text"] = self.text
        record["entities"] = [e.to_dict() for e in self.entities]
        return record


@dataclass(frozen=True)
class InputProblem:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


# -- inputs ------------------------------------------------------------------------------------------
def html_to_text(html: str, source: str = "") -> str | None:
    """The article's main text (boilerplate such as menus and footers removed), or None if there is none."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False, url=source or None)
    return text.strip() if text and text.strip() else None


def is_url(item: str) -> bool:
    return item.startswith(("http://", "https://"))


def fetch_url(url: str) -> tuple[str, str]:
    """(body, content type). Network failures become InputFileError naming the URL."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "ganymede-ner/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT_S) as response:
            body = response.read(MAX_URL_BYTES + 1)
            content_type = response.headers.get_content_type()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise InputFileError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputFileError(f"{url}: cannot fetch ({reason})", "check the address and the network") from None
    if len(body) > MAX_URL_BYTES:
        raise InputFileError(f"{url}: page larger than {MAX_URL_BYTES // 1_000_000} MB")
    return body.decode(charset, errors="replace"), content_type


def read_url(url: str) -> Iterator[Document | InputProblem]:
    try:
        body, content_type = fetch_url(url)
    except InputFileError as exc:
        yield InputProblem(url, exc.message)
        return
    if "html" in content_type or body.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        text = html_to_text(body, url)
        if text is None:
            yield InputProblem(url, "no article text found in the page")
            return
    else:
        text = body
    yield from _document(url, text, url)


def _document(doc_id: str, text: str, source: str) -> Iterator[Document | InputProblem]:
    if not text.strip():
        yield InputProblem(source, "empty text")
    else:
        yield Document(doc_id, text, source)


def _read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None


def read_jsonl(path: Path, text_field: str = "text", id_field: str = "id") -> Iterator[Document | InputProblem]:
    """One document per line: {"text": ..., "id": ...}; a bad line is reported with its number and skipped."""
    problems: list[InputProblem] = []

    def report(line_no: int, reason: str) -> None:
        problems.append(InputProblem(f"{path}, line {line_no}", reason))

    for line_no, record in jsonl_records(_read_text_file(path).splitlines(), path, on_error=report):
        yield from problems
        problems.clear()
        where = f"{path}, line {line_no}"
        if not isinstance(record.get(text_field), str):
            yield InputProblem(where, f"expected an object with a string {text_field!r} field")
            continue
        doc_id = str(record.get(id_field, f"{path.name}:{line_no}"))
        yield from _document(doc_id, record[text_field], where)
    yield from problems


def read_file(path: Path, text_field: str = "text") -> Iterator[Document | InputProblem]:
    suffix = path.suffix.lower()
    try:
        if suffix in JSONL_SUFFIXES:
            yield from read_jsonl(path, text_field)
            return
        raw = _read_text_file(path)
    except InputFileError as exc:
        yield InputProblem(str(path), exc.message)
        return
    except OSError as exc:
        yield InputProblem(str(path), f"cannot read ({exc.strerror})")
        return
    if suffix in HTML_SUFFIXES:
        text = html_to_text(raw, "")
        if text is None:
            yield InputProblem(str(path), "no article text found in the HTML")
            return
        raw = text
    yield from _document(path.name, raw, str(path))


def iter_documents(items: Sequence[str], text_field: str = "text") -> Iterator[Document | InputProblem]:
    """Documents from paths (files, folders searched recursively for known suffixes) and URLs, in order."""
    for item in items:
        if is_url(item):
            yield from read_url(item)
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not files:
                yield InputProblem(item, f"no {', '.join(sorted(INPUT_SUFFIXES))} files in this folder")
            for file in files:
                yield from read_file(file, text_field)
        elif path.is_file():
            if path.suffix.lower() not in INPUT_SUFFIXES:
                yield InputProblem(item, f"unsupported file type {path.suffix or '(none)'}; use .txt, .html or .jsonl")
            else:
                yield from read_file(path, text_field)
        else:
            yield InputProblem(item, "no such file or folder (use --text for literal text)")


def collect(items: Sequence[str], texts: Sequence[str]) -> tuple[list[Document], list[InputProblem]]:
    """The documents of `ganymede ner`: literal texts first (source `--text`, as outputs have always named
    them), then those read from `items`; empty texts and unreadable items come back as problems."""
    docs: list[Document] = []
    problems: list[InputProblem] = []
    for i, text in enumerate(texts, start=1):
        if text.strip():
            docs.append(Document(f"text-{i}", text, "--text"))
        else:
            problems.append(InputProblem(f"--text #{i}", "empty text"))
    for item in iter_documents(items):
        (docs if isinstance(item, Document) else problems).append(item)
    return docs, problems


def text_from_file(path: str | Path) -> str:
    """The (main) text of an uploaded .txt/.html file, or of the first record of a .jsonl file."""
    for item in iter_documents([str(path)]):
        if isinstance(item, Document):
            return item.text
        raise GanymedeError(f"cannot use {Path(path).name}: {item.reason}", "upload a .txt, .html or .jsonl file")
    raise GanymedeError(f"no text in {Path(path).name}")


# -- outputs -----------------------------------------------------------------------------------------
def format_for(path: str | None, explicit: str | None) -> str:
    if explicit:
        return explicit
    if path:
        suffix = Path(path).suffix.lower().lstrip(".")
        aliases = {"htm": "html", "ndjson": "jsonl", "conll": "conll", "txt": "conll"}
        fmt = aliases.get(suffix, suffix)
        if fmt in OUTPUT_FORMATS:
            return fmt
        raise GanymedeError(
            f"cannot tell the output format from {path!r}",
            "name it .json, .jsonl, .csv, .conll or .html, or add --format",
        )
    return "jsonl"


def to_json(docs: Sequence[Document]) -> str:
    return json.dumps([d.to_dict() for d in docs], ensure_ascii=False, indent=2) + "\n"


def to_jsonl(docs: Sequence[Document]) -> str:
    return "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in docs)


def to_csv(docs: Sequence[Document]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["doc_id", "text", "label", "start", "end", "engine"])
    for doc in docs:
        for e in doc.entities:
            writer.writerow([doc.id, e.text, e.label, e.start, e.end, e.engine])
    return buffer.getvalue()


def _sentencizer() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def to_conll(docs: Sequence[Document]) -> str:
    """`token tag` lines (IOB2), a blank line after each sentence, `-DOCSTART- O` before each document.

    Tokens come from spaCy's English tokenizer; an entity tags every token it overlaps."""
    nlp = _sentencizer()
    lines: list[str] = []
    for doc in docs:
        lines += ["-DOCSTART- O", ""]
        parsed = nlp(doc.text)
        entities = [(e.start, e.end, e.label) for e in doc.entities]
        for sent in parsed.sents:
            tokens = [t for t in sent if not t.is_space]
            if not tokens:
                continue
            offsets = [(t.idx, t.idx + len(t.text)) for t in tokens]
            tags = char_spans_to_tags(offsets, entities)
            lines += [f"{t.text} {tag}" for t, tag in zip(tokens, tags, strict=True)]
            lines.append("")
    return "\n".join(lines) + "\n"


def to_html(docs: Sequence[Document], title: str = "Ganymede NER") -> str:
    """displaCy's entity view: one highlighted section per document."""
    from spacy import displacy

    parsed = [
        {
            "text": d.text,
            "ents": [{"start": e.start, "end": e.end, "label": e.label} for e in d.entities],
            "title": d.id,
        }
        for d in docs
    ]
    return displacy.render(parsed, style="ent", manual=True, page=True, minify=True, options={"colors": COLORS})


COLORS = {"PER": "#aa9cfc", "LOC": "#feca74", "ORG": "#7aecec", "MISC": "#bfeeb7"}
WRITERS = {"json": to_json, "jsonl": to_jsonl, "csv": to_csv, "conll": to_conll, "html": to_html}


def render(docs: Sequence[Document], fmt: str) -> str:
    return WRITERS[fmt](docs)


def export(doc: Document, fmt: str, folder: str | Path) -> Path:
    """Write one annotated document in an output format; returns the file's path."""
    return write_atomic(Path(folder) / f"entities.{fmt}", render([doc], fmt))


def label_counts(docs: Iterable[Document]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in docs:
        for e in doc.entities:
            counts[e.label] = counts.get(e.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# -- views of one document (the UI's highlighted text and tables) --------------------------------------
def highlighted(doc: Document) -> list[tuple[str, str | None]]:
    """(piece, label or None) pairs covering the whole text, the shape Gradio's HighlightedText shows."""
    pieces: list[tuple[str, str | None]] = []
    cursor = 0
    for e in sorted(doc.entities, key=lambda e: e.start):
        if e.start < cursor:
            continue
        if e.start > cursor:
            pieces.append((doc.text[cursor : e.start], None))
        pieces.append((doc.text[e.start : e.end], e.label))
        cursor = e.end
    if cursor < len(doc.text):
        pieces.append((doc.text[cursor:], None))
    return pieces


def entity_rows(doc: Document) -> list[list[Any]]:
    """One `text, label, start, end, engine` row per entity."""
    return [[e.text, e.label, e.start, e.end, e.engine] for e in doc.entities]


def count_rows(doc: Document) -> list[list[Any]]:
    """One `label, count` row per label, most frequent first."""
    return [[label, n] for label, n in label_counts([doc]).items()]
