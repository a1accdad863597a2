"""Translation of strings between named languages, with source-language detection and a glossary.

The pipeline, in the order of this file: preprocess (resolve the languages, detect the source, split into
paragraphs and into chunks that fit the context window) -> prompt (few-shot examples into the target language,
glossary notes) -> model call (one prompt per chunk, optionally several candidates and their consensus) ->
postprocess (strip the chatter models add around a translation). Documents are in files.py, their formats in
formats.py, glossaries in glossary.py."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ganymede.apps.translate import languages
from ganymede.apps.translate.glossary import Glossary, GlossaryEntry
from ganymede.apps.translate.languages import Detection, Language
from ganymede.apps.translate.markdown import PLACEHOLDER
from ganymede.core.calllog import call_context
from ganymede.core.errors import GanymedeError
from ganymede.core.generation import GenerationConfig

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.prompts import PromptSpec

PROMPT = "translate"
BASELINE_PROMPT = "translate_baseline"
#: several short segments of a document in one request, as numbered lines (prompts/translate_list.yaml)
LIST_PROMPT = "translate_list"
LIST_SEGMENTS = 8
LIST_TOKENS = 200
#: requests per chat_batch call: a batched decode's speed-up levels off around here on CPU
BATCH = 8
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
    where showing a different language would pull the reply towards it. A regional or script variety (pt-BR,
    zh-Hant) gets none either: the examples are written in one variety and would pull towards it."""
    if target.variant:
        return []
    return [e for e in spec.examples if e["target"] == target.name and e["source"] == source.name]


def build_messages(
    spec: PromptSpec,
    text: str,
    source: Language,
    target: Language,
    glossary: Glossary | None = None,
    shots: int | None = None,
    notes: str = "",
) -> list[dict[str, str]]:
    """`notes`: instructions for the whole document (the form of address, what a retry must keep). They go at
    the end of the system prompt, not into the user turn: a small model translates an instruction that sits
    beside the text as if it were text, and a system prompt shared by every request keeps its cached prefix.
    A prompt without a system prompt (the plain baseline) gets them on its instruction line."""
    variables = {"source": source.label, "target": target.label, "text": text, "notes": ""}
    if glossary:
        variables["notes"] = glossary.notes(text)
    examples = examples_for(spec, target, source)
    if notes and spec.system:
        return spec.render(variables, shots=shots, examples=examples, system=spec.system + "\n\n" + notes.strip())
    variables["notes"] = notes + variables["notes"]
    return spec.render(variables, shots=shots, examples=examples)


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


Request = tuple[list[dict[str, str]], GenerationConfig]
#: requests, and what to do with their replies (returns follow-up units)
Unit = tuple[list[Request], Callable[[list[str]], list[Any]]]


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
        formality: str | None = None,
    ) -> None:
        """`candidates` > 1: several translations, and the one that agrees most with the others
        (minimum-Bayes-risk selection under chrF) wins; costs `candidates` times the generation time. The
        pool is the greedy translation, the greedy translation under the plain one-line prompt (a second
        prompt makes errors less correlated than sampling alone does: multi-prompt MBR), then samples.
        `formality`: "formal" or "informal" (see formality.py), stated in every prompt; None says nothing
        (the sentence benchmark's prompt)."""
        from ganymede.apps.translate import formality as voice
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
        self.formality = formality
        self.notes = voice.note(formality, target.code)
        # Several short segments per request (numbered lines) only with the document prompt and one candidate:
        # MBR needs each segment's own candidates, and the plain prompt is a measured baseline.
        self.list_spec = load_prompt(LIST_PROMPT) if candidates == 1 and prompt == PROMPT else None

    def _limit(self, text: str, config: GenerationConfig | None = None) -> GenerationConfig:
        config = config or self.config
        limit = int(self.backend.count_tokens(text) * LENGTH_FACTOR) + LENGTH_MARGIN
        return config.merged(max_new_tokens=min(config.max_new_tokens, limit))

    def _requests(self, text: str, notes: str = "") -> list[tuple[list[dict[str, str]], GenerationConfig]]:
        """(messages, settings) for each candidate, greedy first."""
        notes = self.notes + notes
        messages = build_messages(self.spec, text, self.source, self.target, self.glossary, notes=notes)
        config = self._limit(text)
        requests = [(messages, config)]
        if self.second_prompt is not None:
            second = build_messages(self.second_prompt, text, self.source, self.target, self.glossary, notes=notes)
            requests.append((second, config))
        seed = config.seed or 0
        while len(requests) < self.candidates:
            seed += 1
            sampled = config.merged(greedy=False, temperature=0.7, top_p=0.95, top_k=40, seed=seed)
            requests.append((messages, sampled))
        return requests

    def _generate(self, requests: list[tuple[list[dict[str, str]], GenerationConfig]]) -> list[str]:
        """Replies to `requests`, BATCH at a time through `chat_batch` (one batched decode where the backend
        has one). Greedy rows of one slice share the slice's largest token budget, so the backend can decode
        them together; greedy decoding stops at the end of each reply, so the budget only caps runaways."""
        replies: list[str] = []
        with call_context(app="translate", template=self.spec.name):
            for start in range(0, len(requests), BATCH):
                rows = requests[start : start + BATCH]
                budget = max(config.max_new_tokens for _, config in rows)
                configs = [config.merged(max_new_tokens=budget) if config.is_greedy else config for _, config in rows]
                done = self.backend.chat_batch([messages for messages, _ in rows], configs)
                replies.extend(completion.text for completion in done)
        return replies

    def _pick(self, text: str, replies: list[str]) -> str:
        cleaned = [clean_reply(reply, text) if self.clean else reply.strip() for reply in replies]
        if len(cleaned) == 1:
            return cleaned[0]
        from ganymede.apps.evaluation.mt import consensus_index

        # A glossary is a hard constraint: candidates that break it only vote when none keeps it.
        keeping = [r for r in cleaned if not self.missing_terms(text, r)] or cleaned
        return keeping[consensus_index(keeping)]

    def _one(self, text: str, notes: str = "") -> str:
        return self._pick(text, self._generate(self._requests(text, notes)))

    def translate(self, text: str, notes: str = "") -> str:
        """One segment (a paragraph, a subtitle cue, a cell): blank or symbol-only text passes through, and a
        segment over the budget is translated sentence group by sentence group. `notes`: extra instructions
        for this segment (a retry says what the first attempt got wrong)."""
        if not any(ch.isalpha() for ch in text):
            return text
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        chunks = chunk_segment(text.strip(), self.backend.count_tokens, self.budget)
        return lead + " ".join(self._one(chunk, notes) for chunk in chunks) + trail

    def translate_many(
        self, texts: Sequence[str], done: Callable[[int, str], None] | None = None, notes: str = ""
    ) -> list[str]:
        """Many segments of one document, in order. Short one-line segments go several to a request as numbered
        lines (a reply whose numbering does not match falls back to one request per segment); requests go
        BATCH at a time through `chat_batch`. `done(i, translation)` is called as each segment is finished, so
        an interruption loses at most one batch. `notes` (a retry's instructions) sends each segment alone."""
        results: list[str | None] = [None] * len(texts)

        def finish(i: int, translation: str) -> None:
            results[i] = translation
            if done:
                done(i, translation)

        def single(i: int) -> Unit:
            chunks = chunk_segment(texts[i].strip(), self.backend.count_tokens, self.budget)
            requests = [r for chunk in chunks for r in self._requests(chunk, notes)]

            def complete(replies: list[str]) -> list[Unit]:
                n = self.candidates
                parts = [self._pick(chunk, replies[k * n : (k + 1) * n]) for k, chunk in enumerate(chunks)]
                finish(i, self._restore_space(texts[i], " ".join(parts)))
                return []

            return requests, complete

        def packed(group: list[int]) -> Unit:
            def complete(replies: list[str]) -> list[Unit]:
                lines = parse_numbered(replies[0], len(group))
                if lines is None:  # the model merged, split or renumbered lines: one request each
                    return [single(i) for i in group]
                again = []
                for i, line in zip(group, lines, strict=True):
                    if _echoed(texts[i], line):  # copied through untranslated: a request of its own does better
                        again.append(single(i))
                        continue
                    finish(i, self._restore_space(texts[i], clean_reply(line, texts[i]) if self.clean else line))
                return again

            return [self._list_request([texts[i] for i in group])], complete

        packable: list[int] = []
        units: list[tuple[int, Unit]] = []
        for i, text in enumerate(texts):
            if not any(ch.isalpha() for ch in text):
                finish(i, text)
            elif self.list_spec is not None and not notes and "\n" not in text.strip() and self._fits_list(text):
                packable.append(i)
            else:
                units.append((i, single(i)))
        lists = []
        for group in self._groups(texts, packable):
            (lists if len(group) > 1 else units).append(
                (group[0], packed(group) if len(group) > 1 else single(group[0]))
            )
        # numbered-lines requests first, then single ones: a batch of one prompt shares its whole
        # system-and-examples prefix, which the backend evaluates once for all its rows
        self._run(
            [unit for _, unit in sorted(lists, key=lambda u: u[0])]
            + [unit for _, unit in sorted(units, key=lambda u: u[0])]
        )
        return [r if r is not None else texts[i] for i, r in enumerate(results)]

    def _run(self, units: list[Unit]) -> None:
        """Requests of whole units, about BATCH a `chat_batch` call; a unit's follow-ups (a numbered reply that
        did not parse becomes one unit per segment) join the queue."""
        pending = deque(units)
        while pending:
            chosen: list[Unit] = []
            rows = 0
            while pending and (
                not chosen or (rows + len(pending[0][0]) <= BATCH and _system(pending[0]) == _system(chosen[0]))
            ):
                unit = pending.popleft()
                chosen.append(unit)
                rows += len(unit[0])
            replies = iter(self._generate([r for requests, _ in chosen for r in requests]))
            for requests, complete in chosen:
                pending.extend(complete([next(replies) for _ in requests]))

    @staticmethod
    def _restore_space(source: str, translation: str) -> str:
        lead = source[: len(source) - len(source.lstrip())]
        trail = source[len(source.rstrip()) :]
        return lead + translation.strip() + trail

    def _fits_list(self, text: str) -> bool:
        return self.backend.count_tokens(text) <= LIST_TOKENS // 2

    def _groups(self, texts: Sequence[str], indexes: list[int]) -> list[list[int]]:
        """Consecutive packable segments, up to LIST_SEGMENTS and LIST_TOKENS source tokens a request."""
        groups: list[list[int]] = []
        tokens = 0
        for i in indexes:
            size = self.backend.count_tokens(texts[i])
            if groups and len(groups[-1]) < LIST_SEGMENTS and tokens + size <= LIST_TOKENS:
                groups[-1].append(i)
                tokens += size
            else:
                groups.append([i])
                tokens = size
        return groups

    def _list_request(self, texts: list[str]) -> tuple[list[dict[str, str]], GenerationConfig]:
        assert self.list_spec is not None
        body = "\n".join(f"[{n}] {text.strip()}" for n, text in enumerate(texts, start=1))
        messages = build_messages(self.list_spec, body, self.source, self.target, self.glossary, notes=self.notes)
        # the user's settings (sampling, seed), with room for the replies to all the lines
        room = max(self.config.max_new_tokens, self.list_spec.config().max_new_tokens)
        return messages, self._limit(body, self.config.merged(max_new_tokens=room))

    def missing_terms(self, source_text: str, translation: str) -> list[GlossaryEntry]:
        return self.glossary.missing(source_text, translation) if self.glossary else []


def _echoed(source: str, line: str) -> bool:
    """A numbered line that is its source again, word for word (a few words: a name or a command is the same
    in every language)."""
    words = re.findall(r"[^\W\d_]+", PLACEHOLDER.sub(" ", source))
    return len(words) >= 3 and line.strip() == source.strip()


def _system(unit: Unit) -> str:
    messages = unit[0][0][0] if unit[0] else []
    return messages[0]["content"] if messages else ""


_NUMBERED = re.compile(r"^\s*\[(\d+)\]\s?(.*)$")


def parse_numbered(reply: str, count: int) -> list[str] | None:
    """The lines of a numbered-lines reply, or None unless it has exactly lines [1]..[count] in order, each
    with text (a model that merges two passages or drops one must not shift the rest)."""
    lines = [line for line in reply.strip().splitlines() if line.strip()]
    found = [_NUMBERED.match(line) for line in lines]
    if len(found) != count or any(m is None for m in found):
        return None
    numbers = [int(m.group(1)) for m in found if m]
    texts = [m.group(2).strip() for m in found if m]
    if numbers != list(range(1, count + 1)) or not all(texts):
        return None
    return texts


def translate_text(
    backend: Backend,
    text: str,
    target: str,
    source: str | None = None,
    glossary: Glossary | None = None,
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
    formality: str | None = "auto",
) -> Translation:
    """Translate plain text paragraph by paragraph (blank lines kept). `formality`: "formal", "informal", or
    "auto" (formal where the target language distinguishes them); None leaves it to the model."""
    from ganymede.apps.translate import formality as voice

    if not text.strip():
        raise GanymedeError("nothing to translate: the text is empty")
    target_lang = languages.resolve(target)
    source_lang, detection = resolve_source(source, text)
    form = voice.resolve(formality, target_lang.code) if formality else None
    translator = Translator(backend, source_lang, target_lang, glossary, config, candidates=candidates, formality=form)
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
