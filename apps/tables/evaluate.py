"""`ganymede eval tables`: pass@1 on PandasEval and accuracy on DABench, through the app's own pipeline
(prompt -> model -> static check -> sandbox -> self-repair). What counts as correct lives in
apps/evaluation/pandas.py; this module runs the problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.evaluation import pandas as pe
from ganymede.apps.tables import sandbox
from ganymede.apps.tables.io import load_table
from ganymede.apps.tables.pandas_code import PROMPT, Attempt, ask, check_pandas_code, solve
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.fileio import write_atomic
from ganymede.core.progress import progress_bar

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.generation import GenerationConfig

#: PandasEval asks for a completion of the problem's code, not an answer to a question about a table.
COMPLETE_PROMPT = "tables_complete"
#: benchmark -> the prompt file its problems are rendered with (and whose generation settings it uses).
BENCHMARK_PROMPTS = {"pandaseval": COMPLETE_PROMPT, "dabench": PROMPT}

Details = list[dict[str, Any]]


def load_problems(data: Path, limit: int | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(benchmark, its first `limit` problems) from a PandasEval or DABench questions file."""
    rows = pe.read_jsonl(data)
    if not rows:
        raise InputFileError(f"{data}: no problems")
    rows = rows[:limit] if limit else rows
    return pe.detect_format(rows[0]), rows


def benchmark_config(benchmark: str) -> GenerationConfig:
    """The generation settings of the prompt file `benchmark` is run with (callers merge overrides in)."""
    from ganymede.core.prompts import load_prompt

    return load_prompt(BENCHMARK_PROMPTS[benchmark]).config()


def details_writer(path: Path | None) -> Callable[[Details], None]:
    """Rewrites the per-problem outcomes as JSONL after every problem, so a long run that is stopped still
    leaves its outcomes; a no-op without a path."""

    def save(details: Details) -> None:
        if path is not None:
            write_atomic(path, "".join(json.dumps(d, default=str) + "\n" for d in details))

    return save


def run_benchmark(
    backend: Backend,
    benchmark: str,
    rows: list[dict[str, Any]],
    config: GenerationConfig | None = None,
    retries: int = 2,
    labels: Path | None = None,
    tables_dir: Path | None = None,
    details_path: Path | None = None,
) -> dict[str, Any]:
    """The metrics of one benchmark run (`benchmark` as `load_problems` names it); DABench needs `labels`
    (its labels .jsonl) and `tables_dir` (the folder of its tables)."""
    save = details_writer(details_path)
    if benchmark == "pandaseval":
        metrics, details = evaluate_pandaseval(backend, rows, config, retries=retries, save=save)
    else:
        if labels is None or tables_dir is None:
            raise GanymedeError("DABench needs labels (a .jsonl file) and tables_dir (the folder of its tables)")
        label_rows = pe.read_jsonl(labels)
        metrics, details = evaluate_dabench(backend, rows, label_rows, tables_dir, config, retries=retries, save=save)
    metrics.update({"benchmark": benchmark, "model": backend.ref.raw, "retries": retries})
    save(details)
    return metrics


def wrong_answer(attempt: Attempt) -> bool:
    """A failed assertion means the code ran and the answer was wrong: the test's verdict is never fed back."""
    return attempt.result is not None and attempt.result.error_type == "AssertionError"


def evaluate_pandaseval(
    backend: Backend,
    rows: list[dict[str, Any]],
    config: GenerationConfig | None = None,
    retries: int = 2,
    save: Callable[[Details], None] | None = None,
) -> tuple[dict[str, Any], Details]:
    """pass@1 with greedy decoding; also the figure without self-repair (the first attempt alone).

    Self-repair sees only an exception the code raised (its type and message, as a user would), never the
    test's code or verdict: a failed assertion ends the problem with no retry."""
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(COMPLETE_PROMPT)
    config = config or spec.config()
    limits = sandbox.Limits(cpu_seconds=20, wall_seconds=40)
    outcomes: list[pe.ProblemOutcome] = []
    details: Details = []

    def run_program(program: str) -> sandbox.SandboxResult:
        return sandbox.run_code(program, limits=limits, check=False)

    with progress_bar("PandasEval", total=len(rows)) as bar:
        for row in rows:
            outcome = pe.ProblemOutcome(task_id=str(row.get("task_id")), valid=False)
            references = [
                run_program(pe.reference_program(row, s) + pe.test_harness(row))
                for s in pe.canonical_completions(row)[:1]
            ]
            outcome.valid = pe.passed(references[0].value, references[0].ok)
            if outcome.valid:
                harness = pe.test_harness(row)

                def runner(code: str, row: dict[str, Any] = row, harness: str = harness) -> sandbox.SandboxResult:
                    program = pe.merge_completion(row, code)
                    problems = check_pandas_code(program)
                    if problems:
                        raise sandbox.UnsafeCodeError("the code was refused before running: " + "; ".join(problems))
                    return run_program(program + harness)

                messages = spec.render({"code": row["prompt"].rstrip()})
                attempts = solve(
                    backend, messages, config, runner, retries, template=COMPLETE_PROMPT, stop=wrong_answer
                )
                outcome.attempts = len(attempts)
                outcome.passed = any(a.result is not None and pe.passed(a.result.value, a.result.ok) for a in attempts)
                first = attempts[0]
                outcome.passed_first_try = first.result is not None and pe.passed(first.result.value, first.result.ok)
                outcome.error = None if outcome.passed else attempts[-1].error
                details.append(
                    {
                        "task_id": outcome.task_id,
                        "passed": outcome.passed,
                        "passed_first_try": outcome.passed_first_try,
                        "attempts": outcome.attempts,
                        "code": attempts[-1].code,
                        "error": outcome.error,
                    }
                )
            else:
                details.append({"task_id": outcome.task_id, "invalid": True, "reference_error": references[0].error})
            outcomes.append(outcome)
            if save:
                save(details)
            bar.advance()
    metrics = pe.pass_at_1(outcomes)
    metrics["pass_at_1_without_repair"] = pe.pass_at_1(outcomes, first_try=True)["pass_at_1"]
    return metrics, details


def dabench_question(row: dict[str, Any]) -> str:
    """A DABench question as the app's prompt takes it, asking for `result` as a dict of the labelled names."""
    names = pe.answer_names(row.get("format", ""))
    wanted = ", ".join(repr(n) for n in names) or "'answer'"
    return (
        f"{row['question']}\nConstraints: {row.get('constraints', '').strip()}\n"
        f"Answer format: {row.get('format', '').strip()}\n"
        f"Set `result` to a dict with the keys {wanted}, each mapped to its value rounded as the format says."
    )


def evaluate_dabench(
    backend: Backend,
    rows: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    tables_dir: Path,
    config: GenerationConfig | None = None,
    retries: int = 2,
    save: Callable[[Details], None] | None = None,
) -> tuple[dict[str, Any], Details]:
    """Accuracy by question (every sub-answer right) and by sub-answer, on DABench's closed-form labels."""
    from ganymede.core.prompts import load_prompt

    config = config or load_prompt(PROMPT).config()
    by_id = {row["id"]: row.get("common_answers", []) for row in labels}
    flags: list[bool] = []
    sub_right = sub_total = 0
    details: Details = []
    cache: dict[str, Any] = {}
    with progress_bar("DABench", total=len(rows)) as bar:
        for row in rows:
            expected = by_id.get(row["id"])
            if expected is None:
                details.append({"id": row["id"], "skipped": "no label"})
                bar.advance()
                continue
            try:
                if row["file_name"] not in cache:
                    cache[row["file_name"]] = load_table(tables_dir / row["file_name"])
                tables = {"df": cache[row["file_name"]]}
                answer = ask(backend, dabench_question(row), tables, config, retries=retries)
                predicted = answer.result.value if answer.ok and isinstance(answer.result.value, dict) else {}
                error = answer.error
            except GanymedeError as exc:
                predicted, error, answer = {}, str(exc), None
            correct, right, total = pe.question_correct(predicted, expected)
            flags.append(correct)
            sub_right, sub_total = sub_right + right, sub_total + total
            details.append(
                {
                    "id": row["id"],
                    "correct": correct,
                    "predicted": predicted,
                    "expected": expected,
                    "error": error,
                    "code": answer.code if answer else None,
                }
            )
            if save:
                save(details)
            bar.advance()
    metrics = {
        "accuracy": pe.accuracy(flags),
        "n": len(flags),
        "invalid": len(rows) - len(flags),
        "sub_answer_accuracy": round(sub_right / sub_total, 4) if sub_total else 0.0,
    }
    return metrics, details
