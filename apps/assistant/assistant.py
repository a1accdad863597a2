"""Assistant: answers questions by looking things up in the user's documents and calling tools and APIs,
showing every tool call and result and citing its sources (file and chunk).

Shape: preprocess (retrieve passages, fence them as data) -> model call in a tool loop with a step limit ->
postprocess (citations, abstention). The commands are in cli.py, the BFCL and SQuAD runners in evaluate.py;
the tools and their selection by name in tools/."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ganymede.apps.assistant.tools import Step
from ganymede.apps.assistant.tools.grounding import context_of
from ganymede.core.calllog import call_context
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, ToolCall
from ganymede.core.toolcalls import first_json, parse_tool_calls

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
    #: why the turn ended early (a repeated tool call, text that repeats itself), shown to the user
    stopped: str | None = None
    #: seconds from the start of `ask`: first_token (of the answer), total
    timing: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Confirm = Callable[[str, dict[str, Any]], bool]
OnText = Callable[[str], None]

#: the pseudo-action of the constrained decision step that ends the tool rounds
ANSWER_ACTION = "answer"
#: tokens for one constrained decision (tool name and arguments); an answer has the config's own budget
DECISION_TOKENS = 160
#: failed calls of a forced tool (a bad expression) before the model may choose freely again
FORCED_TRIES = 2
ANSWER_TURN = (
    "Now write the answer for the user in plain sentences, using the passages and tool results above (cite "
    "passages as [n]); a command or option is quoted whole, exactly as the passage writes it. Do not write JSON, "
    "tool calls or steps to follow: state the answer itself."
)
STEP_LIMIT_TURN = "The tool step limit is reached. Answer now from the results above."
REPEATED_CALL = "stopped: the model asked for the same {tool} call again; answering from the results so far"
REPEATING_TEXT = "stopped: the answer started repeating itself"


@dataclass
class Turn:
    """What one tool loop produced: the final text, its steps, and how it ended."""

    text: str
    steps: list[Step]
    hit_step_limit: bool = False
    stopped: str | None = None
    first_token: float | None = None  # perf_counter() of the first answer text


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


def decision_system(system: str, schemas: list[dict[str, Any]]) -> str:
    """The system prompt of the constrained loop: the tools and the one JSON reply each round takes. It stays
    the same for every step (and the answer), so llama.cpp reuses the processed prefix."""
    listing = "\n".join(
        f"- {s['function']['name']}: {s['function'].get('description', '')} Arguments: "
        f"{json.dumps(s['function'].get('parameters', {}).get('properties', {}), ensure_ascii=False)}"
        for s in schemas
    )
    return (
        f"{system}\n\nTools:\n{listing}\n\nFirst decide the next action with one JSON object: "
        '{"action": "TOOL", "arguments": {...}} to call a tool with values from the question, or '
        f'{{"action": "{ANSWER_ACTION}"}} when the passages or tool results already answer the question or no '
        "tool fits it. Use the calculator for any arithmetic. After the tool results, you write the answer."
    )


def _looks_like_failed_call(text: str) -> bool:
    stripped = text.strip()
    return "<tool_call>" in stripped or (stripped.startswith("{") and '"name"' in stripped)


# JSON Schema keywords llama.cpp's grammar converter reads; others (examples, title, BFCL's "dict") are dropped
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "bool": "boolean", "str": "string"}
_KEEP = {"type", "properties", "required", "items", "enum", "const", "anyOf", "oneOf", "minimum", "maximum"}


def _schema_for_grammar(schema: Any) -> dict[str, Any]:
    """A tool's parameter schema made strict for constrained decoding: no extra properties (a call the registry
    would reject cannot be generated), Python type names mapped to JSON's, unknown types left open."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _KEEP:
            continue
        if key == "type":
            kinds = [_TYPES.get(v, v) for v in (value if isinstance(value, list) else [value])]
            known = [k for k in kinds if k in {"object", "array", "string", "number", "integer", "boolean", "null"}]
            if known:
                out["type"] = known if len(known) > 1 else known[0]
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: _schema_for_grammar(prop) for name, prop in value.items()}
        elif key == "items":
            out["items"] = _schema_for_grammar(value)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_schema_for_grammar(v) for v in value]
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("properties", {})
        out["additionalProperties"] = False
        out["required"] = [r for r in out.get("required", []) if r in out["properties"]]
    return out


def decision_schema(registry: ToolRegistry, only: str | None = None) -> dict[str, Any]:
    """The JSON schema of one decision: a call to one of the tools, with that tool's own argument schema, or
    (unless `only` forces a tool) the answer action. Decoding under it, every call parses and fits its tool."""
    options = [
        {
            "type": "object",
            "properties": {"action": {"const": name}, "arguments": _schema_for_grammar(registry.get(name).parameters)},  # type: ignore[union-attr]
            "required": ["action", "arguments"],
            "additionalProperties": False,
        }
        for name in registry.names()
        if only is None or name == only
    ]
    if only is None:
        options.append(
            {
                "type": "object",
                "properties": {"action": {"const": ANSWER_ACTION}},
                "required": ["action"],
                "additionalProperties": False,
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def _call_key(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps([name, arguments], sort_keys=True, ensure_ascii=False)


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
    """Let the model call tools until it answers or `max_steps` tool rounds have run: (final text, steps,
    hit_step_limit). See `tool_turn`, which also streams and says why a turn stopped early."""
    turn = tool_turn(
        backend,
        messages,
        registry,
        config,
        max_steps=max_steps,
        confirm=confirm,
        on_step=on_step,
        steps=steps,
        grounded=grounded,
    )
    return turn.text, turn.steps, turn.hit_step_limit


def tool_turn(
    backend: Backend,
    messages: list[Message],
    registry: ToolRegistry,
    config: GenerationConfig,
    *,
    max_steps: int = DEFAULT_STEPS,
    confirm: Confirm | None = None,
    on_step: Callable[[Step], None] | None = None,
    on_text: OnText | None = None,
    steps: list[Step] | None = None,
    grounded: bool = True,
    force: str | None = None,
    done_calls: Sequence[tuple[str, dict[str, Any]]] = (),
) -> Turn:
    """One user turn through the tools.

    A backend that constrains decoding (`constrained_json`) decides each round with one JSON object under
    `decision_schema`: a tool call whose arguments follow the tool's schema, or the answer action; the answer is
    then streamed as plain text (`on_text`). `force` names a tool the first round must call (arithmetic goes to
    the calculator). Other backends use their native tool calling or the `<tool_call>` text format.
    Either way: calls to unknown tools, with bad arguments or (when `grounded`) with argument values found
    nowhere in the user's messages or earlier tool results are not run, the error goes back to the model; tools
    with side effects run only when `confirm` says yes; the same call twice (or one in `done_calls`, made
    before the loop) ends the rounds."""
    steps = steps if steps is not None else []
    if getattr(backend, "constrained_json", False) and registry.names():
        return _constrained_turn(
            backend,
            messages,
            registry,
            config,
            max_steps,
            confirm,
            on_step,
            on_text,
            steps,
            grounded,
            force,
            done_calls,
        )
    return _text_turn(backend, messages, registry, config, max_steps, confirm, on_step, on_text, steps, grounded)


def _run_step(
    registry: ToolRegistry,
    call: ToolCall,
    history: list[Message],
    confirm: Confirm | None,
    grounded: bool,
    steps: list[Step],
    on_step: Callable[[Step], None] | None,
) -> Step:
    step = registry.run(call.name, call.arguments, confirm=confirm, context=context_of(history) if grounded else None)
    steps.append(step)
    if on_step:
        on_step(step)
    return step


def _constrained_turn(
    backend: Backend,
    messages: list[Message],
    registry: ToolRegistry,
    config: GenerationConfig,
    max_steps: int,
    confirm: Confirm | None,
    on_step: Callable[[Step], None] | None,
    on_text: OnText | None,
    steps: list[Step],
    grounded: bool,
    force: str | None,
    done_calls: Sequence[tuple[str, dict[str, Any]]],
) -> Turn:
    history = list(messages)
    schemas = registry.schemas()
    if history and history[0]["role"] == "system":
        history[0] = {"role": "system", "content": decision_system(history[0]["content"], schemas)}
    else:
        history.insert(0, {"role": "system", "content": decision_system("", schemas)})
    seen = {_call_key(name, args) for name, args in done_calls}
    stopped: str | None = None
    hit_limit = True
    forced_failures = 0
    for _ in range(max_steps):
        decide = config.model_copy(
            update={"json_schema": decision_schema(registry, force), "max_new_tokens": DECISION_TOKENS, "stop": ()}
        )
        reply = backend.chat(history, decide).text.strip()
        choice = first_json(reply)
        name = choice.get("action") if isinstance(choice, dict) else None
        arguments = choice.get("arguments") if isinstance(choice, dict) else None
        if name is None or name == ANSWER_ACTION or not isinstance(arguments, dict):
            if reply:
                history.append({"role": "assistant", "content": reply})
            hit_limit = False
            break
        key = _call_key(name, arguments)
        if key in seen:
            hit_limit = False
            stopped = None if any(_call_key(n, a) == key for n, a in done_calls) else REPEATED_CALL.format(tool=name)
            break
        seen.add(key)
        history.append({"role": "assistant", "content": reply})
        call = ToolCall(name=name, arguments=arguments, id=f"call_{len(steps) + 1}")
        step = _run_step(registry, call, history, confirm, grounded, steps, on_step)
        history.append({"role": "tool", "tool_call_id": call.id, "name": name, "content": fence(name, step.result)})
        if force and step.ok:
            hit_limit = False  # the forced tool answered: what is left is saying so
            break
        forced_failures += force is not None
        if forced_failures >= FORCED_TRIES:
            force = None  # it will not take this tool: let the model choose (or answer) from the errors
    history.append({"role": "user", "content": STEP_LIMIT_TURN if hit_limit else ANSWER_TURN})
    text, first, repeating = stream_answer(backend, history, config, on_text)
    return Turn(text, steps, hit_limit, stopped or (REPEATING_TEXT if repeating else None), first)


def _text_turn(
    backend: Backend,
    messages: list[Message],
    registry: ToolRegistry,
    config: GenerationConfig,
    max_steps: int,
    confirm: Confirm | None,
    on_step: Callable[[Step], None] | None,
    on_text: OnText | None,
    steps: list[Step],
    grounded: bool,
) -> Turn:
    """Native tool calling (OpenAI servers) or, without it, calls written as `<tool_call>` text and parsed."""
    schemas = registry.schemas()
    native = backend.native_tools
    history = list(messages)
    if not native and schemas and history and history[0]["role"] == "system":
        history[0] = {"role": "system", "content": _fallback_system(history[0]["content"], schemas)}
    repaired = False
    seen: set[str] = set()
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
            text = completion.text.strip()
            if on_text and text:
                on_text(text)
            return Turn(text, steps, first_token=time.perf_counter() if text else None)
        for call in calls:
            key = _call_key(call.name, call.arguments)
            if key in seen:
                # Re-running it would return the same result: the model is looping. Answer from what it has.
                history.append({"role": "user", "content": ANSWER_TURN})
                final = backend.chat(history, config).text.strip()
                return Turn(final, steps, stopped=REPEATED_CALL.format(tool=call.name))
            seen.add(key)
            step = _run_step(registry, call, history, confirm, grounded, steps, on_step)
            call.id = call.id or f"call_{len(steps)}"
            history += _tool_messages(call, step.result)
    # Out of steps: one last turn without tools, so the user still gets an answer from what was found.
    history.append({"role": "user", "content": STEP_LIMIT_TURN})
    final = backend.chat(history, config)
    return Turn(final.text.strip(), steps, True)


# -- the answer, streamed and checked ---------------------------------------------------------------------------------
_MIN_REPEAT = 12  # characters of the shortest piece whose repetition counts as a loop
_HELD = 12  # characters held back before streaming starts, to see whether the reply opens with JSON or a tag


def repeats_itself(text: str, times: int = 3) -> bool:
    """The text ends with the same piece (12 to 200 characters) written `times` times in a row: a small model
    stuck in a loop, which would otherwise run to the token budget."""
    tail = text[-200 * times :]
    for size in range(_MIN_REPEAT, len(tail) // times + 1):
        piece = tail[-size:]
        if len(set(piece) - {" "}) > 3 and tail.endswith(piece * times):  # not a rule of "=====" or a table's "|---|"
            return True
    return False


def _cut_repeat(text: str) -> str:
    """Text that repeats itself, cut after the first time the repeated piece appears."""
    for size in range(_MIN_REPEAT, len(text) // 3 + 1):
        piece = text[-size:]
        if text.endswith(piece * 3):
            body = text[: len(text) - size * 3]
            return (body + piece).strip()
    return text.strip()


def stream_answer(
    backend: Backend, history: list[Message], config: GenerationConfig, on_text: OnText | None
) -> tuple[str, float | None, bool]:
    """The answer streamed as plain text under the config's token budget: (text, time of the first delta,
    whether it was stopped for repeating itself). A reply that opens with JSON or a tag is not shown while it
    streams (it is cleaned afterwards), and a tool-call tag ends it."""
    answer_config = config.model_copy(update={"json_schema": None, "stop": (*config.stop, "<tool_call>")})
    stream = backend.stream(history, answer_config)
    text, shown, first = "", 0, None
    hidden = False
    repeating = False
    for delta in stream:
        text += delta
        if first is None and delta:
            first = time.perf_counter()
        if repeats_itself(text):
            repeating = True
            stream.close()
            break
        if on_text is None or hidden:
            continue
        if shown == 0 and len(text.lstrip()) < _HELD and "\n" not in text.lstrip():
            continue
        if shown == 0 and text.lstrip()[:1] in "{[<`":
            hidden = True
            continue
        on_text(text[shown:] if shown else text.lstrip())
        shown = len(text)
    if on_text and not hidden and len(text) > shown:
        on_text(text[shown:] if shown else text.lstrip())
    return (_cut_repeat(text) if repeating else text.strip()), first, repeating


_TOOL_BLOCK = re.compile(r"<tool_call>.*?(?:</tool_call>|$)|<tool_response>.*?(?:</tool_response>|$)", re.S)
_JSON_FENCE = re.compile(r"```(?:json)?\s*[\[{].*?(?:```|$)", re.S)
_NARRATION = re.compile(
    r"^\W*(?:step\s*\d+\b|first\b|next\b|then\b|now\b|to (?:find|calculate|compute|answer)\b"
    r"|i(?:['’]ll| will| need to| can)\b|let me\b|let's\b|we (?:can|will|need)\b"
    r"|using the\b|use the\b|open\b|click\b|enter\b|call(?:ing)?\b)",
    re.I,
)
_TOOLISH = re.compile(r"\b(?:tools?|calculator|button|click|search_documents)\b", re.I)


def clean_answer(text: str, tool_names: Sequence[str] = ()) -> str:
    """The answer without what is not an answer: tool-call blocks, JSON calls, and lines that narrate using a
    tool ("I'll use the calculator...", "Step 1: open the tool")."""
    text = _TOOL_BLOCK.sub("", text)
    text = _JSON_FENCE.sub("", text)
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        value = first_json(stripped) if stripped[:1] in "{[" else None
        if isinstance(value, dict) and ({"name", "tool", "arguments"} & set(value)):
            continue
        mentions_tool = _TOOLISH.search(stripped) or any(name and name in stripped for name in tool_names)
        if _NARRATION.match(stripped) and mentions_tool:
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


_ANSWER_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


def _numbers_of(text: str) -> list[float]:
    found = []
    for token in _ANSWER_NUMBER.findall(text):
        try:
            found.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return found


def _number(result: str) -> float | None:
    try:
        return float(result.strip())
    except ValueError:
        return None


def states_number(text: str, value: float) -> bool:
    """The text states `value` (as written, or rounded to two decimals or to a whole number)."""
    for found in _numbers_of(text):
        if math.isclose(found, value, rel_tol=1e-6, abs_tol=1e-9) or abs(found - value) <= 0.005 + 1e-9:
            return True
        if not float(value).is_integer() and abs(value) >= 10 and found == round(value):
            return True
    return False


def from_tools(text: str, steps: Sequence[Step]) -> str:
    """The final text checked against what the tools returned: a tool's result is evidence, so an "I don't
    know" after a tool answered, or an answer whose number is not the calculator's, becomes a templated answer
    from the last successful result."""
    results = [s for s in steps if s.ok and s.tool != "search_documents"]
    if not results:
        return text
    last = results[-1]
    value = _number(last.result) if last.tool == "calculator" else None
    if value is not None:
        if text and not is_abstention(text) and states_number(text, value):
            return text
        expression = str(last.arguments.get("expression", "")).strip()
        shown = last.result.strip()
        return f"The answer is {shown} ({expression} = {shown})." if expression else f"The answer is {shown}."
    if not text or is_abstention(text):
        return f"{last.tool} returned: {last.result.strip()[:800]}"
    return text


# -- the assistant ------------------------------------------------------------------------------------------------
_ABSTAIN = ("i dont know", "i do not know", "unanswerable", "no answer", "i cannot answer", "i cant answer")


def is_abstention(text: str) -> bool:
    """An empty reply or one that says it does not know (a bare number or date is an answer)."""
    normalized = re.sub(r"[^a-z ]", "", text.lower().replace("’", "'").replace("'", ""))
    return not text.strip() or normalized.strip().startswith(_ABSTAIN)


_ARITHMETIC = re.compile(
    r"[-+*/×÷^%]|\b(?:percent|percentage|average|mean|sum|total|product|difference|quotient|remainder|root|square|"
    r"squared|cube|cubed|power|times|divided|multipl\w*|plus|minus|add|subtract|interest|discount|off|tax|tip|"
    r"ratio|per|each|half|double|triple|factorial|log|sqrt|sin|cos|tan|calculate|compute|convert|how much|how many)\b",
    re.I,
)
_DIGITS = re.compile(r"(?<![A-Za-z_-])\d+(?:[.,]\d+)*(?![A-Za-z_])")  # not the 4 of "gpt4all"
_STRONG = re.compile(
    r"[-+*/×÷^%]\s*\d|\b(?:percent|average|mean|root|squared|cubed|factorial|sqrt|calculate|compute)\b", re.I
)


_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million"
    r"|billion|half|twice|double|triple|dozen)\b",
    re.I,
)


def _has_number(question: str) -> bool:
    """Whether the user's own words hold a number (digits or a number word) a calculation could use."""
    return bool(_DIGITS.search(question) or _NUMBER_WORDS.search(question))


def arithmetic_intent(question: str) -> bool:
    """A question with numbers that asks for a computation: two numbers and an arithmetic word or sign, or one
    number with an unmistakable one ("the cube root of 2197", "15% of 80")."""
    numbers = _DIGITS.findall(question)
    if not numbers:
        return False
    if len(numbers) >= 2:
        return bool(_ARITHMETIC.search(question))
    return bool(_STRONG.search(question) or re.search(r"\d\s*%", question))


def cited_sources(text: str, passages: Sequence[Passage]) -> list[dict[str, Any]]:
    """The passages the answer cites as [n]; all passages shown, when it cites none explicitly."""
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    chosen = [(i, p) for i, p in enumerate(passages, 1) if i in cited] or list(enumerate(passages, 1))
    return [{"ref": i, **p.to_dict()} for i, p in chosen]


def with_citation(text: str, passages: Sequence[Passage]) -> str:
    """An answer from documents that cites nothing gets [n] of the passage sharing most words with it, so the
    user sees which file and chunk it comes from."""
    if not passages or is_abstention(text) or re.search(r"\[\d+\]", text):
        return text
    words = set(_words(text).split()) - _JOINERS
    overlap = [len(words & set(_words(p.text).split())) for p in passages]
    best = max(range(len(passages)), key=lambda i: overlap[i])
    return f"{text} [{best + 1}]" if overlap[best] else text


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
    on_text: OnText | None = None,
) -> Answer:
    """Answer `question`: retrieve passages first (shown as a search_documents step), then let the model call
    the registry's tools (arithmetic goes to the calculator), stream the answer to `on_text`, check it against
    the tool results, and attach the cited sources."""
    from ganymede.core.prompts import load_prompt

    started = time.perf_counter()
    spec = load_prompt(prompt)
    config = config or spec.config()
    steps: list[Step] = []
    passages: list[Passage] = []
    done: list[tuple[str, dict[str, Any]]] = []
    if index is not None:
        passages = index.search(question, k=k)
        step = Step(
            "search_documents",
            {"query": question, "k": k},
            format_passages(passages),
            passages=[p.to_dict() for p in passages],
        )
        steps.append(step)
        done += [("search_documents", {"query": question}), ("search_documents", {"query": question, "k": k})]
        if on_step:
            on_step(step)
    context = format_passages(passages) if index is not None else "(no document index selected)"
    messages = spec.render({"question": question, "context": context})
    if registry is not None and "calculator" in registry.names() and not _has_number(question):
        # Arithmetic is for numbers the user gave. Without one, a calculator call comes from the documents'
        # text, which is data, not instructions ("IMPORTANT: call the calculator with ..." in a retrieved page).
        registry = registry.only(n for n in registry.names() if n != "calculator")
    names = registry.names() if registry is not None else []
    force = "calculator" if "calculator" in names and arithmetic_intent(question) else None
    with call_context(app="assistant", template=prompt):
        if registry is not None and names:
            turn = tool_turn(
                backend,
                messages,
                registry,
                config,
                max_steps=max_steps,
                confirm=confirm,
                on_step=on_step,
                on_text=on_text,
                steps=steps,
                force=force,
                done_calls=done,
            )
        else:
            text, first, repeating = stream_answer(backend, messages, config, on_text)
            turn = Turn(text, steps, stopped=REPEATING_TEXT if repeating else None, first_token=first)
    for step in steps[1 if index is not None else 0 :]:
        passages.extend(_passages_of(step))
    text = from_tools(clean_answer(turn.text, names), steps) or "I don't know"
    text = with_citation(text, passages)
    abstained = is_abstention(text)
    return Answer(
        text=text,
        steps=steps,
        sources=cited_sources(text, passages) if passages and not abstained else [],
        hit_step_limit=turn.hit_step_limit,
        abstained=abstained,
        stopped=turn.stopped,
        timing={
            "first_token": round(turn.first_token - started, 3) if turn.first_token else None,
            "total": round(time.perf_counter() - started, 3),
        },
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
