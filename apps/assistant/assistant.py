"""Assistant: answers questions by looking things up in the user's documents and calling tools and APIs,
showing every tool call and result and citing its sources (file and chunk).

Shape: preprocess (retrieve passages, fence them as data) -> model call in a tool loop with a step limit ->
postprocess (citations, abstention). The commands are in cli.py, the BFCL and SQuAD runners in evaluate.py;
the tools and their selection by name in tools/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ganymede.apps.assistant.tools import Step
from ganymede.apps.assistant.tools.grounding import context_of
from ganymede.core.calllog import call_context
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
DEFAULT_STEPS = 4


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


# -- short answers from retrieved passages (what `ganymede eval rag` scores) ------------------------------
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
    reply = follow_up(backend, messages, answer, CHECK_PROMPT, {"question": question, "answer": answer})
    return reply.text.strip().lower().startswith("yes")


def follow_up(
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
