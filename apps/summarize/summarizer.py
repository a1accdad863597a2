"""Summarization: dialogues (meetings, support chats, transcripts) from files, one or thousands at a time.

preprocess (read the dialogue, pick few-shot examples, plan: one prompt or map-reduce over turn-aligned
chunks when the prompt would not fit) -> model call (chat, or chat_batch where the backend batches) ->
postprocess (strip labels and quotes, DialogSum's #PersonN# naming). Input formats: dialogue_io.py; output
files: outputs.py; ROUGE evaluation: evaluate.py; the commands: cli.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.summarize.dialogue_io import (
    Dialogue,
    Turn,
    expand_paths,
    parse_turn_lines,
    read_file,
    split_sentences,
)
from ganymede.apps.summarize.outputs import read_records, render_records
from ganymede.core.backends.prompt_cache import fixed_messages
from ganymede.core.calllog import call_context
from ganymede.core.errors import ContextWindowExceededError, GanymedeError, InputFileError
from ganymede.core.fileio import write_atomic

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.examples import ExampleSelector
    from ganymede.core.generation import GenerationConfig
    from ganymede.core.prompts import PromptSpec

PROMPT = "summarize"
REDUCE_PROMPT = "summarize_reduce"
STRATEGIES = ("auto", "stuff", "map-reduce")
DEFAULT_MAX_WORDS = 20
#: tokens kept free beside prompt and reply: chat-template overhead differs a little between backends.
MARGIN = 16
#: backends that really run a batch at once (llama.cpp decodes several sequences per step, the few-shot prefix
#: evaluated once for them all).
BATCHING_BACKENDS = {"transformers", "openai", "llamacpp"}


def group_size(backend: Backend, batch_size: int = 8) -> int:
    """Dialogues handed to `summarize_many` at once. llama.cpp refills a slot as soon as its row finishes, so it
    gets several slots' worth: a group that drains to its last long summary leaves the other slots idle."""
    if backend.name not in BATCHING_BACKENDS:
        return 1
    slots = getattr(backend, "batch_size", batch_size) if backend.name == "llamacpp" else 0
    return max(batch_size, 4 * slots)


# -- preprocess ---------------------------------------------------------------------------------------------
def load_examples(path: str | Path) -> list[dict[str, str]]:
    """A pool of worked examples: JSONL/JSON records with `dialogue` and `summary` (or `output`), e.g. DialogSum
    rows that are NOT evaluated. Returns prompt examples {dialogue, output}."""
    file = Path(path)
    dialogues = read_file(file)
    pool = []
    for dialogue in dialogues:
        if not dialogue.references:
            raise InputFileError(f"{file}: example {dialogue.source} has no summary", "give each example a summary")
        pool.append({"dialogue": dialogue.text, "output": dialogue.references[0]})
    if not pool:
        raise InputFileError(f"{file}: no examples found")
    return pool


def disjoint_pool(pool: list[dict[str, str]], rows: Sequence[Dialogue]) -> tuple[list[dict[str, str]], int]:
    """The pool without any example whose dialogue is one of `rows` (and how many were dropped): an evaluation
    must not show the model the very summaries it is scored against."""
    evaluated = {re.sub(r"\s+", " ", d.text).strip() for d in rows}
    kept = [e for e in pool if re.sub(r"\s+", " ", e["dialogue"]).strip() not in evaluated]
    return kept, len(pool) - len(kept)


def word_budget_tokens(max_words: int) -> int:
    """A reply budget for `max_words` words: English runs ~1.4 tokens a word with #Person1# tags, plus slack
    so a slightly long summary can still end its sentence (an unfinished last sentence is dropped)."""
    return max_words * 2 + 16


def system_prompt(spec: PromptSpec, max_words: int) -> str:
    return spec.system.replace("{max_words}", str(max_words))


@dataclass
class Plan:
    strategy: str  # "stuff" or "map-reduce"
    chunks: list[str]
    prompt_tokens: int
    messages: list[dict[str, str]] = field(default_factory=list)  # the one prompt, for "stuff"


# -- postprocess --------------------------------------------------------------------------------------------
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:here(?:'s| is) (?:a |the )?(?:short |brief )?summary[^:\n]*:|summary\s*:)(?:\*\*)?\s*",
    re.IGNORECASE,
)
_LAST_SENTENCE_END = re.compile(r"^(.*[.!?])\s+\S[^.!?]*$", re.DOTALL)
_PERSON = re.compile(r"#?\b[Pp]erson\s?(\d)\b#?")


def clean_summary(reply: str) -> str:
    """The summary alone, on one line: labels ("Summary:"), wrapping quotes and bullets removed, and the
    speakers written #Person1# as in DialogSum whatever spelling the model used."""
    text = _LABEL.sub("", reply.strip(), count=1).strip()
    lines = [line.strip().lstrip("-*• ").strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines)
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    text = _PERSON.sub(lambda m: f"#Person{m.group(1)}#", text)
    text = re.sub(r"\s+", " ", text).strip()
    # A reply cut by the token budget ends mid-sentence: keep the complete sentences when there are any.
    complete = _LAST_SENTENCE_END.match(text)
    if text and text[-1] not in ".!?\"')#" and complete:
        text = complete.group(1)
    return text


def with_speaker_names(summary: str, dialogue: Dialogue) -> str:
    """The summary with #PersonN# replaced by the speaker's name wherever the dialogue makes it plain who is who
    (apps/summarize/speakers.py): a reader wants "Miss Shen", and DialogSum's references use names too."""
    from ganymede.apps.summarize.speakers import name_speakers, speaker_names

    return name_speakers(summary, speaker_names([(t.speaker, t.text) for t in dialogue.turns]))


# -- model call ---------------------------------------------------------------------------------------------
@dataclass
class Summary:
    source: str
    summary: str
    strategy: str
    chunks: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    references: list[str] = field(default_factory=list)

    def to_record(self, model: str, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "source": self.source,
            "summary": self.summary,
            "model": model,
            "settings": {**settings, "strategy": self.strategy, "chunks": self.chunks},
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "seconds": round(self.seconds, 2),
        }


class Summarizer:
    """Summarizes dialogues with one backend, prompt, example source and settings.

    Examples: the prompt file's own (first `shots` of them), or with `selector` the `shots` most similar
    examples of a user's pool. `shots=None` means all the prompt file's examples (or 3 from a pool)."""

    def __init__(
        self,
        backend: Backend,
        config: GenerationConfig | None = None,
        shots: int | None = None,
        selector: ExampleSelector | None = None,
        strategy: str = "auto",
        max_words: int = DEFAULT_MAX_WORDS,
        prompt: str = PROMPT,
    ) -> None:
        from ganymede.core.prompts import load_prompt

        if strategy not in STRATEGIES:
            raise GanymedeError(f"unknown strategy {strategy!r}", f"use one of {', '.join(STRATEGIES)}")
        if max_words < 1:
            raise GanymedeError("max_words must be at least 1")
        if shots is not None and shots < 0:
            raise GanymedeError("shots must be 0 or more")
        self.backend = backend
        self.spec = load_prompt(prompt)
        self.reduce_spec = load_prompt(REDUCE_PROMPT)
        self.max_words = max_words
        base = config or self.spec.config()
        # The reply budget follows max_words unless the user set max_new_tokens lower.
        self.config = base.merged(max_new_tokens=min(base.max_new_tokens, word_budget_tokens(max_words)))
        self.selector = selector
        self.shots = (3 if selector else len(self.spec.examples)) if shots is None else shots
        self.strategy = strategy
        self.system = system_prompt(self.spec, max_words)

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "prompt": self.spec.name,
            "shots": self.shots,
            "examples": "similar from pool" if self.selector else "prompt file",
            "max_words": self.max_words,
            "generation": self.config.model_dump(),
        }

    # preprocess
    def examples_for(self, text: str) -> list[dict[str, str]]:
        if self.shots == 0:
            return []
        if self.selector is not None:
            return self.selector.select(text, self.shots)
        return self.spec.examples[: self.shots]

    def messages(self, text: str, examples: Sequence[dict[str, str]] | None = None) -> list[dict[str, str]]:
        chosen = self.examples_for(text) if examples is None else list(examples)
        return self.spec.render({"dialogue": text}, shots=len(chosen), examples=chosen, system=self.system)

    def plan(self, dialogue: Dialogue) -> Plan:
        """One prompt when prompt + examples + reply fit the window; otherwise (or when asked) map-reduce over
        chunks of whole turns, each small enough to be summarized zero-shot beside its reply."""
        window = self.backend.context_window
        reply = self.config.max_new_tokens
        text = dialogue.text
        messages = self.messages(text)
        stuffed = self.backend.count_tokens(messages)
        if self.strategy != "map-reduce" and stuffed + reply + MARGIN <= window:
            return Plan("stuff", [text], stuffed, messages)
        if self.strategy == "stuff":
            raise ContextWindowExceededError(
                f"{dialogue.source}: the prompt needs {stuffed + reply} tokens but the context window is {window}",
                "use strategy auto or map-reduce, or fewer shots",
            )
        return Plan("map-reduce", self.chunk(dialogue.turns), stuffed)

    def chunk(self, turns: Sequence[Turn]) -> list[str]:
        from ganymede.core.chunking import pack

        fixed = self.backend.count_tokens(self.messages("", examples=[]))
        budget = self.backend.context_window - fixed - self.config.max_new_tokens - MARGIN
        # Chunks are summarized zero-shot: examples would eat the room the dialogue needs.
        return pack([t.render() for t in turns], self.backend.count_tokens, budget, "\n", split_sentences)

    # model call
    def _chat(self, messages: list[dict[str, str]], template: str) -> tuple[str, int, int]:
        # Everything before the dialogue (instructions, few-shot examples) is the same in every call and every
        # run: the backend may keep its evaluated state on disk for the next process.
        with call_context(app="summarize", template=template), fixed_messages(len(messages) - 1):
            completion = self.backend.chat(messages, self.config)
        return completion.text, completion.usage.prompt_tokens or 0, completion.usage.completion_tokens or 0

    def _reduce(self, partials: list[str]) -> tuple[str, int, int]:
        """Combine the chunk summaries into one; when they do not fit one prompt, combine groups first."""
        from ganymede.core.chunking import pack

        fixed = self.backend.count_tokens(self.reduce_messages(""))
        budget = self.backend.context_window - fixed - self.config.max_new_tokens - MARGIN
        prompt_tokens = completion_tokens = 0
        while True:
            groups = pack(partials, self.backend.count_tokens, budget, "\n")
            replies = []
            for group in groups:
                text, p, c = self._chat(self.reduce_messages(group), self.reduce_spec.name)
                replies.append(clean_summary(text))
                prompt_tokens, completion_tokens = prompt_tokens + p, completion_tokens + c
            if len(replies) == 1:
                return replies[0], prompt_tokens, completion_tokens
            partials = replies

    def reduce_messages(self, partials_text: str) -> list[dict[str, str]]:
        numbered = "\n".join(f"Part {i}: {line}" for i, line in enumerate(partials_text.splitlines(), 1) if line)
        system = system_prompt(self.reduce_spec, self.max_words)
        return self.reduce_spec.render({"parts": numbered}, shots=0, system=system)

    def summarize(self, dialogue: Dialogue, plan: Plan | None = None) -> Summary:
        started = time.perf_counter()
        plan = plan or self.plan(dialogue)
        if plan.strategy == "stuff":
            text, p, c = self._chat(plan.messages, self.spec.name)
            return Summary(
                dialogue.source,
                with_speaker_names(clean_summary(text), dialogue),
                "stuff",
                1,
                p,
                c,
                time.perf_counter() - started,
                dialogue.references,
            )
        partials, prompt_tokens, completion_tokens = [], 0, 0
        for chunk in plan.chunks:
            text, p, c = self._chat(self.messages(chunk, examples=[]), self.spec.name)
            partials.append(clean_summary(text))
            prompt_tokens, completion_tokens = prompt_tokens + p, completion_tokens + c
        text, p, c = self._reduce(partials) if len(partials) > 1 else (partials[0], 0, 0)
        return Summary(
            dialogue.source,
            with_speaker_names(text, dialogue),
            "map-reduce",
            len(plan.chunks),
            prompt_tokens + p,
            completion_tokens + c,
            time.perf_counter() - started,
            dialogue.references,
        )

    def summarize_many(self, dialogues: Sequence[Dialogue]) -> list[Summary | Exception]:
        """Summaries in order; a dialogue that fails gives its exception in its place. Single-prompt dialogues
        go to the backend together when it batches (see BATCHING_BACKENDS)."""
        results: list[Summary | Exception | None] = [None] * len(dialogues)
        batchable: list[tuple[int, list[dict[str, str]]]] = []
        for i, dialogue in enumerate(dialogues):
            try:
                plan = self.plan(dialogue)
            except Exception as exc:  # planning embeds and counts tokens: any failure fails this item only
                results[i] = exc
                continue
            if plan.strategy == "stuff" and self.backend.name in BATCHING_BACKENDS and len(dialogues) > 1:
                batchable.append((i, plan.messages))
            else:
                results[i] = self._safe(dialogue, plan)
        if batchable:
            started = time.perf_counter()
            try:
                with call_context(app="summarize", template=self.spec.name):
                    completions = self.backend.chat_batch([m for _, m in batchable], self.config)
            except Exception:  # a failed batch falls back to one request each, so one bad item fails alone
                for i, _ in batchable:
                    results[i] = self._safe(dialogues[i])
            else:
                seconds = (time.perf_counter() - started) / len(batchable)
                for (i, _), completion in zip(batchable, completions, strict=True):
                    usage = completion.usage
                    results[i] = Summary(
                        dialogues[i].source,
                        with_speaker_names(clean_summary(completion.text), dialogues[i]),
                        "stuff",
                        1,
                        usage.prompt_tokens or 0,
                        usage.completion_tokens or 0,
                        seconds,
                        dialogues[i].references,
                    )
        return [r if r is not None else GanymedeError("not summarized") for r in results]

    def _safe(self, dialogue: Dialogue, plan: Plan | None = None) -> Summary | Exception:
        try:
            return self.summarize(dialogue, plan)
        except Exception as exc:  # batch jobs report the item and keep going
            return exc


# -- a Summarizer from settings (the commands, the UI tab, summarize_text) --------------------------------
def build_summarizer(
    backend: Backend,
    *,
    config: GenerationConfig | None = None,
    shots: int | None = None,
    examples_path: str | Path | None = None,
    examples_pool: Sequence[dict[str, str]] | None = None,
    exclude: Sequence[Dialogue] = (),
    strategy: str = "auto",
    max_words: int = DEFAULT_MAX_WORDS,
    adapter: str | Path | None = None,
) -> tuple[Summarizer, int]:
    """A Summarizer, and how many pool examples were left out because their dialogue is in `exclude`.

    Examples: with a pool (the file `examples_path`, see load_examples, or its records `examples_pool`) the
    `shots` most similar to each input, never one whose dialogue is in `exclude` (the dialogues being
    evaluated); without one, the prompt file's. `adapter` is the LoRA adapter `backend` runs: unless `shots`
    is given it gets the prompt it was trained on (`ganymede tune` trains zero-shot)."""
    if examples_path is not None and examples_pool is not None:
        raise GanymedeError("both examples_path and examples_pool given", "give the pool one way")
    selector, dropped = None, 0
    if examples_path or examples_pool:
        from ganymede.core.examples import ExampleSelector

        pool = load_examples(examples_path) if examples_path else list(examples_pool or ())
        pool, dropped = disjoint_pool(pool, exclude)
        selector = ExampleSelector(pool, "dialogue")
    if shots is None and selector is None and adapter:
        from ganymede.core.lora import read_adapter

        shots = read_adapter(adapter).prompt.get("shots")
    return Summarizer(backend, config, shots, selector, strategy, max_words), dropped


def summarize_text(
    backend: Backend,
    text: str,
    shots: int | None = None,
    examples_pool: Sequence[dict[str, str]] | None = None,
    config: GenerationConfig | None = None,
    strategy: str = "auto",
    max_words: int = DEFAULT_MAX_WORDS,
) -> Summary:
    """Summarize pasted dialogue text (for the UI and library use)."""
    if not text.strip():
        raise GanymedeError("nothing to summarize: the text is empty")
    summarizer, _ = build_summarizer(
        backend, config=config, shots=shots, examples_pool=examples_pool, strategy=strategy, max_words=max_words
    )
    return summarizer.summarize(Dialogue("text", parse_turn_lines(text)))


# -- batch: many dialogues, resumable ---------------------------------------------------------------------
@dataclass
class BatchReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the output (resume)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    records: list[dict[str, Any]] = field(default_factory=list)


def collect(paths: Iterable[str | Path], fmt: str | None = None) -> tuple[list[Dialogue], list[tuple[str, str]]]:
    """Dialogues from files and folders, and (source, reason) for each file that could not be read."""
    dialogues: list[Dialogue] = []
    problems: list[tuple[str, str]] = []
    for path in expand_paths(paths):
        if not path.exists():
            problems.append((str(path), "no such file or folder"))
            continue
        try:
            dialogues.extend(read_file(path, fmt))
        except GanymedeError as exc:
            problems.append((str(path), str(exc)))
    return dialogues, problems


def run_batch(
    summarizer: Summarizer,
    dialogues: Sequence[Dialogue],
    output: str | None = None,
    fmt: str = "jsonl",
    resume: bool = True,
    advance: Callable[[int], None] | None = None,
    batch_size: int = 8,
) -> BatchReport:
    """Summarize each dialogue not yet in `output`, rewriting `output` atomically after every group so an
    interrupted run resumes where it stopped. A failing dialogue is recorded with its reason; the rest go on."""
    report = BatchReport()
    existing = read_records(output, fmt) if output and resume else []
    report.records = list(existing)
    seen = {r["source"] for r in existing}
    todo = []
    for dialogue in dialogues:
        if dialogue.source in seen:
            report.skipped.append(dialogue.source)
            if advance:
                advance(1)
        else:
            todo.append(dialogue)
            seen.add(dialogue.source)  # a source listed twice is summarized once
    model = summarizer.backend.ref.raw
    step = group_size(summarizer.backend, batch_size)
    for start in range(0, len(todo), step):
        group = todo[start : start + step]
        for dialogue, result in zip(group, summarizer.summarize_many(group), strict=True):
            if isinstance(result, Summary):
                report.records.append(result.to_record(model, summarizer.settings))
                report.done.append(dialogue.source)
            else:
                report.failed.append((dialogue.source, str(result) or type(result).__name__))
        if output:
            write_atomic(output, render_records(report.records, fmt))
        if advance:
            advance(len(group))
    return report
