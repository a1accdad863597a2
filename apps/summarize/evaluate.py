"""ROUGE of the summarize app on labelled dialogues (DialogSum-style JSONL): the benchmark behind
`ganymede eval summarize`, and one dialogue zero-shot against few-shot for the UI's compare view."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.summarize.dialogue_io import Dialogue, read_file
from ganymede.apps.summarize.summarizer import (
    DEFAULT_MAX_WORDS,
    Summarizer,
    Summary,
    group_size,
    summarize_text,
)
from ganymede.core.errors import InputFileError

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.generation import GenerationConfig


def read_eval_rows(path: str | Path, limit: int | None = None) -> list[Dialogue]:
    """Labelled dialogues (DialogSum JSONL: dialogue + summary, or summary1..summary3), the first `limit`."""
    file = Path(path)
    if not file.is_file():
        raise InputFileError(f"evaluation data not found: {file}", "e.g. ../shared/data/dialogsum/dev.jsonl")
    rows = read_file(file, "jsonl")
    unlabelled = [d.source for d in rows if not d.references]
    if unlabelled:
        raise InputFileError(f"{unlabelled[0]}: no reference summary", "evaluation needs summary or summary1..3")
    return rows[:limit] if limit else rows


def evaluate(
    summarizer: Summarizer, rows: Sequence[Dialogue], advance: Callable[[int], None] | None = None
) -> tuple[dict[str, Any], list[Summary | Exception]]:
    """ROUGE of the summaries against the references (failed items score 0 and are counted)."""
    from ganymede.apps.evaluation.rouge import corpus_rouge

    results: list[Summary | Exception] = []
    step = group_size(summarizer.backend)
    for start in range(0, len(rows), step):
        group = list(rows[start : start + step])
        results.extend(summarizer.summarize_many(group))
        if advance:
            advance(len(group))
    hypotheses = [r.summary if isinstance(r, Summary) else "" for r in results]
    scores = corpus_rouge(hypotheses, [d.references for d in rows])
    scores["failed"] = sum(1 for r in results if not isinstance(r, Summary))
    words = [len(h.split()) for h in hypotheses if h]
    scores["mean_words"] = round(sum(words) / max(len(words), 1), 1)
    return scores, results


def eval_records(rows: Sequence[Dialogue], results: Sequence[Summary | Exception]) -> list[dict[str, Any]]:
    """Each evaluated dialogue's summary beside its references, with the error where it failed."""
    return [
        {
            "source": d.source,
            "summary": r.summary if isinstance(r, Summary) else "",
            "references": d.references,
            "error": None if isinstance(r, Summary) else str(r),
        }
        for d, r in zip(rows, results, strict=True)
    ]


def compare_shots(
    backend: Backend,
    text: str,
    shots: int,
    examples_pool: Sequence[dict[str, str]] | None = None,
    config: GenerationConfig | None = None,
    max_words: int = DEFAULT_MAX_WORDS,
    reference: str = "",
) -> dict[str, dict[str, Any]]:
    """Zero-shot and `shots`-shot summaries of one dialogue side by side, each with ROUGE when a reference
    summary is given (for the UI's compare view)."""
    from ganymede.apps.evaluation.rouge import score_one

    results: dict[str, dict[str, Any]] = {}
    for label, k in (("zero-shot", 0), (f"{shots}-shot", shots)):
        summary = summarize_text(backend, text, k, examples_pool, config, "auto", max_words)
        entry: dict[str, Any] = {"summary": summary.summary, "strategy": summary.strategy}
        if reference.strip():
            entry["rouge"] = score_one(summary.summary, reference)
        results[label] = entry
    return results
