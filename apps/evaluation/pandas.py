"""PandasEval and DABench metrics: pure functions (no model, no sandbox) so each step is testable alone.

PandasEval (microsoft/PyCodeGPT): `prompt, canonical_solution, test, entry_point`; a problem passes when
the model's code, followed by the problem's `test` and a call of `check`, runs without error.
DABench (InfiAgent): closed-form answers `@name[value]`; a question is correct when every labelled
(name, value) pair matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records

PASS_MARK = "pandaseval-passed"


# -- loading -------------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file; a bad line is an error naming the file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [row for _, row in jsonl_records(lines, path)]


def detect_format(row: dict[str, Any]) -> str:
    if {"prompt", "test", "entry_point"} <= row.keys():
        return "pandaseval"
    if {"question", "file_name"} <= row.keys():
        return "dabench"
    raise InputFileError(
        f"unknown benchmark row with keys {sorted(row)}",
        "expected PandasEval (prompt, canonical_solution, test, entry_point) or DABench (question, file_name, ...)",
    )


# -- PandasEval ----------------------------------------------------------------------------------------
def canonical_completions(problem: dict[str, Any]) -> list[str]:
    solution = problem.get("canonical_solution", "")
    return [solution] if isinstance(solution, str) else [str(s) for s in solution]


def is_function_problem(problem: dict[str, Any]) -> bool:
    entry = str(problem.get("entry_point", "none"))
    return entry != "none" and f"def {entry}" in problem["prompt"]


def _strip_partial_last_line(prompt: str) -> str:
    """The prompt without its unfinished last line (`new_df =`, `    return `)."""
    lines = prompt.rstrip("\n").split("\n")
    last = lines[-1].strip()
    if last and (last.endswith("=") or last in {"return", "return "}):
        lines = lines[:-1]
    return "\n".join(lines) + "\n"


def merge_completion(problem: dict[str, Any], code: str) -> str:
    """The program the model's code stands for: the problem's own setup plus the model's new lines.

    Models answer with the complete code. For a function problem the model's `def` replaces the prompt's;
    for a script problem, lines the prompt already has are dropped so that setup statements which mutate
    the data (`df.index = df.index + 1`) do not run twice."""
    prompt = problem["prompt"]
    entry = str(problem.get("entry_point", "none"))
    if is_function_problem(problem):
        if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
            preamble = prompt[: prompt.index(f"def {entry}")]
            return preamble + "\n" + code.strip("\n") + "\n"
        # a bare body: continue the prompt
        body = code if code.startswith((" ", "\t")) else "\n".join("    " + ln for ln in code.split("\n"))
        return prompt.rstrip() + "\n" + body + "\n" if prompt.rstrip().endswith(":") else prompt + code + "\n"
    base = _strip_partial_last_line(prompt)
    known = {ln.strip() for ln in base.split("\n") if ln.strip()}
    new_lines = [ln for ln in code.split("\n") if ln.strip() not in known]
    return base + "\n".join(new_lines).strip("\n") + "\n"


def reference_program(problem: dict[str, Any], solution: str) -> str:
    return problem["prompt"] + solution + "\n"


def test_harness(problem: dict[str, Any]) -> str:
    """The problem's test, a call of `check` (with the function when it takes one), and the pass mark."""
    entry = str(problem.get("entry_point", "none"))
    candidate = entry if is_function_problem(problem) else "None"
    return (
        "\n" + problem["test"] + "\n"
        f"check(*([{candidate}] if check.__code__.co_argcount else []))\n"
        f"result = {PASS_MARK!r}\n"
    )


def passed(result_value: Any, ok: bool) -> bool:
    return ok and result_value == PASS_MARK


@dataclass
class ProblemOutcome:
    task_id: str
    valid: bool
    passed: bool = False
    passed_first_try: bool = False
    attempts: int = 0
    error: str | None = None


def pass_at_1(outcomes: Sequence[ProblemOutcome], first_try: bool = False) -> dict[str, Any]:
    """pass@1 over valid problems (greedy decoding: one sample each); invalid ones are counted apart."""
    valid = [o for o in outcomes if o.valid]
    hits = sum(o.passed_first_try if first_try else o.passed for o in valid)
    return {
        "pass_at_1": round(hits / len(valid), 4) if valid else 0.0,
        "passed": hits,
        "n": len(valid),
        "invalid": len(outcomes) - len(valid),
    }


# -- DABench -------------------------------------------------------------------------------------------
ANSWER_PATTERN = re.compile(r"@(\w+)\[(.*?)\]", re.DOTALL)


def parse_answers(text: str) -> dict[str, str]:
    """`@name[value]` pairs in a text (the closed form DABench labels and answers use)."""
    return {name: value.strip() for name, value in ANSWER_PATTERN.findall(text or "")}


def answer_names(format_text: str) -> list[str]:
    return list(dict.fromkeys(name for name, _ in ANSWER_PATTERN.findall(format_text or "")))


def format_answers(values: dict[str, Any]) -> str:
    return " ".join(f"@{name}[{_plain(value)}]" for name, value in values.items())


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _number(text: str) -> float | None:
    cleaned = text.strip().rstrip("%").replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _decimals(text: str) -> int:
    cleaned = text.strip().rstrip("%")
    return len(cleaned.split(".", 1)[1]) if "." in cleaned else 0


def values_match(predicted: Any, expected: str) -> bool:
    """Numbers match at the label's precision (the label was rounded); text matches case-insensitively;
    lists match item by item."""
    predicted_text = _plain(predicted).strip()
    expected = expected.strip()
    want, got = _number(expected), _number(predicted_text)
    if want is not None and got is not None:
        places = _decimals(expected)
        tolerance = 0.5 * 10 ** (-places) + 1e-9
        return abs(round(got, places) - want) <= 1e-9 or abs(got - want) <= tolerance
    if "," in expected:
        parts_want = [p.strip().strip("'\"") for p in expected.strip("[]()").split(",")]
        parts_got = [p.strip().strip("'\"") for p in predicted_text.strip("[]()").split(",")]
        return len(parts_want) == len(parts_got) and all(
            values_match(g, w) for g, w in zip(parts_got, parts_want, strict=True)
        )
    return predicted_text.strip("'\"").lower() == expected.strip("'\"").lower()


def question_correct(predicted: dict[str, Any], expected: Iterable[Sequence[str]]) -> tuple[bool, int, int]:
    """(all sub-answers right, sub-answers right, sub-answers) for one DABench question."""
    pairs = [(str(name), str(value)) for name, value in expected]
    lowered = {str(k).lower(): v for k, v in predicted.items()}
    right = sum(1 for name, value in pairs if name.lower() in lowered and values_match(lowered[name.lower()], value))
    return right == len(pairs) and bool(pairs), right, len(pairs)


def accuracy(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0
