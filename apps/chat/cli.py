"""`ganymede chat`: one answer (-m), an interactive terminal chat, or the saved conversations (--list, --export)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ganymede.apps.chat.conversation import PROMPT, Conversation, build_messages, reply, stream_reply
from ganymede.apps.chat.export import EXPORT_FORMATS, export_text
from ganymede.apps.chat.store import ConversationNotFoundError, ConversationStore
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Message

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend


def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("chat", help="chat with a model (interactive, or one answer with -m)")
    parser.add_argument("-m", "--message", help="answer this one message and exit")
    parser.add_argument("--system", help="system prompt (default: the one in prompts/chat.yaml)")
    parser.add_argument("--json", action="store_true", help="print {text, model, usage, settings} as JSON")
    parser.add_argument("--resume", metavar="ID", help="continue a saved conversation")
    parser.add_argument("--list", action="store_true", help="list saved conversations")
    parser.add_argument("--export", metavar="ID", help="print a saved conversation")
    parser.add_argument("--format", choices=list(EXPORT_FORMATS), default="markdown", help="export format")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_cli)


def _saved(store: ConversationStore, conv_id: str) -> Conversation:
    try:
        return store.get(conv_id)
    except ConversationNotFoundError as exc:
        raise GanymedeError(exc.message, "list them with `ganymede chat --list`") from None


def run_cli(args: argparse.Namespace) -> int:
    from ganymede.core.prompts import load_prompt

    store = ConversationStore()
    if args.list:
        rows = [{"id": c.id, "title": c.title, "messages": len(c.messages), "model": c.model} for c in store.list()]
        if args.json:
            print_json(rows)
        for row in [] if args.json else rows:
            print(f"{row['id']}  {row['messages']:>3} msgs  {row['title']}")
        return 0
    if args.export:
        print(export_text(_saved(store, args.export), args.format))
        return 0

    spec = load_prompt(PROMPT)
    config = config_from_args(spec.config(), args)
    system_prompt = spec.system if args.system is None else args.system
    backend = load_backend_from_args(args)
    conv = _saved(store, args.resume) if args.resume else Conversation.new(system_prompt, backend.ref.raw)

    if args.message is not None:
        messages = build_messages(conv.messages, args.message, conv.system_prompt or system_prompt)
        if args.json:
            completion, note = reply(backend, messages, config)
            print_json(
                {
                    "text": completion.text,
                    "model": backend.ref.raw,
                    "usage": completion.to_dict()["usage"],
                    "settings": config.model_dump(),
                    "note": note,
                }
            )
            text = completion.text
        else:
            text = _print_stream(backend, messages, config)
        turns = [m for m in messages if m["role"] != "system"]
        conv.messages = [*turns, {"role": "assistant", "content": text}]
        if args.resume:
            store.save(conv)
        return 0
    return _interactive(backend, store, conv, config, system_prompt)


def _print_stream(backend: Backend, messages: list[Message], config: GenerationConfig) -> str:
    stream, note = stream_reply(backend, messages, config)
    if note:
        print(f"[{note}]", file=sys.stderr)
    for delta in stream:
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    assert stream.completion is not None
    return stream.completion.text


def _interactive(
    backend: Backend, store: ConversationStore, conv: Conversation, config: GenerationConfig, system_prompt: str
) -> int:
    print(f"Chatting with {backend.describe()} (conversation {conv.id}). /new, /exit; Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print(file=sys.stderr)
            return 0
        if not text:
            continue
        if text in {"/exit", "/quit"}:
            return 0
        if text == "/new":
            conv = Conversation.new(system_prompt, backend.ref.raw)
            print(f"[new conversation {conv.id}]", file=sys.stderr)
            continue
        messages = build_messages(conv.messages, text, conv.system_prompt or system_prompt)
        try:
            answer = _print_stream(backend, messages, config)
        except GanymedeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        conv.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        store.save(conv)
