"""The assistant's constrained tool loop with a scripted backend (control flow only; the real decoding under a
JSON schema is tested on the bundled model in tests/integration/test_assistant.py): the decision schema, the
loop guards, the calculator's number in the answer, no abstention after a tool answered, cleaning, streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ganymede.apps.assistant.assistant import (
    ANSWER_ACTION,
    DECISION_TOKENS,
    REPEATING_TEXT,
    arithmetic_intent,
    ask,
    clean_answer,
    decision_schema,
    repeats_itself,
    tool_turn,
    with_citation,
)
from ganymede.apps.assistant.evaluate import reference_points
from ganymede.apps.assistant.index import Passage
from ganymede.apps.assistant.tools import ToolRegistry, check_arguments, tool
from ganymede.apps.assistant.tools.calculator import TOOL as CALCULATOR
from ganymede.apps.assistant.tools.calculator import calculate
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Message
from tests.fakes import ScriptedBackend, tool_call_reply

CONFIG = GenerationConfig(max_new_tokens=64, greedy=True)


def call(name: str, **arguments: Any) -> str:
    return json.dumps({"action": name, "arguments": arguments})


ANSWER = json.dumps({"action": ANSWER_ACTION})


def constrained(replies: list[Any]) -> ScriptedBackend:
    """A scripted backend that says it constrains decoding: the loop takes the JSON-decision path."""
    backend = ScriptedBackend(replies)
    backend.constrained_json = True  # type: ignore[attr-defined]
    return backend


@tool
def lookup_city(city: str, days: int = 1) -> str:
    """Weather for a city.

    Args:
        city: the city
        days: how many days
    """
    return f"sunny in {city} for {days} day(s)"


def test_decision_schema_offers_each_tool_with_its_own_arguments_and_the_answer() -> None:
    registry = ToolRegistry([CALCULATOR, lookup_city])
    schema = decision_schema(registry)
    tools = [option["properties"]["action"]["const"] for option in schema["anyOf"]]
    assert tools == ["calculator", "lookup_city", ANSWER_ACTION]
    city_args = schema["anyOf"][1]["properties"]["arguments"]
    assert city_args["additionalProperties"] is False and city_args["required"] == ["city"]
    assert city_args["properties"]["days"] == {"type": "integer"}  # descriptions and defaults are not grammar
    forced = decision_schema(registry, only="calculator")
    assert forced["properties"]["action"] == {"const": "calculator"} and "anyOf" not in forced


def test_bfcl_style_type_names_become_json_schema_types() -> None:
    @tool
    def noop(x: str) -> str:
        """No-op."""
        return x

    noop.tool.parameters = {"type": "dict", "properties": {"n": {"type": "float"}, "t": {"type": "any"}}}
    schema = decision_schema(ToolRegistry([noop]), only="noop")["properties"]["arguments"]
    assert schema["type"] == "object" and schema["properties"] == {"n": {"type": "number"}, "t": {}}


def test_constrained_loop_calls_then_streams_the_answer() -> None:
    backend = constrained([call("lookup_city", city="Oslo"), ANSWER, "It is sunny in Oslo."])
    messages: list[Message] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Weather in Oslo?"}]
    streamed: list[str] = []
    turn = tool_turn(backend, messages, ToolRegistry([lookup_city]), CONFIG, on_text=streamed.append)
    assert [s.result for s in turn.steps] == ["sunny in Oslo for 1 day(s)"]
    assert turn.text == "It is sunny in Oslo." and "".join(streamed).strip() == turn.text
    decisions = [c for c in backend.calls if c[1].json_schema]
    assert len(decisions) == 2 and all(c[2] is None for c in backend.calls)  # tools are in the system prompt
    assert decisions[0][1].max_new_tokens == DECISION_TOKENS and backend.calls[2][1].max_new_tokens == 64
    answer_prompt = backend.calls[2][0]
    # the answer's prompt extends the last decision's: the same prefix, so llama.cpp reuses it
    assert answer_prompt[: len(decisions[1][0])] == decisions[1][0]
    assert answer_prompt[-1]["role"] == "user" and "plain sentences" in answer_prompt[-1]["content"]
    assert backend.calls[2][1].json_schema is None


def test_a_repeated_identical_call_stops_the_turn_with_a_message() -> None:
    backend = constrained(
        lambda m: (
            call("lookup_city", city="Oslo") if m[-1]["role"] != "user" or "Weather" in m[-1]["content"] else "Sunny."
        )
    )  # type: ignore[arg-type]
    messages: list[Message] = [{"role": "user", "content": "Weather in Oslo?"}]
    turn = tool_turn(backend, messages, ToolRegistry([lookup_city]), CONFIG, max_steps=6)
    assert len(turn.steps) == 1 and not turn.hit_step_limit
    assert turn.stopped and "same lookup_city call" in turn.stopped
    assert len(backend.calls) == 3  # two decisions, then the answer: not six rounds


def test_the_text_format_loop_is_guarded_too() -> None:
    def replies(messages: list[Message]) -> Any:
        answer_turn = "plain sentences" in messages[-1]["content"]
        return "Sunny." if answer_turn else tool_call_reply("lookup_city", city="Oslo")

    backend = ScriptedBackend(replies)
    turn = tool_turn(backend, [{"role": "user", "content": "Weather in Oslo?"}], ToolRegistry([lookup_city]), CONFIG)
    assert len(turn.steps) == 1 and turn.stopped and turn.text == "Sunny."


class RepeatingBackend(ScriptedBackend):
    """A model stuck in a loop: it would write the same sentence until the token budget runs out."""

    def __init__(self) -> None:
        super().__init__("x")
        self.deltas = 0

    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Any) -> Iterator[str]:
        for _ in range(1000):
            self.deltas += 1
            yield "Open the calculator tool. "


def test_self_repeating_text_is_stopped_early() -> None:
    backend = RepeatingBackend()
    answer = ask(backend, "Hello?", config=CONFIG)
    assert answer.stopped == REPEATING_TEXT and backend.deltas < 10
    assert repeats_itself("abc def ghi jkl " * 3) and not repeats_itself("=" * 80) and not repeats_itself("one two")


def test_arithmetic_goes_to_the_calculator_and_its_number_is_the_answer() -> None:
    backend = constrained([call("calculator", expression="2480 * 0.175"), "17.5% of 2480 is 4300."])
    answer = ask(backend, "What is 17.5% of 2480?", registry=ToolRegistry([CALCULATOR]), config=CONFIG)
    assert answer.steps[0].result == "434" and "434" in answer.text and "4300" not in answer.text
    assert backend.calls[0][1].json_schema["properties"]["action"] == {"const": "calculator"}  # forced
    assert len(backend.calls) == 2  # the forced call answered: no second decision
    kept = ask(
        constrained([call("calculator", expression="2480 * 0.175"), "It is 434."]),
        "What is 17.5% of 2480?",
        registry=ToolRegistry([CALCULATOR]),
        config=CONFIG,
    )
    assert kept.text == "It is 434."


def test_no_abstention_after_a_tool_answered() -> None:
    backend = constrained([call("calculator", expression="2480 * 0.175"), "I don't know."])
    answer = ask(backend, "Use the calculator: what is 2480 * 0.175?", registry=ToolRegistry([CALCULATOR]))
    assert not answer.abstained and "434" in answer.text
    other = constrained([call("lookup_city", city="Oslo"), ANSWER, "I don't know"])
    answer = ask(other, "Weather in Oslo?", registry=ToolRegistry([lookup_city]), config=CONFIG)
    assert not answer.abstained and "sunny in Oslo" in answer.text


def test_streaming_shows_steps_then_text_in_order() -> None:
    events: list[tuple[str, str]] = []
    backend = constrained([call("lookup_city", city="Oslo"), ANSWER, "It is sunny in Oslo today, enjoy."])
    answer = ask(
        backend,
        "Weather in Oslo?",
        registry=ToolRegistry([lookup_city]),
        config=CONFIG,
        on_step=lambda s: events.append(("step", s.tool)),
        on_text=lambda d: events.append(("text", d)),
    )
    assert events[0] == ("step", "lookup_city") and len(events) > 2 and all(e[0] == "text" for e in events[1:])
    assert "".join(d for _, d in events[1:]).strip() == answer.text
    assert answer.timing["first_token"] is not None and answer.timing["total"] >= answer.timing["first_token"]


def test_a_reply_that_opens_with_json_is_not_streamed_and_is_cleaned() -> None:
    shown: list[str] = []
    backend = constrained([ANSWER, '{"name": "lookup_city", "arguments": {"city": "Oslo"}}\nIt is sunny.'])
    answer = ask(backend, "Weather?", registry=ToolRegistry([lookup_city]), config=CONFIG, on_text=shown.append)
    assert shown == [] and answer.text == "It is sunny."


def test_clean_answer_removes_narration_and_calls() -> None:
    text = (
        "I'll use the `calculator` function to compute this.\n"
        '```json\n{"name": "calculator", "arguments": {"expression": "2480*0.175"}}\n```\n'
        "Step 1: Open the calculator tool and click Calculate.\n"
        "17.5% of 2480 is 434."
    )
    assert clean_answer(text, ["calculator"]) == "17.5% of 2480 is 434."
    assert clean_answer("Run `llm install llm-gpt4all` [1].") == "Run `llm install llm-gpt4all` [1]."
    assert clean_answer('<tool_call>{"name": "x"}</tool_call>') == ""


def test_arithmetic_intent_is_about_the_kind_of_question() -> None:
    for question in (
        "What is 17.5% of 2480?",
        "What is the cube root of 2197?",
        "A jacket costs 80 euros and is 15% off. What is the sale price?",
        "What is the average of 12, 19, 23 and 46?",
        "I borrow 5000 dollars at 4% simple interest per year for 3 years. How much interest do I pay?",
        "2480 * 0.175",
    ):
        assert arithmetic_intent(question), question
    for question in (
        "How do I install the llm-gpt4all plugin?",
        "What happened in 1998?",
        "Which command lists the installed plugins?",
        "Who wrote version 2 of the spec?",
    ):
        assert not arithmetic_intent(question), question


def test_an_answer_from_documents_cites_its_passage() -> None:
    passages = [Passage("a.md", 0, "Cats sleep a lot."), Passage("b.md", 3, "Install it with llm install foo.")]
    assert with_citation("Run llm install foo.", passages) == "Run llm install foo. [2]"
    assert with_citation("Run it [1].", passages) == "Run it [1]."
    assert with_citation("I don't know", passages) == "I don't know"


def test_calculator_results_are_rounded_to_what_floats_can_say() -> None:
    assert calculate("2197 ** (1/3)") == 13 and calculate("0.1 + 0.2") == 0.3
    assert check_arguments(CALCULATOR.parameters, {"expression": "1"}) is None


def test_reference_points_of_the_abstention() -> None:
    rows = [
        {"answers": ["Paris"], "reply": "Paris", "prediction": "", "em": 0.0, "f1": 0.0},
        {"answers": [], "reply": "Lyon", "prediction": "", "em": 1.0, "f1": 1.0},
    ]
    ref = reference_points(rows)
    assert ref["always_abstain"]["f1"] == 0.5 and ref["never_abstain"]["f1"] == 0.5
    assert ref["never_abstain"]["has_answer_f1"] == 1.0


def test_a_failed_forced_call_is_retried_under_the_same_constraint() -> None:
    backend = constrained(
        [call("calculator", expression="17.5 of 2480"), call("calculator", expression="2480*0.175"), "434"]
    )
    answer = ask(backend, "What is 17.5% of 2480?", registry=ToolRegistry([CALCULATOR]), config=CONFIG)
    assert [s.ok for s in answer.steps] == [False, True] and answer.text.startswith("434")
    assert all(c[1].json_schema["properties"]["action"] == {"const": "calculator"} for c in backend.calls[:2])


def test_the_cli_prints_steps_on_stderr_and_the_answer_on_stdout_as_they_come(capsys: Any) -> None:
    from ganymede.apps.assistant.cli import _LivePrinter

    live = _LivePrinter()
    backend = constrained([call("lookup_city", city="Oslo"), ANSWER, "It is sunny in Oslo today."])
    answer = ask(
        backend, "Weather in Oslo?", registry=ToolRegistry([lookup_city]), on_step=live.step, on_text=live.text
    )
    out, err = capsys.readouterr()
    assert out.strip() == answer.text == live.shown.strip()
    assert err.startswith('→ lookup_city({"city": "Oslo"})')


def test_no_calculator_without_a_number_in_the_question() -> None:
    """A calculator call for a question with no number would come from retrieved text (data, not instructions)."""
    from ganymede.apps.assistant.assistant import _has_number

    assert not _has_number("On which day does the cafeteria serve soup?")
    assert _has_number("What is 17.5% of 2480?")
    assert _has_number("What is twenty times three?")
    assert not _has_number("How do I install the llm-gpt4all plugin?")  # the 4 of gpt4all is a name
