"""`ganymede tables` (alias `pandas`) and `ganymede eval tables`: flags in, the app's functions called,
results printed (a rich table, a value, or --json)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ganymede.apps.tables import sandbox
from ganymede.apps.tables.evaluate import benchmark_config, load_problems, run_benchmark
from ganymede.apps.tables.io import load_tables
from ganymede.apps.tables.pandas_code import (
    PROMPT,
    Answer,
    ask,
    result_as_frame,
    result_to_jsonable,
    run_user_code,
    save_charts,
)
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError, InputFileError

#: rows of a table result printed in the terminal (--json and downloads carry more).
SHOWN_ROWS = 50


# -- ganymede tables ------------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tables", aliases=["pandas"], help="ask a question about a table; pandas code runs in a sandbox"
    )
    parser.add_argument("question", nargs="?", help="the question, e.g. 'what is the mean of every column?'")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="FILE",
        help="CSV/TSV/Excel/Parquet/JSON; repeat for several tables (the code sees each by its file stem, and the "
        "first also as df)",
    )
    parser.add_argument("--code", metavar="FILE.py", help="run this code (no model) through the same checks")
    parser.add_argument("--show-code", action="store_true", help="print the generated code")
    parser.add_argument("--no-run", action="store_true", help="only generate (and check) the code")
    parser.add_argument(
        "--json", action="store_true", help="print {answer, result, code, ok, kind, error, charts, ...} as JSON"
    )
    parser.add_argument(
        "--no-answer", action="store_true", help="skip the plain-language answer sentence (one model call less)"
    )
    parser.add_argument("--sample-rows", type=int, default=3, help="sample rows shown to the model (0: none)")
    parser.add_argument("--retries", type=int, default=2, help="self-repair attempts after an error")
    parser.add_argument("--chart-dir", type=Path, default=Path("."), help="where charts are saved as PNG")
    parser.add_argument("--timeout", type=float, default=40.0, help="wall-clock limit for the code (seconds)")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_cli)


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
        answer = ask(
            backend,
            args.question,
            tables,
            config,
            args.sample_rows,
            args.retries,
            run=not args.no_run,
            limits=limits,
            explain=not args.no_answer,
        )
    if args.json:
        print_json(answer_json(answer, args.chart_dir))
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
    return print_answer(answer, args.chart_dir)


def answer_json(answer: Answer, chart_dir: Path) -> dict[str, Any]:
    """The --json payload; the charts are saved under `chart_dir` and listed by path (a chart-only answer
    has those paths as its result, never the plotting object's repr)."""
    result = answer.result
    charts = [str(p) for p in save_charts(result, chart_dir)] if result and result.charts else []
    chart_only = answer.ok and result is not None and result.kind == "chart"
    value = charts if chart_only else result_to_jsonable(result) if answer.ok else None
    return {
        "question": answer.question,
        # a chart's answer is its one-line description (read off the code, so there is nothing to check)
        "answer": answer.sentence or (answer.chart_description if chart_only else None),
        "answer_note": answer.sentence_note,
        "result": value,
        "code": answer.code,
        "ok": answer.ok,
        "kind": result.kind if result else None,
        "error": answer.error,
        "blocked": bool(result and result.blocked) or (answer.error or "").startswith("the code was refused"),
        "attempts": len(answer.attempts),
        "charts": charts,
        "chart_description": answer.chart_description,
        "stdout": result.stdout if result else "",
        # which sandbox layers were active for this run (the sandbox names them; older ones list `layers`)
        "isolation": getattr(result, "isolation", None) or (result.layers if result else []),
    }


def print_answer(answer: Answer, chart_dir: Path) -> int:
    """The answer sentence, then the result on stdout (a table, the value, or the chart's path and what it
    shows); the error on stderr; the exit status."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    result = answer.result
    if result is None or not result.ok:
        print(f"error: {answer.error or 'the code did not run'}", file=sys.stderr)
        return 1
    if answer.sentence:
        console.print(escape(answer.sentence))
    elif answer.sentence_note:
        print(f"[{answer.sentence_note}]", file=sys.stderr)
    frame = result_as_frame(result)
    if (frame is not None and result.kind in ("dataframe", "series")) or isinstance(result.value, dict | list):
        table = Table(show_lines=False)
        shown = frame.head(SHOWN_ROWS)
        for column in shown.columns:
            table.add_column(escape(str(column)))
        for row in shown.itertuples(index=False):
            table.add_row(*(escape(str(v)) for v in row))
        console.print(table)
        if len(frame) > SHOWN_ROWS:
            console.print(f"[{len(frame)} rows; first {SHOWN_ROWS} shown]", markup=False)
    elif result.kind != "chart":
        console.print(escape(str(result.value)))
    if answer.chart_description:
        console.print(escape(answer.chart_description))
    for path in save_charts(result, chart_dir):
        print(f"chart: {path}")
    return 0


# -- ganymede eval tables -------------------------------------------------------------------------------
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
    benchmark, rows = load_problems(args.data, args.limit)
    if benchmark == "dabench" and (not args.labels or not args.tables):
        raise GanymedeError("DABench needs --labels FILE.jsonl and --tables FOLDER")
    backend = load_backend_from_args(args)
    metrics = run_benchmark(
        backend,
        benchmark,
        rows,
        config_from_args(benchmark_config(benchmark), args),
        retries=args.retries,
        labels=args.labels,
        tables_dir=args.tables,
        details_path=args.details,
    )
    if args.json:
        print_json(metrics)
    else:
        for key, value in metrics.items():
            print(f"{key}: {value}")
    return 0
