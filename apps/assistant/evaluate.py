"""The assistant measured on public data, each item run the way the assistant runs it: function calling on the
Berkeley Function Calling Leaderboard (`ganymede eval tools`) and retrieval QA on SQuAD 2.0 (`ganymede eval rag`).
The metrics and the data loading are pure functions in apps/evaluation/ (tools.py, rag.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.assistant.assistant import QA_PROMPT, answer_from_passages, follow_up
from ganymede.apps.assistant.tools.grounding import context_of, invented_values
from ganymede.core.calllog import call_context
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, ToolCall

if TYPE_CHECKING:
    from ganymede.apps.assistant.index import DocumentIndex
    from ganymede.apps.evaluation.rag import SquadQuestion
    from ganymede.apps.evaluation.tools import BfclItem
    from ganymede.core.backends.base import Backend

TOOLS_PROMPT = "assistant_tools"
TOOLS_CHECK_PROMPT = "assistant_tools_check"

Advance = Callable[[int], None]


def write_predictions(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Per-item rows as JSONL, written atomically."""
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))


# -- BFCL: function calling ------------------------------------------------------------------------------------
def predict_calls(
    backend: Backend,
    item: BfclItem,
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
    reply = follow_up(backend, messages, shown, TOOLS_CHECK_PROMPT, {}, tools)
    # A model that calls the function again instead of answering stands by its call.
    return bool(reply.tool_calls) or reply.text.strip().lower().startswith("yes")


def evaluate_tools(
    backend: Backend,
    items: Sequence[BfclItem],
    *,
    prompt: str = TOOLS_PROMPT,
    config: GenerationConfig | None = None,
    check: bool = False,
    grounded: bool = True,
    advance: Advance | None = None,
) -> list[dict[str, Any]]:
    """Per-item rows {id, correct, reason, calls, text[, left_out]}; an item the backend fails on (e.g. a schema
    too long for the context window) is wrong, with the error as its reason. `advance(1)` after each item."""
    from ganymede.apps.evaluation.tools import check_item
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(prompt)
    config = config or spec.config()
    rows: list[dict[str, Any]] = []
    with call_context(app="assistant", template=spec.name):
        for item in items:
            try:
                calls, text, left_out = predict_calls(
                    backend, item, config, spec.system, check=check, grounded=grounded
                )
                correct, reason = check_item(item, calls)
                row = {"id": item.id, "correct": correct, "reason": reason, "calls": calls, "text": text}
                rows.append(row | {"left_out": left_out} if left_out else row)
            except GanymedeError as exc:
                rows.append({"id": item.id, "correct": False, "reason": f"error: {exc}", "calls": [], "text": ""})
            if advance:
                advance(1)
    return rows


def tools_metrics(rows: list[dict[str, Any]], *, model: str, data: str) -> dict[str, Any]:
    """Accuracy overall and per category, the model and data named, and how many items failed with an error."""
    from ganymede.apps.evaluation.tools import summarize

    metrics = summarize(rows) | {"model": model, "data": data}
    errors = sum(r["reason"].startswith("error:") for r in rows)
    if errors:
        metrics["errors"] = errors
    return metrics


# -- SQuAD 2.0: retrieval QA --------------------------------------------------------------------------------------
def index_paragraphs(
    articles: Mapping[str, Sequence[tuple[int, str]]], path: Path, embed: Callable[[list[str]], Any] | None = None
) -> DocumentIndex:
    """A document index at `path` with every paragraph as a source named "<title>/<paragraph number>", the
    name SquadQuestion.source gives the gold paragraph (`embed`: the bundled MiniLM unless given)."""
    from ganymede.apps.assistant.index import DocumentIndex

    index = DocumentIndex(path, embed=embed)
    index.add_texts(
        (f"{title}/{number}", text) for title, paragraphs in articles.items() for number, text in paragraphs
    )
    return index


def _print_error(question_id: str, error: GanymedeError) -> None:
    print(f"{question_id}: {error}", file=sys.stderr)


def evaluate_rag(
    index: DocumentIndex,
    questions: Sequence[SquadQuestion],
    backend: Backend | None,
    *,
    k: int = 5,
    context_k: int = 2,
    mode: str = "hybrid",
    check: bool = True,
    config: GenerationConfig | None = None,
    advance: Advance | None = None,
    on_error: Callable[[str, GanymedeError], None] = _print_error,
) -> list[dict[str, Any]]:
    """Per-question rows {id, question, gold_source, retrieved, prediction, reply, answers, em, f1}: `k`
    passages retrieved with `mode`, the first `context_k` read by the model (`answer_from_passages`, checked
    unless `check` is off); with no backend, retrieval only. A question the backend fails on is reported to
    `on_error` and scored as an abstention. `advance(1)` after each question."""
    from ganymede.apps.evaluation.rag import best_f1_em
    from ganymede.core.prompts import load_prompt

    if k < context_k:
        raise GanymedeError("context_k cannot exceed k", "the model reads a subset of the retrieved passages")
    config = config or load_prompt(QA_PROMPT).config()
    rows: list[dict[str, Any]] = []
    for q in questions:
        passages = index.search(q.question, k=k, mode=mode)
        prediction = reply = ""
        if backend is not None:
            try:
                answer = answer_from_passages(backend, q.question, passages[:context_k], config, check=check)
                prediction, reply = ("" if answer.abstained else answer.text), answer.text
            except GanymedeError as exc:
                on_error(q.id, exc)
        em, f1 = best_f1_em(prediction, q.answers)
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "gold_source": q.source,
                "retrieved": [p.source for p in passages],
                "prediction": prediction,
                "reply": reply,  # what the model said, before an abstention
                "answers": q.answers,
                "em": em,
                "f1": f1,
            }
        )
        if advance:
            advance(1)
    return rows


def rag_metrics(rows: list[dict[str, Any]], *, k: int, mode: str, data: str, model: str | None) -> dict[str, Any]:
    """recall@k and recall@1, exact match and F1 (overall, answerable, unanswerable), abstention rate; with no
    `model` (retrieval only), the retrieval figures alone."""
    from ganymede.apps.evaluation.rag import summarize

    metrics = summarize(rows, k=k) | {"retrieval": mode, "data": data}
    if model is None:
        metrics = {key: value for key, value in metrics.items() if key.startswith(("n", "recall", "retrieval", "data"))}
        metrics.pop("no_answer", None)
        return metrics
    metrics["model"] = model
    metrics["reference"] = reference_points(rows)
    return metrics


def reference_points(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """What the two trivial policies score on the same questions, so the abstention is judged against them:
    always abstaining (right on every unanswerable question, nothing else), and never abstaining (the model's
    first reply given as the answer, whatever the check said)."""
    from ganymede.apps.evaluation.rag import best_f1_em

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    never = [best_f1_em(r.get("reply", ""), r["answers"])[1] for r in rows]
    return {
        "always_abstain": {
            "f1": mean([float(not r["answers"]) for r in rows]),
            "has_answer_f1": 0.0,
            "no_answer_accuracy": 1.0,
        },
        "never_abstain": {
            "f1": mean(never),
            "has_answer_f1": mean([f for f, r in zip(never, rows, strict=True) if r["answers"]]),
            "no_answer_accuracy": 0.0,
        },
    }
