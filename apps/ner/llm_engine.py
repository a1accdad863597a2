"""The `llm` NER engine: a few-shot prompt (prompts/ner.yaml) to any backend, JSON output validated, and
every entity located in the source text. Spans the model invented (not in the text) are dropped and counted.

Long texts are cut into chunks that are exact slices of the original (paragraphs, then sentences, then
words), so chunk offsets + in-chunk offsets are always offsets into the original text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError, field_validator

from ganymede.apps.ner.labels import CONLL, LABEL_DESCRIPTIONS, Entity
from ganymede.core.calllog import call_context
from ganymede.core.chunking import pack
from ganymede.core.generation import GenerationConfig
from ganymede.core.prompts import load_prompt

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend

PROMPT = "ner"
DEFAULT_CHUNK_TOKENS = 384
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_PARAGRAPH_END = re.compile(r"\n\s*\n|\n")


class RawEntity(BaseModel):
    """One item of the model's JSON answer."""

    text: str
    label: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty entity text")
        return value.strip()


@dataclass
class LLMStats:
    """What the model got wrong, so evaluations and batch reports can show it."""

    chunks: int = 0
    unparsed_chunks: int = 0
    invalid_items: int = 0
    invented_spans: int = 0
    found_spans: int = 0
    examples_invented: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, int]:
        return {
            "chunks": self.chunks,
            "unparsed_chunks": self.unparsed_chunks,
            "invalid_items": self.invalid_items,
            "invented_spans": self.invented_spans,
            "found_spans": self.found_spans,
        }


# -- preprocess: chunks that are exact slices of the text -------------------------------------------
def _slices(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split after each separator match, keeping the separator with the piece before: "".join(out) == text."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in pieces if p]


def _word_slices(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    words = re.findall(r"\S+\s*|\s+", text)
    pieces: list[str] = []
    current = ""
    for word in words:
        if current and count_tokens(current + word) > budget:
            pieces.append(current)
            current = ""
        current += word
    if current:
        pieces.append(current)
    return pieces


def split_into_chunks(text: str, count_tokens: Callable[[str], int], budget: int) -> list[tuple[int, str]]:
    """(offset, chunk) pairs covering the whole text in order; each chunk fits `budget` tokens."""
    if not text:
        return []

    def split_oversized(piece: str) -> list[str]:
        sentences = _slices(piece, _SENTENCE_END)
        out: list[str] = []
        for sentence in sentences:
            out.extend([sentence] if count_tokens(sentence) <= budget else _word_slices(sentence, count_tokens, budget))
        return out

    chunks = pack(_slices(text, _PARAGRAPH_END), count_tokens, budget, separator="", split_oversized=split_oversized)
    located, offset = [], 0
    for chunk in chunks:
        located.append((offset, chunk))
        offset += len(chunk)
    if offset != len(text):  # the packing must never lose or add characters
        raise AssertionError("chunks do not cover the text exactly")
    return located


# -- postprocess: parse and locate --------------------------------------------------------------------
def _items_of(data: object) -> list[object] | None:
    """The answer as a list of {"text", "label"} items. Accepted shapes: {"PER": ["Ann"], ...} (what the prompt
    asks for: fewest tokens), [{"text": "Ann", "label": "PER"}, ...], or {"entities": [...]}."""
    if isinstance(data, dict) and isinstance(data.get("entities"), list):
        return data["entities"]
    if isinstance(data, dict):
        items: list[object] = []
        for label, names in data.items():
            for name in names if isinstance(names, list) else [names]:
                items.append({"text": name, "label": label})
        return items
    return data if isinstance(data, list) else None


def parse_reply(reply: str, labels: Sequence[str], stats: LLMStats) -> list[RawEntity] | None:
    """The entities in the reply's JSON (bare or fenced, see `_items_of`); None when there is no JSON answer."""
    cleaned = re.sub(r"```(?:json)?", "", reply).strip()
    data = None
    starts = [i for i in (cleaned.find("{"), cleaned.find("[")) if i != -1]
    for start in sorted(starts):
        closer = "}" if cleaned[start] == "{" else "]"
        end = cleaned.rfind(closer)
        if end > start:
            try:
                data = json.loads(cleaned[start : end + 1])
                break
            except json.JSONDecodeError:
                continue
    raw_items = _items_of(data)
    if raw_items is None:
        return None
    allowed = {label.upper() for label in labels}
    items: list[RawEntity] = []
    for item in raw_items:
        try:
            entity = RawEntity.model_validate(item)
        except ValidationError:
            stats.invalid_items += 1
            continue
        label = entity.label.strip().upper()
        if label not in allowed:
            stats.invalid_items += 1
            continue
        items.append(RawEntity(text=entity.text, label=label))
    return items


def _occurrences(text: str, needle: str, ignore_case: bool) -> list[int]:
    """Starts of `needle` in `text` on word boundaries (no match inside a longer word)."""
    flags = re.IGNORECASE if ignore_case else 0
    pattern = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", flags)
    return [m.start() for m in pattern.finditer(text)]


def locate(chunk: str, offset: int, items: Sequence[RawEntity], engine: str, stats: LLMStats) -> list[Entity]:
    """Place each named entity at its occurrences in the chunk; names not in the chunk are dropped and counted.

    A name the model lists once is tagged at every occurrence: models list a repeated name once."""
    taken: list[tuple[int, int]] = []
    entities: list[Entity] = []
    # Longer names first, so "New York Times" claims its characters before "New York" does.
    for item in sorted(items, key=lambda i: -len(i.text)):
        starts = _occurrences(chunk, item.text, ignore_case=False) or _occurrences(chunk, item.text, ignore_case=True)
        if not starts:
            stats.invented_spans += 1
            if len(stats.examples_invented) < 20:
                stats.examples_invented.append(item.text)
            continue
        stats.found_spans += 1
        for start in starts:
            end = start + len(item.text)
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            entities.append(Entity(chunk[start:end], item.label, offset + start, offset + end, engine))
    return sorted(entities, key=lambda e: e.start)


# -- the engine -----------------------------------------------------------------------------------------
class LLMEngine:
    """Few-shot NER with any backend. Labels default to CoNLL's four; any label set can be asked for."""

    name = "llm"
    native_scheme = "conll"

    def __init__(
        self,
        backend: Backend,
        labels: Sequence[str] = CONLL,
        config: GenerationConfig | None = None,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        shots: int | None = None,
    ) -> None:
        self.backend = backend
        self.labels = tuple(labels)
        self.spec = load_prompt(PROMPT)
        self.config = config or self.spec.config()
        self.chunk_tokens = chunk_tokens
        self.shots = shots
        self.stats = LLMStats()
        if any(label not in CONLL for label in self.labels):
            self.native_scheme = "ontonotes"

    def _label_text(self) -> str:
        return "\n".join(f"- {label}: {LABEL_DESCRIPTIONS.get(label, label)}" for label in self.labels)

    def messages(self, chunk: str) -> list[dict[str, str]]:
        # Worked examples use CoNLL labels; with another label set they would teach the wrong names.
        shots = self.shots if set(self.labels) <= set(CONLL) else 0
        system = self.spec.system.format(labels=self._label_text())
        return self.spec.render({"input": chunk}, shots=shots, system=system)

    def _budget(self) -> int:
        prompt_tokens = self.backend.count_tokens(self.messages(""))
        room = self.backend.context_window - prompt_tokens - self.config.max_new_tokens
        # Small models find fewer entities in long passages: keep chunks short even when the window is large.
        return min(self.chunk_tokens, room)

    def extract_one(self, text: str) -> list[Entity]:
        entities: list[Entity] = []
        budget = self._budget()
        for offset, chunk in split_into_chunks(text, self.backend.count_tokens, budget):
            if not chunk.strip():
                continue
            self.stats.chunks += 1
            with call_context(app="ner", template=PROMPT):
                reply = self.backend.chat(self.messages(chunk), self.config).text
            items = parse_reply(reply, self.labels, self.stats)
            if items is None:
                self.stats.unparsed_chunks += 1
                continue
            entities.extend(locate(chunk, offset, items, self.name, self.stats))
        return entities

    def extract(self, texts: Sequence[str], on_done: Callable[[int], None] | None = None) -> list[list[Entity]]:
        results = []
        for text in texts:
            results.append(self.extract_one(text))
            if on_done:
                on_done(1)
        return results
