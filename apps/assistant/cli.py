"""The assistant's commands: `ganymede index`, `ganymede ask`, `ganymede eval tools` and `ganymede eval rag`.
Each reads its flags, calls the app (assistant.py, evaluate.py, index.py, tools/) and prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ganymede.apps.assistant.assistant import DEFAULT_STEPS, PROMPT, QA_PROMPT, ask
from ganymede.apps.assistant.evaluate import TOOLS_PROMPT
from ganymede.apps.assistant.index import SEARCH_MODES
from ganymede.apps.assistant.tools import DEFAULT_TOOLS, Step, build_registry
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
    status,
)
from ganymede.core.errors import GanymedeError


def add_cli(sub: argparse._SubParsersAction) -> None:
    index_cmd = sub.add_parser("index", help="index a folder of documents for `ganymede ask` (incremental)")
    index_cmd.add_argument("folder", type=Path, help="folder of .txt .md .html .pdf .docx .csv .json files")
    index_cmd.add_argument("--name", default="default", help="index name (default: default)")
    index_cmd.add_argument("--json", action="store_true", help="print the counts as JSON")
    index_cmd.set_defaults(func=run_index_cli)

    parser = sub.add_parser("ask", help="ask a question over your documents and tools, with sources")
    parser.add_argument("question")
    parser.add_argument("--index", help="document index to search (see `ganymede index`)")
    parser.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help="comma-separated tools to allow, or 'all' or 'none' (search_documents comes with --index)",
    )
    parser.add_argument("--k", type=int, default=4, help="passages to retrieve (default 4)")
    parser.add_argument("--max-steps", type=int, default=DEFAULT_STEPS, help="tool rounds before answering")
    parser.add_argument("--api-spec", action="append", default=[], help="OpenAPI spec (file) for the http_api tool")
    parser.add_argument("--allow-url", action="append", default=[], help="base URL the http_api tool may call")
    parser.add_argument("--allow-private", action="store_true", help="let http_api reach private/loopback hosts")
    parser.add_argument("--yes", action="store_true", help="run tools with side effects without asking")
    parser.add_argument("--json", action="store_true", help="print {answer, steps, sources} as JSON")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_ask_cli)


def run_index_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.assistant.index import open_index

    index = open_index(args.name)
    with status(f"indexing {args.folder}"):
        report = index.sync_folder(args.folder)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    for problem in report.skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def _ask_confirm(name: str, arguments: dict[str, Any]) -> bool:
    """A side-effect tool runs only when the user types yes; without a terminal to ask on, it does not."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"Allow tool {name} with {json.dumps(arguments)}? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def _print_step(step: Step) -> None:
    failed = "" if step.ok else " (failed)"
    print(f"→ {step.tool}({json.dumps(step.arguments, ensure_ascii=False)}){failed}", file=sys.stderr)
    print("  " + step.result[:400].replace("\n", "\n  "), file=sys.stderr)


class _LivePrinter:
    """Prints the answer on stdout as it is generated and each tool step on stderr as it happens."""

    def __init__(self) -> None:
        self.shown = ""

    def text(self, delta: str) -> None:
        self.shown += delta
        sys.stdout.write(delta)
        sys.stdout.flush()

    def step(self, step: Step) -> None:
        if self.shown and not self.shown.endswith("\n"):
            print(flush=True)
        _print_step(step)


def run_ask_cli(args: argparse.Namespace) -> int:
    import time

    from ganymede.apps.assistant.index import open_index
    from ganymede.core.prompts import load_prompt

    started = time.perf_counter()
    index = open_index(args.index, must_exist=True) if args.index else None
    config = config_from_args(load_prompt(PROMPT).config(), args)
    backend = load_backend_from_args(args)
    registry = build_registry(
        args.tools,
        index=index,
        api_specs=args.api_spec,
        allow_urls=args.allow_url,
        allow_private=args.allow_private,
        backend=backend,
    )
    live = _LivePrinter()
    asked = time.perf_counter()
    answer = ask(
        backend,
        args.question,
        index=index,
        registry=registry,
        config=config,
        k=args.k,
        max_steps=args.max_steps,
        confirm=(lambda name, arguments: True) if args.yes else _ask_confirm,
        on_step=None if args.json else live.step,
        on_text=None if args.json else live.text,
    )
    # The figures a user feels: from the command's start (model load included) to the first answer text and the end.
    offset = asked - started
    answer.timing = {
        "load": round(offset, 3),
        "first_token": round(offset + answer.timing["first_token"], 3) if answer.timing.get("first_token") else None,
        "total": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print_json(answer.to_dict())
        return 0
    if live.shown.strip() != answer.text:
        # What streamed was not the answer as given (JSON or narration removed, or the number checked against
        # the calculator's): print the answer itself.
        print(("\n\n" if live.shown.strip() else "") + answer.text)
    else:
        print()
    if answer.stopped:
        print(f"[{answer.stopped}]", file=sys.stderr)
    if answer.hit_step_limit:
        print(f"[stopped after {args.max_steps} tool steps]", file=sys.stderr)
    if answer.sources:
        print("\nSources:")
        for source in answer.sources:
            print(f"  [{source['ref']}] {source['citation']}")
    return 0


# -- evaluation -------------------------------------------------------------------------------------------------------
def add_eval_cli(sub: argparse._SubParsersAction) -> None:
    tools = sub.add_parser("tools", help="function calling on Berkeley Function Calling Leaderboard data (AST match)")
    tools.add_argument("--data", type=Path, required=True, help="BFCL questions (.jsonl)")
    tools.add_argument("--answers", type=Path, help="BFCL ground truth (.jsonl); not needed for irrelevance")
    tools.add_argument("--limit", type=int, help="evaluate only the first N items")
    tools.add_argument("--prompt", default=TOOLS_PROMPT, help=f"prompt file (default {TOOLS_PROMPT})")
    tools.add_argument(
        "--check", action="store_true", help="count a call only when the model confirms it in a follow-up turn"
    )
    tools.add_argument(
        "--no-grounding",
        action="store_true",
        help="keep calls whose argument values appear nowhere in the question (ablation; the assistant drops them)",
    )
    tools.add_argument("--output", type=Path, help="write per-item predictions here (.jsonl)")
    tools.add_argument("--json", action="store_true", help="print the metrics as one JSON line")
    add_model_args(tools)
    add_generation_args(tools)
    tools.set_defaults(func=run_tools_eval_cli)

    rag = sub.add_parser("rag", help="retrieval QA on SQuAD 2.0 json: recall@k, exact match, F1")
    rag.add_argument("--data", type=Path, required=True, help="SQuAD 2.0 json (e.g. ../shared/data/squad2/dev.json)")
    rag.add_argument("--limit", type=int, help="evaluate only the first N questions")
    rag.add_argument("--k", type=int, default=5, help="passages retrieved per question (recall@k)")
    rag.add_argument(
        "--context-k", type=int, default=2, help="of those, how many the model reads (default 2: fewer distractors)"
    )
    rag.add_argument("--mode", choices=list(SEARCH_MODES), default="hybrid", help="retrieval (default hybrid)")
    rag.add_argument(
        "--retrieval-only", action="store_true", help="measure recall@k only, without answering (no language model)"
    )
    rag.add_argument(
        "--no-check", action="store_true", help="give the first short answer without checking it (ablation)"
    )
    rag.add_argument("--output", type=Path, help="write per-question predictions here (.jsonl)")
    rag.add_argument("--json", action="store_true", help="print the metrics as one JSON line")
    add_model_args(rag)
    add_generation_args(rag)
    rag.set_defaults(func=run_rag_eval_cli)


def run_tools_eval_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.assistant.evaluate import evaluate_tools, tools_metrics, write_predictions
    from ganymede.apps.evaluation.tools import load_bfcl
    from ganymede.core.progress import run_with_progress
    from ganymede.core.prompts import load_prompt

    items = load_bfcl(args.data, args.answers)[: args.limit]
    config = config_from_args(load_prompt(args.prompt).config(), args)
    backend = load_backend_from_args(args)
    rows = run_with_progress(
        len(items),
        f"BFCL {args.data.stem}",
        lambda advance: evaluate_tools(
            backend,
            items,
            prompt=args.prompt,
            config=config,
            check=args.check,
            grounded=not args.no_grounding,
            advance=advance,
        ),
    )
    if args.output:
        write_predictions(args.output, rows)
    metrics = tools_metrics(rows, model=backend.ref.raw, data=str(args.data))
    if not args.json:
        print(f"AST accuracy {metrics['accuracy']:.3f} over {metrics['n']} items ({args.data.name})")
    print_json(metrics)
    return 0


def run_rag_eval_cli(args: argparse.Namespace) -> int:
    import tempfile

    from ganymede.apps.assistant.evaluate import evaluate_rag, index_paragraphs, rag_metrics, write_predictions
    from ganymede.apps.evaluation.rag import load_squad
    from ganymede.core.progress import run_with_progress
    from ganymede.core.prompts import load_prompt

    articles, questions = load_squad(args.data)
    questions = questions[: args.limit]
    if args.k < args.context_k:
        raise GanymedeError("--context-k cannot exceed --k", "the model reads a subset of the retrieved passages")
    config = config_from_args(load_prompt(QA_PROMPT).config(), args)
    with tempfile.TemporaryDirectory(prefix="ganymede-squad-") as tmp:
        with status(f"indexing {sum(len(a) for a in articles.values())} paragraphs"):
            index = index_paragraphs(articles, Path(tmp) / "squad.db")
        backend = None if args.retrieval_only else load_backend_from_args(args)
        rows = run_with_progress(
            len(questions),
            "SQuAD",
            lambda advance: evaluate_rag(
                index,
                questions,
                backend,
                k=args.k,
                context_k=args.context_k,
                mode=args.mode,
                check=not args.no_check,
                config=config,
                advance=advance,
            ),
        )
    if args.output:
        write_predictions(args.output, rows)
    model = backend.ref.raw if backend is not None else None
    metrics = rag_metrics(rows, k=args.k, mode=args.mode, data=str(args.data), model=model)
    if not args.json:
        if model is None:
            print(f"recall@{args.k} {metrics[f'recall@{args.k}']:.3f} over {metrics['n']} questions")
        else:
            recall = metrics[f"recall@{args.k}"]
            print(f"recall@{args.k} {recall:.3f}  EM {metrics['exact_match']:.3f}  F1 {metrics['f1']:.3f}")
    print_json(metrics)
    return 0
