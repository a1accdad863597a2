"""`ganymede chat`: one answer (-m), an interactive terminal chat, or the saved conversations (--list, --export)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from ganymede.apps.chat.conversation import PROMPT, ChatTurn, Conversation, incomplete_reply, split_last_user
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
from ganymede.core.messages import Message, text_of

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend


def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("chat", help="chat with a model (interactive, or one answer with -m)")
    parser.add_argument("-m", "--message", help="answer this one message and exit (saved, like every chat)")
    parser.add_argument("--system", help="system prompt (default: the one in prompts/chat.yaml)")
    parser.add_argument("--json", action="store_true", help="print {text, model, usage, settings} as JSON")
    parser.add_argument("--resume", metavar="ID", help="continue a saved conversation (ids: --list)")
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
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "messages": len(c.messages),
                "model": c.model,
                "incomplete": incomplete_reply(c.messages) is not None,
            }
            for c in store.list()
        ]
        if args.json:
            print_json(rows)
        for row in [] if args.json else rows:
            cut = "  (last reply incomplete)" if row["incomplete"] else ""
            print(f"{row['id']}  {row['messages']:>3} msgs  {row['title']}{cut}")
        return 0
    if args.export:
        print(export_text(_saved(store, args.export), args.format))
        return 0

    spec = load_prompt(PROMPT)
    config = config_from_args(spec.config(), args)
    saved = _saved(store, args.resume) if args.resume else None  # a wrong id fails before a model loads
    backend = load_backend_from_args(args)
    if saved is not None:
        conv = saved
        _tell_resumed(conv, interactive=args.message is None)
    else:
        conv = Conversation.new(spec.system if args.system is None else args.system, backend.ref.raw)
    # A saved conversation keeps the system prompt it was started with; an old one saved without any gets today's.
    system_prompt = conv.system_prompt or (spec.system if args.system is None else args.system)

    if args.message is None:
        return _interactive(backend, store, conv, config, system_prompt)
    # Saved like every turn (committed before generation starts), so a crash or Ctrl-C loses nothing and the
    # answer can be continued with --resume.
    turn = ChatTurn(backend, store, conv, args.message, system_prompt, config)
    if not args.json:
        print(f"[conversation {conv.id}]", file=sys.stderr)
        _print_turn(turn)
        return 0
    with contextlib.closing(iter(turn)) as deltas:
        for _ in deltas:
            pass
    assert turn.completion is not None
    print_json(
        {
            "text": turn.completion.text,
            "model": backend.ref.raw,
            "usage": turn.completion.to_dict()["usage"],
            "settings": config.model_dump(),
            "note": turn.note,
            "conversation": conv.id,
        }
    )
    return 0


def _tell_resumed(conv: Conversation, interactive: bool) -> None:
    """Say which conversation goes on, and whether its last reply was cut off (stopped, failed, or a crash)."""
    print(f"[conversation {conv.id}: {len(conv.messages)} messages, {conv.title}]", file=sys.stderr)
    cut = incomplete_reply(conv.messages)
    if cut is None:
        return
    text = " ".join(text_of(cut.get("content")).split())
    shown = text if len(text) <= 80 else "…" + text[-79:]
    how = "type /retry to ask again, or carry on" if interactive else "it stays as it is; the conversation goes on"
    print(f"[its last reply is incomplete (it was cut off while being written): {shown!r}; {how}]", file=sys.stderr)


def _print_turn(turn: ChatTurn) -> str:
    if turn.note:
        print(f"[{turn.note}]", file=sys.stderr)
    answer = ""
    # closing(): on Ctrl-C the turn saves the reply as far as it got, marked incomplete, before the exit.
    with contextlib.closing(iter(turn)) as deltas:
        for delta in deltas:
            answer += delta
            sys.stdout.write(delta)
            sys.stdout.flush()
    sys.stdout.write("\n")
    return answer


def _interactive(
    backend: Backend, store: ConversationStore, conv: Conversation, config: GenerationConfig, system_prompt: str
) -> int:
    print(
        f"Chatting with {backend.describe()} (conversation {conv.id}). /new, /retry, /exit; Ctrl-D to quit.",
        file=sys.stderr,
    )
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
        history: list[Message] | None = None
        if text == "/retry":  # ask the last message again: a reply that was cut off, or one to do over
            history, text = split_last_user(conv.messages)
            if not text:
                print("[nothing to retry yet]", file=sys.stderr)
                continue
        try:
            _print_turn(ChatTurn(backend, store, conv, text, system_prompt, config, history=history))
        except GanymedeError as exc:  # the user's message is saved already (unless it was refused as too long)
            print(f"error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:  # Ctrl-C stops this reply (saved as far as it got), not the chat
            print(
                "\n[stopped: the reply is kept as far as it got, marked incomplete; /retry asks again]", file=sys.stderr
            )
