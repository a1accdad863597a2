"""The `ganymede` command: thin wiring; each app registers its own sub-command. Heavy imports stay lazy."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ganymede import __version__
from ganymede.apps import APPS, all_apps
from ganymede.core import settings
from ganymede.core.cliargs import add_model_args, print_json
from ganymede.core.errors import GanymedeError


def _cmd_models(args: argparse.Namespace) -> int:
    """The models on this machine (bundled, pulled, the Hugging Face cache, Ollama, LM Studio) and each app's."""
    from rich.console import Console
    from rich.table import Table

    from ganymede.core.discovery import discover
    from ganymede.core.gguf_info import human_size

    found = discover(context_window=settings.default_context_window())
    per_app = {name: settings.app_model(name) for name in APPS}
    if args.json:
        print_json({"models": [m.to_dict() for m in found], "apps": per_app})
        return 0
    table = Table(title="Models on this machine (use a name with --model)")
    for column in ("name", "store", "size", "quant", "context", "fits in memory", "note"):
        table.add_column(column, overflow="fold")
    for model in found:
        info = model.info
        table.add_row(
            model.name,
            model.store,
            human_size(model.size) if model.size else "",
            (info.quantization or "") if info else "",
            str(info.context_length or "") if info else "",
            _fits(model.runnable),
            f"[red]{model.problem}[/red]" if model.problem else (model.note or ""),
        )
    console = Console()
    console.print(table)
    if len(set(per_app.values())) == 1:
        console.print(f"every app uses {next(iter(per_app.values()))} unless --model says otherwise")
    else:
        console.print("each app uses: " + ", ".join(f"{app} {model}" for app, model in per_app.items()))
    console.print(
        "also: ./path/model.gguf, ./hf-model-folder, hf:ORG/NAME (transformers, needs a network), "
        "openai:MODEL, openai:MODEL@http://host:port/v1; `ganymede models pull hf:ORG/REPO:QUANT` downloads a GGUF"
    )
    return 0


def _fits(estimate: Any) -> str:
    from ganymede.core.gguf_info import human_size

    if estimate is None:
        return ""
    verdict = {True: "yes", False: "no", None: "?"}[estimate.fits]
    return f"{verdict} (needs {human_size(estimate.needed)})"


def _cmd_models_pull(args: argparse.Namespace) -> int:
    from ganymede.core import hub
    from ganymede.core.gguf_info import human_size
    from ganymede.core.progress import progress_bar

    with progress_bar(f"pull {args.ref}", unit="B", transient=True) as bar:
        model = hub.pull(args.ref, name=args.name, progress=lambda done, total: bar.update(done, total))
    if args.json:
        print_json({"name": model.name, "path": str(model.path), "size": model.size, "ref": model.ref})
    else:
        print(f"pulled {model.name} ({human_size(model.size)}): use it with --model {model.name}")
    return 0


def _cmd_models_rm(args: argparse.Namespace) -> int:
    from ganymede.core import hub
    from ganymede.core.gguf_info import human_size

    removal = hub.remove(args.name)
    print(f"removed {args.name}: {human_size(removal.freed)} freed")
    for kept in removal.kept:
        print(f"kept {kept} (another model or tool uses it)", file=sys.stderr)
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


def _for_app(app: str, subparsers: argparse._SubParsersAction, add: Callable[[Any], None]) -> None:
    """Let an app add its commands, and mark each with the app's name: a command's default model is its app's
    (`[models]` in the config file, GANYMEDE_MODEL_<APP>)."""
    before = set(subparsers.choices)
    add(subparsers)
    for command in set(subparsers.choices) - before:
        subparsers.choices[command].set_defaults(app=app)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganymede",
        description="Task-oriented LLM apps on a laptop (bundled offline models) or any OpenAI-compatible server.",
    )
    parser.add_argument("--version", action="version", version=f"ganymede {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for name, package in zip(APPS, all_apps(), strict=True):
        _for_app(name, sub, package.add_cli)

    evaluate = sub.add_parser("eval", help="evaluate an app on a benchmark file (ROUGE, BLEU/chrF, F1, pass@1)")
    eval_sub = evaluate.add_subparsers(dest="eval_app", metavar="APP", required=True)
    for name, package in zip(APPS, all_apps(), strict=True):
        if hasattr(package, "add_eval_cli"):
            _for_app(name, eval_sub, package.add_eval_cli)

    importlib.import_module("ganymede.bench").add_cli(sub)
    # Two verbs for two kinds of training: `tune` trains a LoRA adapter of the LLM on an app's prompts (the
    # apps' `tune_data`); `train` trains an app's own non-LLM pipeline from scratch (ner: spaCy on CoNLL).
    importlib.import_module("ganymede.tune.trainer").add_cli(sub)
    train = sub.add_parser("train", help="train an app's own pipeline (ner: spaCy on CoNLL-2003)")
    tasks = train.add_subparsers(dest="train_task", metavar="TASK", required=True)
    for name, package in zip(APPS, all_apps(), strict=True):
        if hasattr(package, "add_train_cli"):
            _for_app(name, tasks, package.add_train_cli)

    models = sub.add_parser("models", help="the models on this machine and each app's; pull and remove GGUFs")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_cmd_models)
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download a GGUF from the Hugging Face hub (resumable, verified)")
    pull.add_argument(
        "ref", help="hf:ORG/REPO:QUANT (e.g. hf:Qwen/Qwen2.5-3B-Instruct-GGUF:q4_k_m) or hf:ORG/REPO/FILE.gguf"
    )
    pull.add_argument("--name", help="the short name to register it under (default: from the file name)")
    pull.add_argument("--json", action="store_true")
    pull.set_defaults(func=_cmd_models_pull)
    rm = models_sub.add_parser("rm", help="remove a model Ganymede pulled (never other tools' files)")
    rm.add_argument("name")
    rm.set_defaults(func=_cmd_models_rm)

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
