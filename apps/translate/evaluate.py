"""The translation benchmark (NTREX-128 style JSONL: source, reference, source_lang, target_lang): corpus BLEU and
chrF of a prompt's translations, optionally beside the plain one-line prompt on the same model in the same run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.translate import languages
from ganymede.apps.translate.translator import BASELINE_PROMPT, PROMPT, Translator
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.fileio import jsonl_records, write_atomic
from ganymede.core.generation import GenerationConfig

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend

#: the keys every evaluation row needs.
ROW_KEYS = {"source", "reference", "source_lang", "target_lang"}


def read_eval_rows(path: str | Path, limit: int | None = None) -> list[dict[str, str]]:
    """Rows with source, reference, source_lang, target_lang; a bad line is an error naming the line."""
    file = Path(path)
    if not file.is_file():
        raise InputFileError(
            f"evaluation data not found: {file}", "give a JSONL file (e.g. ../shared/data/ntrex128/eng-deu.dev.jsonl)"
        )
    rows: list[dict[str, str]] = []
    with file.open(encoding="utf-8") as handle:
        for number, row in jsonl_records(handle, file):
            missing = ROW_KEYS - set(row)
            if missing:
                raise InputFileError(f"{file} line {number}: missing {', '.join(sorted(missing))}")
            rows.append(row)
            if limit and len(rows) >= limit:
                break
    return rows


def evaluate(
    backend: Backend,
    rows: Sequence[dict[str, str]],
    prompt: str = PROMPT,
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
) -> tuple[dict[str, Any], list[str]]:
    """Corpus BLEU/chrF of the translations of `rows` (one language pair), and the translations."""
    from ganymede.apps.evaluation.mt import corpus_scores

    if not rows:
        raise GanymedeError("no evaluation rows to score")
    source = languages.resolve(rows[0]["source_lang"])
    target = languages.resolve(rows[0]["target_lang"])
    if any(
        languages.resolve(r["target_lang"]) != target or languages.resolve(r["source_lang"]) != source for r in rows
    ):
        raise GanymedeError("evaluation rows mix language pairs", "evaluate one pair per file")
    translator = Translator(backend, source, target, config=config, prompt=prompt, candidates=candidates)
    hypotheses = []
    for i, row in enumerate(rows, start=1):
        hypotheses.append(translator.translate(row["source"]))
        if progress:
            progress(i, len(rows))
    scores = corpus_scores(hypotheses, [r["reference"] for r in rows], target.code)
    info = {
        "pair": f"{source.code}-{target.code}",
        "prompt": prompt,
        "model": backend.ref.raw,
        "candidates": candidates,
    }
    return {**scores, **info}, hypotheses


@dataclass
class BenchmarkResult:
    """`scores` of the prompt (with "seconds", and "baseline" and "chrf_vs_baseline" when the plain prompt ran
    beside it), its translations, and the plain prompt's translations (None when it did not run)."""

    scores: dict[str, Any]
    hypotheses: list[str]
    baseline_hypotheses: list[str] | None = None


def run_benchmark(
    backend: Backend,
    rows: Sequence[dict[str, str]],
    prompt: str = PROMPT,
    baseline: bool = False,
    overrides: Mapping[str, Any] | None = None,
    candidates: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> BenchmarkResult:
    """Score `prompt` on `rows`; with `baseline`, score the plain one-line prompt too, on the same model, so the
    gain of the app's prompt is measured, not assumed. Each prompt decodes with its own file's settings plus
    `overrides` (GenerationConfig fields); only `prompt` gets `candidates`. `progress(done, total)` counts the
    translations of all prompts together."""
    from ganymede.core.prompts import load_prompt

    prompts = [prompt] + ([BASELINE_PROMPT] if baseline and prompt != BASELINE_PROMPT else [])
    total = len(rows) * len(prompts)
    results: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for position, name in enumerate(prompts):
        config = load_prompt(name).config().merged(**(overrides or {}))
        start = time.perf_counter()
        scores, hypotheses = evaluate(
            backend,
            rows,
            name,
            config,
            progress=_counting_on(progress, position * len(rows), total),
            candidates=candidates if name == prompt else 1,
        )
        scores["seconds"] = round(time.perf_counter() - start, 1)
        results[name] = scores, hypotheses
    scores, hypotheses = results[prompt]
    if BASELINE_PROMPT not in results or prompt == BASELINE_PROMPT:
        return BenchmarkResult(scores, hypotheses)
    base_scores, base_hypotheses = results[BASELINE_PROMPT]
    scores["baseline"] = {key: base_scores[key] for key in ("prompt", "bleu", "chrf", "seconds")}
    scores["chrf_vs_baseline"] = round(scores["chrf"] - base_scores["chrf"], 2)
    return BenchmarkResult(scores, hypotheses, base_hypotheses)


def _counting_on(
    progress: Callable[[int, int], None] | None, already: int, total: int
) -> Callable[[int, int], None] | None:
    """One prompt's progress as a part of the whole run's: `already` translations were done before it."""
    if progress is None:
        return None
    return lambda done, _prompt_total: progress(already + done, total)


def save_translations(path: str | Path, rows: Sequence[dict[str, str]], result: BenchmarkResult) -> Path:
    """JSONL, one line a row: id, source, reference, hypothesis, and baseline when the plain prompt ran."""
    baselines = result.baseline_hypotheses or [None] * len(rows)
    lines = [
        json.dumps(
            {"id": r.get("id"), "source": r["source"], "reference": r["reference"], "hypothesis": h}
            | ({"baseline": b} if b is not None else {}),
            ensure_ascii=False,
        )
        for r, h, b in zip(rows, result.hypotheses, baselines, strict=True)
    ]
    return write_atomic(Path(path), "\n".join(lines) + "\n")
