"""Assistant: answers questions by looking things up in the user's documents and calling tools and APIs,
showing every tool call and result and citing its sources (file and chunk).

Shape: preprocess (retrieve passages, fence them as data) -> model call in a tool loop with a step limit ->
postprocess (citations, abstention). Evaluation runners for BFCL (`ganymede eval tools`) and SQuAD 2.0
(`ganymede eval rag`) live at the end; their metrics are pure functions in apps/evaluation/."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.assistant.tools import Step
from ganymede.apps.assistant.tools.grounding import context_of, invented_values
from ganymede.core.calllog import call_context
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, ToolCall
from ganymede.core.toolcalls import parse_tool_calls

if TYPE_CHECKING:
    from ganymede.apps.assistant.index import DocumentIndex, Passage
    from ganymede.apps.assistant.tools import ToolRegistry
    from ganymede.core.backends.base import Backend

PROMPT = "assistant"
QA_PROMPT = "assistant_qa"
CHECK_PROMPT = "assistant_qa_check"
TOOLS_PROMPT = "assistant_tools"
TOOLS_CHECK_PROMPT = "assistant_tools_check"
DEFAULT_STEPS = 4
ABSTAIN = "I don't know"


# -- preprocess: fence untrusted text as data ----------------------------------------------------------------
def fence(label: str, text: str) -> str:
    """Untrusted text (documents, tool results) inside <data> markers the system prompt tells the model to treat
    as data only. Markers and tool-call tags inside the text are defused so it cannot close the fence or pose
    as a call."""
    clean = re.sub(
        r"</?\s*(data|tool_call|tool_response)\b", lambda m: m.group(0).replace("<", "&lt;"), text, flags=re.I
    )
    safe_label = label.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;")
    return f'<data source="{safe_label}">\n{clean}\n</data>'


def format_passages(passages: Sequence[Passage]) -> str:
    """Numbered passages, each fenced, so answers can cite [n]."""
    if not passages:
        return "(no passages found)"
    return "\n".join(fence(f"[{i}] {p.citation}", p.text) for i, p in enumerate(passages, 1))


# -- the tool loop ------------------------------------------------------------------------------------------------
@dataclass
class Answer:
    text: str
    steps: list[Step] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    hit_step_limit: bool = False
    abstained: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Confirm = Callable[[str, dict[str, Any]], bool]


def _tool_messages(call: ToolCall, result: str) -> list[Message]:
    return [
        {"role": "assistant", "content": "", "tool_calls": [call.to_openai()]},
        {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": fence(call.name, result)},
    ]


def _fallback_system(system: str, schemas: list[dict[str, Any]]) -> str:
    """For backends without native tool calling: the schemas and the call format in the system prompt."""
    listing = "\n".join(json.dumps(s["function"], ensure_ascii=False) for s in schemas)
    return (
        f"{system}\n\nYou can call these tools:\n{listing}\n\nTo call one, reply with only "
        '<tool_call>{"name": "TOOL", "arguments": {...}}</tool_call> and wait for the result.'
    )


def _looks_like_failed_call(text: str) -> bool:
    stripped = text.strip()
    return "<tool_call>" in stripped or (stripped.startswith("{") and '"name"' in stripped)


def run_tools(
    backend: Backend,
    messages: list[Message],
    registry: ToolRegistry,
    config: GenerationConfig,
    *,
    max_steps: int = DEFAULT_STEPS,
    confirm: Confirm | None = None,
    on_step: Callable[[Step], None] | None = None,
    steps: list[Step] | None = None,
    grounded: bool = True,
) -> tuple[str, list[Step], bool]:
    """Let the model call tools until it answers or `max_steps` tool rounds have run.

    Returns (final text, steps, hit_step_limit). Calls to unknown tools, with bad arguments or (when
    `grounded`) with argument values found nowhere in the user's messages or earlier tool results are not run:
    the error goes back to the model. Tools with side effects run only when `confirm` says yes."""
    steps = steps if steps is not None else []
    schemas = registry.schemas()
    native = backend.native_tools
    history = list(messages)
    if not native and schemas and history and history[0]["role"] == "system":
        history[0] = {"role": "system", "content": _fallback_system(history[0]["content"], schemas)}
    repaired = False
    for _ in range(max_steps):
        completion = backend.chat(history, config, tools=schemas if native and schemas else None)
        calls = completion.tool_calls or (parse_tool_calls(completion.text, registry.names())[1] if schemas else [])
        if not calls:
            if schemas and not repaired and _looks_like_failed_call(completion.text):
                repaired = True
                history += [
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": "That tool call was not valid JSON. Call the tool again correctly."},
                ]
                continue
            return completion.text.strip(), steps, False
        context = context_of(history) if grounded else None
        for call in calls:
            step = registry.run(call.name, call.arguments, confirm=confirm, context=context)
            steps.append(step)
            if on_step:
                on_step(step)
            call.id = call.id or f"call_{len(steps)}"
            history += _tool_messages(call, step.result)
    # Out of steps: one last turn without tools, so the user still gets an answer from what was found.
    history.append({"role": "user", "content": "The tool step limit is reached. Answer now from the results above."})
    final = backend.chat(history, config)
    return final.text.strip(), steps, True


# -- the assistant ------------------------------------------------------------------------------------------------
def is_abstention(text: str) -> bool:
    """An empty reply or one that says it does not know (a bare number or date is an answer)."""
    normalized = re.sub(r"[^a-z ]", "", text.lower().replace("’", "'").replace("'", ""))
    return not text.strip() or normalized.strip().startswith(("i dont know", "unanswerable", "no answer"))


def cited_sources(text: str, passages: Sequence[Passage]) -> list[dict[str, Any]]:
    """The passages the answer cites as [n]; all passages shown, when it cites none explicitly."""
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    chosen = [(i, p) for i, p in enumerate(passages, 1) if i in cited] or list(enumerate(passages, 1))
    return [{"ref": i, **p.to_dict()} for i, p in chosen]


def ask(
    backend: Backend,
    question: str,
    *,
    index: DocumentIndex | None = None,
    registry: ToolRegistry | None = None,
    config: GenerationConfig | None = None,
    k: int = 4,
    max_steps: int = DEFAULT_STEPS,
    prompt: str = PROMPT,
    confirm: Confirm | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Answer:
    """Answer `question`: retrieve passages first (shown as a search_documents step), then let the model call
    the registry's tools, then attach the cited sources."""
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(prompt)
    config = config or spec.config()
    steps: list[Step] = []
    passages: list[Passage] = []
    if index is not None:
        passages = index.search(question, k=k)
        step = Step(
            "search_documents",
            {"query": question, "k": k},
            format_passages(passages),
            passages=[p.to_dict() for p in passages],
        )
        steps.append(step)
        if on_step:
            on_step(step)
    context = format_passages(passages) if index is not None else "(no document index selected)"
    messages = spec.render({"question": question, "context": context})
    with call_context(app="assistant", template=prompt):
        if registry is not None and registry.names():
            text, steps, hit_limit = run_tools(
                backend, messages, registry, config, max_steps=max_steps, confirm=confirm, on_step=on_step, steps=steps
            )
        else:
            text, hit_limit = backend.chat(messages, config).text.strip(), False
    for step in steps[1 if index is not None else 0 :]:
        passages.extend(_passages_of(step))
    return Answer(
        text=text,
        steps=steps,
        sources=cited_sources(text, passages) if passages and not is_abstention(text) else [],
        hit_step_limit=hit_limit,
        abstained=is_abstention(text),
    )


def _passages_of(step: Step) -> list[Passage]:
    from ganymede.apps.assistant.index import Passage

    return [Passage(**p) for p in step.passages]


# -- CLI -------------------------------------------------------------------------------------------------------------
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
        default="calculator,current_datetime",
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
    from ganymede.core.cliargs import status

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


def build_registry(
    names: str,
    *,
    index: DocumentIndex | None = None,
    api_specs: Sequence[str] = (),
    allow_urls: Sequence[str] = (),
    allow_private: bool = False,
    backend: Backend | None = None,
) -> ToolRegistry:
    from ganymede.apps.assistant.tools import default_registry

    registry = default_registry(
        index=index, api_specs=api_specs, allow_urls=allow_urls, allow_private=allow_private, backend=backend
    )
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    if "all" in wanted:
        return registry
    if index is not None:
        wanted.add("search_documents")
    unknown = wanted - set(registry.names()) - {"none"}
    if unknown:
        raise GanymedeError(
            f"unknown or unavailable tool(s): {', '.join(sorted(unknown))}",
            f"available: {', '.join(registry.names())}",
        )
    return registry.only(wanted)


def _ask_confirm(name: str, arguments: dict[str, Any]) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"Allow tool {name} with {json.dumps(arguments)}? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def run_ask_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.assistant.index import open_index
    from ganymede.core.prompts import load_prompt

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

    def show(step: Step) -> None:
        if not args.json:
            status = "" if step.ok else " (failed)"
            print(f"→ {step.tool}({json.dumps(step.arguments, ensure_ascii=False)}){status}", file=sys.stderr)
            print("  " + step.result[:400].replace("\n", "\n  "), file=sys.stderr)

    answer = ask(
        backend,
        args.question,
        index=index,
        registry=registry,
        config=config,
        k=args.k,
        max_steps=args.max_steps,
        confirm=(lambda name, arguments: True) if args.yes else _ask_confirm,
        on_step=show,
    )
    if args.json:
        print_json(answer.to_dict())
        return 0
    print(answer.text)
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
    rag.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid", help="retrieval (default hybrid)")
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


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        for row in rows:
            tmp.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp.name, path)


def predict_calls(
    backend: Backend,
    item: Any,
    config: GenerationConfig,
    system: str,
    check: bool = False,
    grounded: bool = True,
) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """One BFCL item through the backend's tool calling, as the assistant would run it: (the calls made, the
    model's text, the calls left out). Names are mapped back to the schema's own spelling when the model
    swapped dots for underscores. With `grounded` (the assistant's default), a call whose argument values
    appear nowhere in the question is left out, as `run_tools` would not run it; with `check`, the calls count
    only when the model confirms them (`calls_confirmed`)."""
    from ganymede.apps.evaluation.tools import openai_tools

    messages = [dict(m) for m in item.messages]
    if messages and messages[0]["role"] == "system":
        messages[0]["content"] = f"{system}\n\n{messages[0]['content']}"
    else:
        messages.insert(0, {"role": "system", "content": system})
    tools = openai_tools(item.functions)
    completion: Completion = backend.chat(messages, config, tools=tools)
    spelled = {f["name"].replace(".", "_"): f["name"] for f in item.functions}
    parameters = {f["name"]: f.get("parameters", {}) for f in item.functions}
    context = context_of(messages)
    kept: list[ToolCall] = []
    left_out: list[dict[str, Any]] = []
    for call in completion.tool_calls:
        name = spelled.get(call.name, call.name)
        if grounded and invented_values(call.arguments, parameters.get(name, {}), context):
            left_out.append({"name": name, "arguments": call.arguments})
        else:
            kept.append(call)
    calls = [{"name": spelled.get(c.name, c.name), "arguments": c.arguments} for c in kept]
    if check and kept and not calls_confirmed(backend, messages, kept, tools):  # only the calls that would run
        return [], completion.text, left_out + calls
    return calls, completion.text, left_out


def calls_confirmed(
    backend: Backend, messages: list[Message], calls: Sequence[ToolCall], tools: list[dict[str, Any]]
) -> bool:
    """Ask the model, as a follow-up turn, whether the functions it called do what was asked. The calls are
    shown as the `<tool_call>` blocks Qwen's template writes, and the tools are passed again, so the prompt up
    to the reply is the same and a backend's prompt cache skips it."""
    shown = "\n".join(
        f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': c.arguments}, ensure_ascii=False)}\n</tool_call>"
        for c in calls
    )
    reply = _follow_up(backend, messages, shown, TOOLS_CHECK_PROMPT, {}, tools)
    # A model that calls the function again instead of answering stands by its call.
    return bool(reply.tool_calls) or reply.text.strip().lower().startswith("yes")


def _follow_up(
    backend: Backend,
    messages: list[Message],
    reply: str,
    prompt: str,
    variables: dict[str, Any],
    tools: list[dict[str, Any]] | None = None,
) -> Completion:
    """The model's answer to `prompt`'s question, asked after its own `reply` in the same conversation: the
    prompt up to the reply is unchanged, so a backend's prompt cache does not process it again."""
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(prompt)
    question = [m for m in spec.render(variables) if m["role"] == "user"]
    turn: list[Message] = [{"role": "assistant", "content": reply}, *question]
    with call_context(app="assistant", template=prompt):
        return backend.chat([*messages, *turn], spec.config(), tools=tools)


def run_tools_eval_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.evaluation.tools import check_item, load_bfcl, summarize
    from ganymede.core.prompts import load_prompt

    items = load_bfcl(args.data, args.answers)[: args.limit]
    spec = load_prompt(args.prompt)
    config = config_from_args(spec.config(), args)
    backend = load_backend_from_args(args)
    rows: list[dict[str, Any]] = []
    with _progress() as progress, call_context(app="assistant", template=spec.name):
        task = progress.add_task(f"BFCL {args.data.stem}", total=len(items))
        for item in items:
            try:
                calls, text, left_out = predict_calls(
                    backend, item, config, spec.system, check=args.check, grounded=not args.no_grounding
                )
                correct, reason = check_item(item, calls)
                row = {"id": item.id, "correct": correct, "reason": reason, "calls": calls, "text": text}
                rows.append(row | {"left_out": left_out} if left_out else row)
            except GanymedeError as exc:  # e.g. a schema too long for the context window: wrong, and reported
                rows.append({"id": item.id, "correct": False, "reason": f"error: {exc}", "calls": [], "text": ""})
            progress.advance(task)
    if args.output:
        _write_jsonl(args.output, rows)
    metrics = summarize(rows) | {"model": backend.ref.raw, "data": str(args.data)}
    errors = sum(r["reason"].startswith("error:") for r in rows)
    if errors:
        metrics["errors"] = errors
    if not args.json:
        print(f"AST accuracy {metrics['accuracy']:.3f} over {metrics['n']} items ({args.data.name})")
    print_json(metrics)
    return 0


def run_rag_eval_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.assistant.index import DocumentIndex
    from ganymede.apps.evaluation.rag import best_f1_em, load_squad, summarize
    from ganymede.core.cliargs import status
    from ganymede.core.prompts import load_prompt

    articles, questions = load_squad(args.data)
    questions = questions[: args.limit]
    if args.k < args.context_k:
        raise GanymedeError("--context-k cannot exceed --k", "the model reads a subset of the retrieved passages")
    spec = load_prompt(QA_PROMPT)
    config = config_from_args(spec.config(), args)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ganymede-squad-") as tmp:
        index = DocumentIndex(Path(tmp) / "squad.db")
        with status(f"indexing {sum(len(a) for a in articles.values())} paragraphs"):
            index.add_texts(
                (f"{title}/{number}", text) for title, paragraphs in articles.items() for number, text in paragraphs
            )
        backend = None if args.retrieval_only else load_backend_from_args(args)
        rows: list[dict[str, Any]] = []
        with _progress() as progress:
            task = progress.add_task("SQuAD", total=len(questions))
            for q in questions:
                passages = index.search(q.question, k=args.k, mode=args.mode)
                retrieved = [p.source for p in passages]
                prediction = reply = ""
                if backend is not None:
                    try:
                        answer = answer_from_passages(
                            backend, q.question, passages[: args.context_k], config, check=not args.no_check
                        )
                        prediction, reply = ("" if answer.abstained else answer.text), answer.text
                    except GanymedeError as exc:
                        print(f"{q.id}: {exc}", file=sys.stderr)
                em, f1 = best_f1_em(prediction, q.answers)
                rows.append(
                    {
                        "id": q.id,
                        "question": q.question,
                        "gold_source": q.source,
                        "retrieved": retrieved,
                        "prediction": prediction,
                        "reply": reply,  # what the model said, before an abstention
                        "answers": q.answers,
                        "em": em,
                        "f1": f1,
                    }
                )
                progress.advance(task)
    if args.output:
        _write_jsonl(args.output, rows)
    metrics = summarize(rows, k=args.k) | {"retrieval": args.mode, "data": str(args.data)}
    if backend is None:
        metrics = {key: value for key, value in metrics.items() if key.startswith(("n", "recall", "retrieval", "data"))}
        metrics.pop("no_answer", None)
        if not args.json:
            print(f"recall@{args.k} {metrics[f'recall@{args.k}']:.3f} over {metrics['n']} questions")
        print_json(metrics)
        return 0
    metrics["model"] = backend.ref.raw
    if not args.json:
        recall = metrics[f"recall@{args.k}"]
        print(f"recall@{args.k} {recall:.3f}  EM {metrics['exact_match']:.3f}  F1 {metrics['f1']:.3f}")
    print_json(metrics)
    return 0


def answer_from_passages(
    backend: Backend,
    question: str,
    passages: Sequence[Passage],
    config: GenerationConfig,
    prompt: str = QA_PROMPT,
    check: bool = True,
) -> Answer:
    """A short answer from passages already retrieved (what `ganymede eval rag` scores). With `check`, the
    answer is given only when it is found in the passages and the model, asked again in the same conversation,
    confirms the passages state it; otherwise the assistant abstains."""
    from ganymede.core.prompts import load_prompt

    messages = load_prompt(prompt).render({"question": question, "context": format_passages(passages)})
    with call_context(app="assistant", template=prompt):
        text = backend.chat(messages, config).text.strip()
        abstained = is_abstention(text)
        if check and not abstained:
            abstained = not (found_in(text, passages) and confirmed(backend, messages, question, text))
    return Answer(text=text, sources=[] if abstained else cited_sources(text, passages), abstained=abstained)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


_JOINERS = {"and", "or", "the", "a", "an", "of"}  # words a re-punctuated list may drop or add


def found_in(answer: str, passages: Sequence[Passage]) -> bool:
    """The short answer occurs in one of the passages (case, punctuation and spacing aside), as a phrase or,
    for a list the model re-punctuated ("Denmark, Iceland, Norway"), as every one of its words."""
    wanted = _words(re.sub(r"\[\d+\]", "", answer))
    if not wanted:
        return False
    for passage in passages:
        text = f" {_words(passage.text)} "
        if f" {wanted} " in text or all(f" {word} " in text for word in wanted.split() if word not in _JOINERS):
            return True
    return False


def confirmed(backend: Backend, messages: list[Message], question: str, answer: str) -> bool:
    """Ask the model, as a follow-up turn, whether the passages state `answer` for `question`."""
    reply = _follow_up(backend, messages, answer, CHECK_PROMPT, {"question": question, "answer": answer})
    return reply.text.strip().lower().startswith("yes")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
