"""`ganymede summarize` (files, folders, --text or stdin; resumable batches) and `ganymede eval summarize`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence

from ganymede.apps.summarize.dialogue_io import FORMATS, Dialogue, parse_turn_lines
from ganymede.apps.summarize.evaluate import eval_records, evaluate, read_eval_rows
from ganymede.apps.summarize.outputs import OUTPUT_FORMATS, output_format, render_records
from ganymede.apps.summarize.summarizer import (
    DEFAULT_MAX_WORDS,
    PROMPT,
    STRATEGIES,
    BatchReport,
    Summarizer,
    build_summarizer,
    collect,
    run_batch,
)
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic


def _summarizer_from_flags(args: argparse.Namespace, exclude: Sequence[Dialogue] = ()) -> tuple[Summarizer, int]:
    """The model and summarizer the flags name (see _add_prompting_args), and how many --examples were left
    out as being evaluated."""
    from ganymede.core.cliargs import config_from_args, load_backend_from_args, status
    from ganymede.core.prompts import load_prompt

    config = config_from_args(load_prompt(PROMPT).config(), args)
    backend = load_backend_from_args(args)
    embedding = status(f"embedding the examples of {args.examples}") if args.examples else contextlib.nullcontext()
    with embedding:
        return build_summarizer(
            backend,
            config=config,
            shots=args.shots,
            examples_path=args.examples,
            exclude=exclude,
            strategy=args.strategy,
            max_words=args.max_words,
            adapter=getattr(args, "adapter", None),
        )


def _add_prompting_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shots",
        type=int,
        help="number of worked examples in the prompt (0 = zero-shot; "
        "default: all of the prompt file's, or 3 with --examples)",
    )
    parser.add_argument(
        "--examples",
        metavar="FILE",
        help="pool of examples (JSONL with dialogue and summary): the --shots most similar to each input are used",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: one prompt, map-reduce only when the dialogue does not fit (default)",
    )
    parser.add_argument(
        "--max-words",
        type=int,
        default=DEFAULT_MAX_WORDS,
        help=f"target summary length in words (default {DEFAULT_MAX_WORDS})",
    )


def cmd_summarize(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ganymede.core.progress import run_with_progress

    dialogues, problems = collect(args.inputs, args.format)
    if args.text:
        dialogues.extend(Dialogue(f"text-{i}", parse_turn_lines(t)) for i, t in enumerate(args.text, 1))
    if not args.inputs and not args.text:
        if sys.stdin.isatty():
            raise GanymedeError("nothing to summarize", "give files or folders, --text TEXT, or pipe a dialogue in")
        dialogues.append(Dialogue("stdin", parse_turn_lines(sys.stdin.read(), "stdin")))
    fmt = output_format(args.output, args.output_format)
    if not dialogues and not problems:
        raise GanymedeError("no dialogue files among the inputs", f"known formats: {', '.join(FORMATS)}")
    report = BatchReport()
    if dialogues:  # only unreadable files: report them without loading a model
        summarizer, _ = _summarizer_from_flags(args)
        report = run_with_progress(
            len(dialogues),
            "summarize",
            lambda advance: run_batch(summarizer, dialogues, args.output, fmt, not args.no_resume, advance),
        )
    report.failed[:0] = problems
    if not args.output:
        done = set(report.done)
        new = [r for r in report.records if r["source"] in done]
        if fmt == "txt" and len(new) == 1:
            sys.stdout.write(new[0]["summary"] + "\n")
        else:
            sys.stdout.write(render_records(new, fmt))
    console = Console(stderr=True)
    table = Table(title="summarize")
    for column in ("done", "skipped (already in output)", "failed"):
        table.add_column(column, justify="right")
    table.add_row(str(len(report.done)), str(len(report.skipped)), str(len(report.failed)))
    console.print(table)
    for source, reason in report.failed:
        console.print(f"failed {source}: {reason}", markup=False, highlight=False)
    if args.output:
        console.print(f"wrote {args.output}", markup=False, highlight=False)
    return 1 if report.failed else 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    from ganymede.core.cliargs import add_generation_args, add_model_args

    parser = subparsers.add_parser(
        "summarize",
        help="summarize dialogues (chats, meetings, transcripts) from files or folders",
        description="Summarize dialogues. Inputs: .txt (Speaker: text lines), .json/.jsonl (DialogSum records or "
        "{speaker, text} turns), .csv (speaker,text columns), .srt/.vtt transcripts, folders of them, "
        "--text, or stdin. With -o, rerunning skips inputs already summarized there.",
    )
    parser.add_argument("inputs", nargs="*", metavar="PATH", help="files or folders (searched recursively)")
    parser.add_argument("--text", action="append", help="a dialogue given literally (repeatable)")
    parser.add_argument("--format", choices=FORMATS, help="input format (default: by extension and content)")
    parser.add_argument("-o", "--output", help="output file (.jsonl, .md or .txt); default stdout")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, help="override the output file's format")
    parser.add_argument("--no-resume", action="store_true", help="summarize everything again, replacing -o")
    _add_prompting_args(parser)
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=cmd_summarize)


def cmd_eval_summarize(args: argparse.Namespace) -> int:
    from ganymede.core.cliargs import print_json
    from ganymede.core.progress import run_with_progress

    rows = read_eval_rows(args.data, args.limit)
    summarizer, dropped = _summarizer_from_flags(args, exclude=rows)
    started = time.perf_counter()
    scores, results = run_with_progress(
        len(rows), "eval summarize", lambda advance: evaluate(summarizer, rows, advance)
    )
    seconds = time.perf_counter() - started
    if args.save:
        write_atomic(args.save, render_records(eval_records(rows, results), "jsonl"))
    result = {
        **scores,
        "data": str(args.data),
        "limit": args.limit,
        "model": summarizer.backend.ref.raw,
        "adapter": getattr(args, "adapter", None),
        "examples_file": args.examples,
        "examples_dropped_as_evaluated": dropped,
        **summarizer.settings,
        "seconds": round(seconds, 1),
    }
    if not args.json:
        print(
            f"ROUGE-1 {scores['rouge1']:.4f}  ROUGE-2 {scores['rouge2']:.4f}  ROUGE-L {scores['rougeL']:.4f}  "
            f"ROUGE-Lsum {scores['rougeLsum']:.4f}  n {scores['n']}  failed {scores['failed']}"
        )
    print_json(result)
    return 0


def add_eval_cli(subparsers: argparse._SubParsersAction) -> None:
    from ganymede.core.cliargs import add_generation_args, add_model_args

    parser = subparsers.add_parser("summarize", help="ROUGE (rouge-score, stemmed) on DialogSum-style JSONL")
    parser.add_argument("--data", required=True, help="JSONL with dialogue and summary (or summary1..3)")
    parser.add_argument("--limit", type=int, help="only the first N dialogues")
    parser.add_argument("--save", metavar="FILE", help="also write each summary with its references (JSONL)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    _add_prompting_args(parser)
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=cmd_eval_summarize)
