"""NL-to-pandas: a question about a table -> pandas code from the model -> static check -> sandboxed run
-> a value, a table or a chart. On an error the error text goes back to the model (self-repair).

Shape: `load_tables` / `describe_tables` (preprocess) -> `generate_code` (model) -> `extract_code`,
`check_pandas_code` and `run_pandas_code` (postprocess: the sandbox in apps/sandbox.py is the boundary).
Also `ganymede eval pandas` on PandasEval and DABench.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.tables import sandbox
from ganymede.core.calllog import call_context
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.fileio import write_atomic

if TYPE_CHECKING:
    import pandas as pd
    from ganymede.core.backends.base import Backend
    from ganymede.core.generation import GenerationConfig
    from ganymede.core.messages import Message

PROMPT = "tables"
COMPLETE_PROMPT = "tables_complete"
READERS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".tab": "TSV",
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".xls": "Excel",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    ".json": "JSON",
    ".jsonl": "JSON lines",
}

#: pandas/numpy I/O the generated code may not call: the data is already loaded, nothing else is reachable.
PANDAS_BANNED_CALLS: frozenset[str] = frozenset(
    {
        "read_csv",
        "read_table",
        "read_fwf",
        "read_excel",
        "read_json",
        "read_html",
        "read_xml",
        "read_parquet",
        "read_feather",
        "read_orc",
        "read_pickle",
        "read_hdf",
        "read_sql",
        "read_sql_query",
        "read_sql_table",
        "read_stata",
        "read_sas",
        "read_spss",
        "read_clipboard",
        "read_gbq",
        "to_pickle",
        "to_csv",
        "to_excel",
        "to_parquet",
        "to_feather",
        "to_orc",
        "to_hdf",
        "to_sql",
        "to_stata",
        "to_clipboard",
        "to_gbq",
        "savefig",
        "io",
        "ExcelWriter",
        "HDFStore",
    }
)


# -- preprocess: tables and the prompt ------------------------------------------------------------------
def load_table(path: str | Path) -> pd.DataFrame:
    """One table from CSV, TSV, Excel, Parquet or JSON; unreadable files name the file and the reason."""
    import pandas as pd

    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(
            f"{path}: unsupported table format {path.suffix or '(no extension)'!r}",
            f"use one of {', '.join(sorted(READERS))}",
        )
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        if kind == "CSV":
            frame = pd.read_csv(path)
        elif kind == "TSV":
            frame = pd.read_csv(path, sep="\t")
        elif kind == "Excel":
            frame = pd.read_excel(path)
        elif kind == "Parquet":
            frame = pd.read_parquet(path)
        elif kind == "JSON lines":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_json(path)
    except ImportError as exc:
        raise InputFileError(f"{path}: reading {kind} needs a package that is missing ({exc.name})") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = f" near line {where.group(1)}" if where else ""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot read as {kind}{line}: {reason}") from None
    except Exception as exc:  # parsers raise many types (zipfile.BadZipFile for a broken .xlsx, ...)
        raise InputFileError(f"{path}: cannot read as {kind}: {type(exc).__name__}: {exc}") from None
    if frame.columns.size == 0:
        raise InputFileError(f"{path}: the {kind} file has no columns")
    return frame


def table_name(path: str | Path, taken: set[str]) -> str:
    base = re.sub(r"\W+", "_", Path(path).stem).strip("_").lower() or "table"
    base = base if base[0].isalpha() else f"t_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def load_tables(paths: list[str | Path]) -> dict[str, pd.DataFrame]:
    """Tables by name (the file's stem), in the order given."""
    tables: dict[str, Any] = {}
    for path in paths:
        tables[table_name(path, set(tables))] = load_table(path)
    return tables


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_table(variable: str, frame: pd.DataFrame, sample_rows: int = 3, cell_chars: int = 40) -> str:
    """Shape, columns with dtypes and the first `sample_rows` rows (0 for private data), clipped so a
    hostile cell or column name cannot flood the prompt."""
    lines = [f"{variable}: {len(frame)} rows x {frame.shape[1]} columns", "columns (name: dtype):"]
    columns = list(frame.columns)
    for column in columns[:60]:
        lines.append(f"  {_clip(repr(column), 80)}: {frame[column].dtype}")
    if len(columns) > 60:
        lines.append(f"  ... and {len(columns) - 60} more columns")
    if sample_rows > 0 and len(frame):
        sample = frame.head(sample_rows).iloc[:, :20].copy()
        sample.columns = [_clip(str(c), 30) for c in sample.columns]
        sample = sample.map(lambda v: _clip(v, cell_chars) if isinstance(v, str) else v)
        lines.append("first rows:")
        lines += ["  " + row for row in sample.to_string(index=False).split("\n")]
    return "\n".join(lines)


def describe_tables(tables: dict[str, pd.DataFrame], sample_rows: int = 3) -> str:
    if len(tables) == 1:
        return describe_table("df", next(iter(tables.values())), sample_rows)
    parts = ["The tables are in the dict `dfs`:"]
    parts += [describe_table(f"dfs[{name!r}]", frame, sample_rows) for name, frame in tables.items()]
    return "\n\n".join(parts)


def build_messages(question: str, tables: dict[str, pd.DataFrame], sample_rows: int = 3) -> list[Message]:
    from ganymede.core.prompts import load_prompt

    if not question.strip():
        raise GanymedeError("the question is empty", "ask something about the table, e.g. 'mean of every column'")
    return load_prompt(PROMPT).render({"schema": describe_tables(tables, sample_rows), "question": question.strip()})


# -- model call and postprocess -------------------------------------------------------------------------
CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(text: str) -> str:
    """The first fenced code block, or the whole reply when the model wrote bare code."""
    blocks = [b for b in CODE_BLOCK.findall(text or "") if b.strip()]
    code = blocks[0] if blocks else (text or "")
    return code.strip("\n").rstrip() + "\n"


def generate_code(backend: Backend, messages: list[Message], config: GenerationConfig, template: str = PROMPT) -> str:
    with call_context(app="tables", template=template):
        return backend.chat(messages, config).text


def check_pandas_code(code: str) -> list[str]:
    """The static check with pandas' file and network I/O refused too (defence in depth only)."""
    return sandbox.check_code(code, banned_calls=PANDAS_BANNED_CALLS)


def run_pandas_code(
    code: str,
    tables: dict[str, pd.DataFrame],
    limits: sandbox.Limits | None = None,
    check: bool = True,
) -> sandbox.SandboxResult:
    """Check, then run in the sandbox with the table as `df` (several tables: `dfs`). A refusal by the
    static check raises sandbox.UnsafeCodeError with the reason."""
    if check:
        problems = check_pandas_code(code)
        if problems:
            raise sandbox.UnsafeCodeError("the code was refused before running: " + "; ".join(problems[:5]))
    inputs: dict[str, Any] = {}
    if len(tables) == 1:
        inputs["df"] = next(iter(tables.values()))
    elif tables:
        inputs["dfs"] = dict(tables)
    return sandbox.run_code(code, inputs, limits=limits, check=False)


@dataclass
class Attempt:
    code: str
    result: sandbox.SandboxResult | None
    error: str | None


@dataclass
class Answer:
    question: str
    code: str
    result: sandbox.SandboxResult | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None


def repair_message(error: str) -> Message:
    return {
        "role": "user",
        "content": f"Running that code failed:\n{error[:1500]}\n"
        "Fix the code. Reply with the complete corrected code in one ```python block.",
    }


def _attempt(code: str, runner: Callable[[str], sandbox.SandboxResult]) -> Attempt:
    try:
        result = runner(code)
    except sandbox.UnsafeCodeError as exc:
        return Attempt(code, None, str(exc))
    return Attempt(code, result, None if result.ok else result.error)


def solve(
    backend: Backend,
    messages: list[Message],
    config: GenerationConfig,
    runner: Callable[[str], sandbox.SandboxResult],
    retries: int = 2,
    template: str = PROMPT,
    on_attempt: Callable[[Attempt], None] | None = None,
    stop: Callable[[Attempt], bool] | None = None,
) -> list[Attempt]:
    """Generate, run, and on failure send the error back for up to `retries` more tries.

    Errors from hitting a resource limit or the sandbox refusing an operation are sent back too: the model
    learns the operation is not available, it gains no way around the sandbox."""
    conversation = list(messages)
    attempts: list[Attempt] = []
    for _ in range(retries + 1):
        reply = generate_code(backend, conversation, config, template)
        attempt = _attempt(extract_code(reply), runner)
        attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)
        if attempt.error is None or (stop is not None and stop(attempt)):
            break
        conversation += [{"role": "assistant", "content": reply}, repair_message(attempt.error)]
    return attempts


def ask(
    backend: Backend,
    question: str,
    tables: dict[str, pd.DataFrame],
    config: GenerationConfig | None = None,
    sample_rows: int = 3,
    retries: int = 2,
    run: bool = True,
    limits: sandbox.Limits | None = None,
) -> Answer:
    """Answer a question about `tables`: the code, and (with run=True) its sandboxed result."""
    from ganymede.core.prompts import load_prompt

    config = config or load_prompt(PROMPT).config()
    messages = build_messages(question, tables, sample_rows)
    if not run:
        code = extract_code(generate_code(backend, messages, config))
        problems = check_pandas_code(code)
        error = "the code was refused before running: " + "; ".join(problems[:5]) if problems else None
        return Answer(question, code, None, [Attempt(code, None, error)])
    attempts = solve(backend, messages, config, lambda code: run_pandas_code(code, tables, limits), retries)
    last = attempts[-1]
    return Answer(question, last.code, last.result, attempts)


def run_user_code(code: str, tables: dict[str, pd.DataFrame], limits: sandbox.Limits | None = None) -> Answer:
    """A user's own code (an edit of the model's): the same checks and sandbox, no model."""
    attempt = _attempt(code, lambda c: run_pandas_code(c, tables, limits))
    return Answer("", code, attempt.result, [attempt])


# -- showing results ------------------------------------------------------------------------------------
def result_to_jsonable(result: sandbox.SandboxResult | None) -> Any:
    if result is None:
        return None
    if result.kind == "dataframe":
        return result.value.head(1000).to_dict(orient="split")
    if result.kind == "series":
        return {str(k): v for k, v in result.value.head(1000).to_dict().items()}
    return result.value


def result_as_frame(result: sandbox.SandboxResult | None) -> pd.DataFrame | None:
    """The result as a table for display (scalars become a one-cell table)."""
    import pandas as pd

    if result is None or not result.ok:
        return None
    if result.kind == "dataframe":
        return result.value
    if result.kind == "series":
        return result.value.to_frame().reset_index()
    if isinstance(result.value, dict):
        return pd.DataFrame({"key": [str(k) for k in result.value], "value": [str(v) for v in result.value.values()]})
    if isinstance(result.value, list):
        return pd.DataFrame({"value": [str(v) for v in result.value]})
    return pd.DataFrame({"result": [result.value if result.kind == "scalar" else str(result.value)]})


def save_charts(result: sandbox.SandboxResult, folder: Path, stem: str = "chart") -> list[Path]:
    """Write the result's charts as PNG files (atomically)."""
    return [write_atomic(folder / f"{stem}-{i}.png", png) for i, png in enumerate(result.charts, start=1)]


def write_downloads(answer: Answer, folder: Path) -> list[Path]:
    """The result as CSV (a table) or JSON (a value), the code, and the charts as PNG, written atomically."""
    import json

    files: list[tuple[str, str]] = [("code.py", answer.code)]
    frame = result_as_frame(answer.result)
    if frame is not None and answer.result is not None and answer.result.kind in ("dataframe", "series"):
        files.append(("result.csv", frame.to_csv(index=False)))
    elif answer.ok:
        files.append(("result.json", json.dumps(result_to_jsonable(answer.result), default=str, indent=2)))
    paths = [write_atomic(folder / name, text) for name, text in files]
    if answer.result is not None:
        paths += save_charts(answer.result, folder)
    return paths


def _print_result(answer: Answer, chart_dir: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    result = answer.result
    if result is None or not result.ok:
        print(f"error: {answer.error or 'the code did not run'}", file=sys.stderr)
        return 1
    frame = result_as_frame(result)
    if (frame is not None and result.kind in ("dataframe", "series")) or isinstance(result.value, dict | list):
        table = Table(show_lines=False)
        shown = frame.head(50)
        for column in shown.columns:
            table.add_column(str(column))
        for row in shown.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        console.print(table)
        if len(frame) > 50:
            console.print(f"[{len(frame)} rows; first 50 shown]")
    else:
        console.print(str(result.value))
    for path in save_charts(result, chart_dir):
        print(f"chart saved: {path}", file=sys.stderr)
    return 0


# -- CLI ------------------------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tables", aliases=["pandas"], help="ask a question about a table; pandas code runs in a sandbox"
    )
    parser.add_argument("question", nargs="?", help="the question, e.g. 'what is the mean of every column?'")
    parser.add_argument("--data", action="append", required=True, metavar="FILE", help="CSV/TSV/Excel/Parquet/JSON")
    parser.add_argument("--code", metavar="FILE.py", help="run this code (no model) through the same checks")
    parser.add_argument("--show-code", action="store_true", help="print the generated code")
    parser.add_argument("--no-run", action="store_true", help="only generate (and check) the code")
    parser.add_argument("--json", action="store_true", help="print {code, ok, kind, result, error, ...} as JSON")
    parser.add_argument("--sample-rows", type=int, default=3, help="sample rows shown to the model (0: none)")
    parser.add_argument("--retries", type=int, default=2, help="self-repair attempts after an error")
    parser.add_argument("--chart-dir", type=Path, default=Path("."), help="where charts are saved as PNG")
    parser.add_argument("--timeout", type=float, default=40.0, help="wall-clock limit for the code (seconds)")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_cli)


def _answer_json(answer: Answer, chart_dir: Path) -> dict[str, Any]:
    result = answer.result
    charts = [str(p) for p in save_charts(result, chart_dir)] if result and result.charts else []
    return {
        "question": answer.question,
        "code": answer.code,
        "ok": answer.ok,
        "kind": result.kind if result else None,
        "result": result_to_jsonable(result) if answer.ok else None,
        "error": answer.error,
        "blocked": bool(result and result.blocked) or (answer.error or "").startswith("the code was refused"),
        "attempts": len(answer.attempts),
        "charts": charts,
        "stdout": result.stdout if result else "",
    }


def run_cli(args: argparse.Namespace) -> int:
    from ganymede.core.prompts import load_prompt

    if args.sample_rows < 0 or args.retries < 0:
        raise GanymedeError("--sample-rows and --retries must be 0 or more")
    tables = load_tables(args.data)
    limits = sandbox.Limits(wall_seconds=args.timeout)
    if args.code:
        try:
            code = Path(args.code).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"cannot read {args.code}: {exc}") from None
        answer = run_user_code(code, tables, limits)
    else:
        if not args.question:
            raise GanymedeError("give a question, or --code FILE.py to run your own code")
        spec = load_prompt(PROMPT)
        config = config_from_args(spec.config(), args)
        backend = load_backend_from_args(args)
        answer = ask(backend, args.question, tables, config, args.sample_rows, args.retries, run=not args.no_run)
    if args.json:
        print_json(_answer_json(answer, args.chart_dir))
        return 0 if answer.ok or (args.no_run and not answer.error) else 1
    if args.show_code or args.no_run:
        print(answer.code, end="" if answer.code.endswith("\n") else "\n")
    if args.no_run:
        if answer.error:
            print(f"error: {answer.error}", file=sys.stderr)
            return 1
        return 0
    if len(answer.attempts) > 1:
        print(f"[{len(answer.attempts)} attempts: errors were sent back to the model]", file=sys.stderr)
    return _print_result(answer, args.chart_dir)


# -- evaluation -----------------------------------------------------------------------------------------
def add_eval_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tables", aliases=["pandas"], help="pass@1 on PandasEval, or accuracy on DABench")
    parser.add_argument("--data", required=True, type=Path, help="PandasEval or DABench questions (.jsonl)")
    parser.add_argument("--labels", type=Path, help="DABench labels (.jsonl)")
    parser.add_argument("--tables", type=Path, help="DABench tables folder")
    parser.add_argument("--limit", type=int, help="only the first N problems")
    parser.add_argument("--retries", type=int, default=2, help="self-repair attempts after a runtime error")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON line last")
    parser.add_argument("--details", type=Path, help="write per-problem outcomes to this JSONL file")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_eval_cli)


def run_eval_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.evaluation import pandas as pe

    rows = pe.read_jsonl(args.data)
    if not rows:
        raise InputFileError(f"{args.data}: no problems")
    rows = rows[: args.limit] if args.limit else rows
    kind = pe.detect_format(rows[0])
    if kind == "dabench" and (not args.labels or not args.tables):
        raise GanymedeError("DABench needs --labels FILE.jsonl and --tables FOLDER")
    backend = load_backend_from_args(args)

    def save(details: list[dict[str, Any]]) -> None:
        # rewritten after every problem, so a long run that is stopped still leaves its outcomes
        if args.details:
            import json

            write_atomic(args.details, "".join(json.dumps(d, default=str) + "\n" for d in details))

    if kind == "pandaseval":
        metrics, details = evaluate_pandaseval(backend, rows, args, retries=args.retries, save=save)
    else:
        metrics, details = evaluate_dabench(backend, rows, pe.read_jsonl(args.labels), args.tables, args, save=save)
    metrics.update({"benchmark": kind, "model": backend.ref.raw, "retries": args.retries})
    save(details)
    if args.json:
        print_json(metrics)
    else:
        for key, value in metrics.items():
            print(f"{key}: {value}")
    return 0


def _progress(total: int, label: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
    )


def evaluate_pandaseval(
    backend: Backend,
    rows: list[dict[str, Any]],
    args: argparse.Namespace | None = None,
    retries: int = 2,
    save: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """pass@1 with greedy decoding; also the figure without self-repair (the first attempt alone).

    Self-repair sees only an exception the code raised (its type and message, as a user would), never the
    test's code or verdict: a failed assertion ends the problem with no retry."""
    from ganymede.apps.evaluation import pandas as pe
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(COMPLETE_PROMPT)
    config = config_from_args(spec.config(), args) if args else spec.config()
    limits = sandbox.Limits(cpu_seconds=20, wall_seconds=40)
    outcomes: list[pe.ProblemOutcome] = []
    details: list[dict[str, Any]] = []

    def run_program(program: str) -> sandbox.SandboxResult:
        return sandbox.run_code(program, limits=limits, check=False)

    with _progress(len(rows), "PandasEval") as progress:
        task = progress.add_task("problems", total=len(rows))
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
                    result = run_program(program + harness)
                    return result

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
            progress.advance(task)
    metrics = pe.pass_at_1(outcomes)
    metrics["pass_at_1_without_repair"] = pe.pass_at_1(outcomes, first_try=True)["pass_at_1"]
    return metrics, details


def wrong_answer(attempt: Attempt) -> bool:
    """A failed assertion means the code ran and the answer was wrong: the test's verdict is never fed back."""
    return attempt.result is not None and attempt.result.error_type == "AssertionError"


def dabench_question(row: dict[str, Any]) -> str:
    from ganymede.apps.evaluation import pandas as pe

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
    args: argparse.Namespace | None = None,
    save: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Accuracy by question (every sub-answer right) and by sub-answer, on DABench's closed-form labels."""
    from ganymede.apps.evaluation import pandas as pe
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(PROMPT)
    config = config_from_args(spec.config(), args) if args else spec.config()
    retries = args.retries if args else 2
    by_id = {row["id"]: row.get("common_answers", []) for row in labels}
    flags: list[bool] = []
    sub_right = sub_total = 0
    details: list[dict[str, Any]] = []
    cache: dict[str, Any] = {}
    with _progress(len(rows), "DABench") as progress:
        task = progress.add_task("questions", total=len(rows))
        for row in rows:
            expected = by_id.get(row["id"])
            if expected is None:
                details.append({"id": row["id"], "skipped": "no label"})
                progress.advance(task)
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
            progress.advance(task)
    metrics = {
        "accuracy": pe.accuracy(flags),
        "n": len(flags),
        "invalid": len(rows) - len(flags),
        "sub_answer_accuracy": round(sub_right / sub_total, 4) if sub_total else 0.0,
    }
    return metrics, details
