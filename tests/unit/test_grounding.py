"""Whether a tool call's argument values come from the conversation (apps.tools.grounding)."""

from __future__ import annotations

import pytest

from ganymede.apps.assistant.tools.grounding import Context, context_of, invented_values, value_grounded

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "default": 3},
        "detailed": {"type": "boolean"},
    },
}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Paris", "What's the weather in paris today?"),
        ("JKRowling", "Books by J.K. Rowling"),
        ("tomato", "fertilizer for tomatoes"),
        (2000000, "net income of $2,000,000"),
        (0.05, "an interest rate of 5%"),
        (-100, "cash flows of -$100 and $40"),
        (6, "rolling a six twice"),
        (2, "rolling a six twice"),
        (3000000, "3 million people"),
        ("2+2", "what is two plus two"),
    ],
)
def test_values_found_in_the_text(value: object, text: str) -> None:
    assert value_grounded(value, Context.of(text)) is True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Albert Einstein", "Who proposed the special theory of relativity?"),
        (7, "How many calories does an apple have?"),
        ("C", "Who was the most famous composer in the United States?"),  # one letter is not evidence
        ("the", "the theory"),  # nor is a stopword
    ],
)
def test_values_not_found_in_the_text(value: object, text: str) -> None:
    assert value_grounded(value, Context.of(text)) is False


def test_values_that_say_nothing_are_not_checked() -> None:
    context = Context.of("anything")
    assert value_grounded(True, context) is None and value_grounded(None, context) is None
    assert value_grounded("  ", context) is None


def test_a_call_is_invented_only_when_no_value_is_grounded() -> None:
    context = Context.of("What will the weather be in Lyon?")
    assert invented_values({"city": "Lyon", "days": 5}, SCHEMA, context) is None  # one grounded value is enough
    assert invented_values({"city": "Berlin", "days": 5}, SCHEMA, context) == ["city='Berlin'", "days=5"]
    # enum choices, defaults and booleans come from the schema, so they neither ground nor condemn a call
    assert invented_values({"unit": "celsius", "days": 3, "detailed": True}, SCHEMA, context) is None
    assert invented_values({"city": ["Berlin", "Lyon"]}, SCHEMA, context) is None  # list items are values too
    assert invented_values({}, SCHEMA, context) is None


def test_the_clock_needs_no_grounding_for_its_default_or_local_time() -> None:
    from ganymede.apps.assistant.tools.clock import TOOL

    context = Context.of("What day is it today?")
    for timezone in ("UTC", "local"):
        assert invented_values({"timezone": timezone}, TOOL.parameters, context) is None


def test_context_is_what_the_user_wrote_and_tools_returned() -> None:
    messages = [
        {"role": "system", "content": "You are in Oslo."},
        {"role": "user", "content": [{"type": "text", "text": "Weather at the venue?"}]},
        {"role": "assistant", "content": "Let me look up the venue: Lyon?"},
        {"role": "tool", "content": "The venue is in Bergen."},
    ]
    context = context_of(messages)
    assert value_grounded("Bergen", context) and value_grounded("venue", context)
    assert not value_grounded("Oslo", context) and not value_grounded("Lyon", context)
