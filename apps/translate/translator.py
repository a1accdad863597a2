"""Translation of strings between named languages, with source-language detection and a glossary.

The pipeline, in the order of this file: preprocess (resolve the languages, detect the source, split into
paragraphs and into chunks that fit the context window) -> prompt (few-shot examples into the target language,
glossary notes) -> model call (one prompt per chunk, optionally several candidates and their consensus) ->
postprocess (strip the chatter models add around a translation). Documents are in files.py, their formats in
formats.py, glossaries in glossary.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ganymede.apps.translate import languages
from ganymede.apps.translate.glossary import Glossary, GlossaryEntry
from ganymede.apps.translate.languages import Detection, Language
from ganymede.core.calllog import call_context
from ganymede.core.errors import GanymedeError
from ganymede.core.generation import GenerationConfig

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.prompts import PromptSpec

PROMPT = "translate"
BASELINE_PROMPT = "translate_baseline"
#: replies may be this many times longer (in tokens) than the source, plus a margin: German runs long.
LENGTH_FACTOR = 2.5
LENGTH_MARGIN = 32


class SourceNotDetectedError(GanymedeError):
    """The source language was left to detection and the text did not reveal it."""


# -- preprocess ----------------------------------------------------------------------------------------
def resolve_source(source: str | None, text: str) -> tuple[Language, Detection | None]:
    """The named source language, or the detected one (with the detection, to show the user)."""
    if not languages.is_auto(source):
        return languages.resolve(source or ""), None
    detection = languages.detect(text)
    if detection.language is None:
        raise SourceNotDetectedError("could not detect the source language", "set the source language (e.g. 'en')")
    return detection.language, detection


_PARAGRAPH_BREAK = re.compile(r"(\n\s*\n)")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs and the blank-line separators between them, alternating, so "".join() gives `text` back."""
    return _PARAGRAPH_BREAK.split(text)


# A sentence ends at . ! ? … (and closing quotes) before a space and a word that does not start in lower case,
# or right after a CJK full stop.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[^a-z\s])|[。！？]")


def split_sentences(text: str) -> list[str]:
    """Sentence pieces of a paragraph (for paragraphs too long for one prompt); joined by spaces they give
    the paragraph back up to whitespace."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p] or [text]


def input_budget(backend: Backend, spec: PromptSpec, config: GenerationConfig) -> int:
    """Tokens of source text one prompt can carry: the window minus the prompt's fixed part, and room for a
    reply about LENGTH_FACTOR times as long as the text."""
    fixed = backend.count_tokens(build_messages(spec, "", languages.resolve("en"), languages.resolve("de")))
    room = backend.context_window - fixed - LENGTH_MARGIN
    return max(16, min(int(room / (1 + LENGTH_FACTOR)), config.max_new_tokens))


def chunk_segment(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """A segment as one chunk, or split on sentence boundaries when it is over the budget."""
    from ganymede.core.chunking import pack

    if count_tokens(text) <= budget:
        return [text]
    return pack(split_sentences(text), count_tokens, budget, separator=" ", split_oversized=None)


# -- prompt ------------------------------------------------------------------------------------------
def examples_for(spec: PromptSpec, target: Language, source: Language) -> list[dict[str, str]]:
    """Worked examples into the target language (from English, the examples' source); none for other pairs,
    where showing a different language would pull the reply towards it."""
    return [e for e in spec.examples if e["target"] == target.name and e["source"] == source.name]


def build_messages(
    spec: PromptSpec,
    text: str,
    source: Language,
    target: Language,
    glossary: Glossary | None = None,
    shots: int | None = None,
) -> list[dict[str, str]]:
    variables = {"source": source.name, "target": target.name, "text": text, "notes": ""}
    if glossary:
        variables["notes"] = glossary.notes(text)
    return spec.render(variables, shots=shots, examples=examples_for(spec, target, source))


# -- model call ----------------------------------------------------------------------------------------
@dataclass
class Translation:
    text: str
    source: Language
    target: Language
    detection: Detection | None = None
    glossary_missing: list[GlossaryEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source_lang": self.source.code,
            "target_lang": self.target.code,
            "detected": self.detection.describe() if self.detection else None,
            "glossary_missing": [e.term for e in self.glossary_missing],
        }


class Translator:
    """Translates strings for one backend, language pair, prompt and glossary (reusable across segments)."""

    def __init__(
        self,
        backend: Backend,
        source: Language,
        target: Language,
        glossary: Glossary | None = None,
        config: GenerationConfig | None = None,
        prompt: str = PROMPT,
        clean: bool | None = None,
        candidates: int = 1,
    ) -> None:
        """`candidates` > 1: several translations, and the one that agrees most with the others
        (minimum-Bayes-risk selection under chrF) wins; costs `candidates` times the generation time. The
        pool is the greedy translation, the greedy translation under the plain one-line prompt (a second
        prompt makes errors less correlated than sampling alone does: multi-prompt MBR), then samples."""
        from ganymede.core.prompts import load_prompt

        self.backend = backend
        self.source = source
        self.target = target
        self.glossary = glossary or Glossary()
        self.spec = load_prompt(prompt)
        self.config = config or self.spec.config()
        self.clean = prompt != BASELINE_PROMPT if clean is None else clean
        self.budget = input_budget(backend, self.spec, self.config)
        if candidates < 1:
            raise GanymedeError(f"candidates must be at least 1, not {candidates}")
        self.candidates = candidates
        self.second_prompt = load_prompt(BASELINE_PROMPT) if candidates > 1 and prompt != BASELINE_PROMPT else None

    def _requests(self, text: str) -> list[tuple[list[dict[str, str]], GenerationConfig]]:
        """(messages, settings) for each candidate, greedy first."""
        messages = build_messages(self.spec, text, self.source, self.target, self.glossary)
        limit = int(self.backend.count_tokens(text) * LENGTH_FACTOR) + LENGTH_MARGIN
        config = self.config.merged(max_new_tokens=min(self.config.max_new_tokens, limit))
        requests = [(messages, config)]
        if self.second_prompt is not None:
            second = build_messages(self.second_prompt, text, self.source, self.target, self.glossary)
            requests.append((second, config))
        seed = config.seed or 0
        while len(requests) < self.candidates:
            seed += 1
            sampled = config.merged(greedy=False, temperature=0.7, top_p=0.95, top_k=40, seed=seed)
            requests.append((messages, sampled))
        return requests

    def _one(self, text: str) -> str:
        from ganymede.apps.evaluation.mt import consensus_index

        replies = []
        with call_context(app="translate", template=self.spec.name):
            for messages, config in self._requests(text):
                reply = self.backend.chat(messages, config).text
                replies.append(clean_reply(reply, text) if self.clean else reply.strip())
        # A glossary is a hard constraint: candidates that break it only vote when none keeps it.
        keeping = [r for r in replies if not self.missing_terms(text, r)] or replies
        return keeping[consensus_index(keeping)]

    def translate(self, text: str) -> str:
        """One segment (a paragraph, a subtitle cue, a cell): blank or symbol-only text passes through, and a
        segment over the budget is translated sentence group by sentence group."""
        if not any(ch.isalpha() for ch in text):
            return text
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        chunks = chunk_segment(text.strip(), self.backend.count_tokens, self.budget)
        return lead + " ".join(self._one(chunk) for chunk in chunks) + trail

    def missing_terms(self, source_text: str, translation: str) -> list[GlossaryEntry]:
        return self.glossary.missing(source_text, translation) if self.glossary else []


def translate_text(
    backend: Backend,
    text: str,
    target: str,
    source: str | None = None,
    glossary: Glossary | None = None,
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
) -> Translation:
    """Translate plain text paragraph by paragraph (blank lines kept)."""
    if not text.strip():
        raise GanymedeError("nothing to translate: the text is empty")
    target_lang = languages.resolve(target)
    source_lang, detection = resolve_source(source, text)
    translator = Translator(backend, source_lang, target_lang, glossary, config, candidates=candidates)
    parts = split_paragraphs(text)
    paragraphs = len(parts[::2])
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(translator.translate(part) if i % 2 == 0 else part)  # odd parts are the blank lines between
        if progress and i % 2 == 0:
            progress(i // 2 + 1, paragraphs)
    result = "".join(out)
    return Translation(result, source_lang, target_lang, detection, translator.missing_terms(text, result))


# -- postprocess --------------------------------------------------------------------------------------
_LABEL = re.compile(
    r"^\s*(?:here is the translation[^:\n]*:|translation(?: \([^)]*\))?\s*:|\w+ translation\s*:)\s*", re.IGNORECASE
)
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("«", "»"), ("„", "“"), ("```", "```")]
_NOTE = re.compile(r"\n\s*(?:\(?note|notes|explanation|\*\*note)\b.*$", re.IGNORECASE | re.DOTALL)


def clean_reply(reply: str, source_text: str) -> str:
    """The translation alone: drop labels ("Translation:"), trailing notes, quotes or code fences the model
    wrapped around it, and extra paragraphs when the source had none."""
    text = reply.strip()
    text = _LABEL.sub("", text, count=1)
    if not _NOTE.search("\n" + source_text):  # a source line of its own starting 'Note' is content
        text = _NOTE.sub("", text).strip()
    if "\n\n" not in source_text.strip() and "\n\n" in text:
        text = text.split("\n\n", 1)[0].strip()
    for opening, closing in _QUOTES:
        wrapped = text.startswith(opening) and text.endswith(closing) and len(text) > len(opening) + len(closing)
        if wrapped and not source_text.strip().startswith(opening[0]):
            inner = text[len(opening) : len(text) - len(closing)]
            if opening == "```":
                inner = inner.split("\n", 1)[1] if "\n" in inner else inner
            text = inner.strip()
    return text
