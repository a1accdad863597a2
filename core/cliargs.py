"""Arguments every app command shares (model, backend, generation settings) and how to print results."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ganymede.core.generation import GenerationConfig


def add_model_args(parser: argparse.ArgumentParser, adapter: bool = True) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        help="model reference or a name `ganymede models` lists (default: the app's own, "
        "$GANYMEDE_MODEL_<APP>, $GANYMEDE_MODEL or bundled:qwen2.5-coder-1.5b)",
    )
    group.add_argument("--backend", help="force a backend: llamacpp, transformers or openai")
    if adapter:
        group.add_argument(
            "--adapter",
            metavar="DIR",
            help="LoRA adapter from `ganymede tune` (its base model is the default --model); "
            "transformers applies it with peft, llamacpp as a GGUF LoRA",
        )


def add_generation_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation settings (override the prompt file's)")
    group.add_argument("--max-new-tokens", type=int)
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--greedy", dest="greedy", action="store_true", default=None, help="greedy decoding")
    mode.add_argument("--sample", dest="greedy", action="store_false", help="sample with temperature/top-k/top-p")
    group.add_argument("--temperature", type=float)
    group.add_argument("--top-k", type=int)
    group.add_argument("--top-p", type=float)
    group.add_argument("--repetition-penalty", type=float)
    group.add_argument("--seed", type=int)
    group.add_argument("--stop", action="append", help="stop sequence (repeatable)")


def generation_overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("max_new_tokens", "greedy", "temperature", "top_k", "top_p", "repetition_penalty", "seed", "stop")
    values = {k: getattr(args, k, None) for k in keys}
    if values["stop"] is not None:
        values["stop"] = tuple(values["stop"])
    return {k: v for k, v in values.items() if v is not None}


def config_from_args(base: GenerationConfig, args: argparse.Namespace) -> GenerationConfig:
    """The prompt file's settings with the flags' on top; a sampling flag that greedy decoding would ignore is
    a one-line warning that names the flag to add, not Python's warning format."""
    import warnings

    from ganymede.core.generation import IgnoredSettingWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IgnoredSettingWarning)
        config = base.merged(**generation_overrides(args))
    for warning in caught:
        if issubclass(warning.category, IgnoredSettingWarning):
            flags = str(warning.message).replace(" (greedy=True)", "").replace("set greedy=False", "add --sample")
            print(f"warning: {flags}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return config


def load_backend_from_args(args: argparse.Namespace) -> Any:
    """Load the model the flags name, with a status line on stderr (first loads take seconds)."""
    from ganymede.core.backends import load_backend

    model, options = args.model, {}
    if getattr(args, "adapter", None):
        from ganymede.core.backends import parse_model_ref
        from ganymede.core.errors import GanymedeError
        from ganymede.core.lora import read_adapter

        info = read_adapter(args.adapter)
        model = model or info.base_model
        if (args.backend or parse_model_ref(model).default_backend) not in ("transformers", "llamacpp"):
            raise GanymedeError("LoRA adapters run on local backends only", "use --backend transformers or llamacpp")
        options["adapter"] = str(info.path)
    model = model or model_for(args)
    with status(f"loading {model}" + (f" with adapter {args.adapter}" if options else "")):
        return load_backend(model, backend=args.backend, **options)


def model_for(args: argparse.Namespace) -> str:
    """--model, else the default of the app the command belongs to (`app`, set by the root CLI)."""
    from ganymede.core import settings

    return args.model or settings.app_model(getattr(args, "app", None))


def status(message: str) -> Any:
    """A spinner on stderr that keeps stdout clean for --json output."""
    from rich.console import Console

    return Console(stderr=True).status(message)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
