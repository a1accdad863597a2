"""Whether a tool call's arguments come from the conversation or were invented by the model.

A small model shown a tool that cannot answer the question tends to call it anyway and fill the arguments with
plausible values (a litigation-cost tool called with 7 days for "how many calories does an apple have?"). A
call is *invented* when it has checkable values and none of them appear in what the user wrote or the tools
returned. One grounded value is enough, so values the model derives (a unit, a rounding) do not count
against a call whose subject came from the user. Booleans, schema defaults, enum choices and the schema's
examples are not checked: they come from the schema, not from the request."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[^\W_]+")
# Digits with thousands separators or a decimal part; a trailing % or scale word is read by _numbers.
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)\s*(%|percent\b|thousand\b|million\b|billion\b)?"
)
_SCALE = {"%": 0.01, "percent": 0.01, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_COUNTING = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {word: float(value) for value, word in enumerate(_COUNTING.split())} | {
    "once": 1.0,
    "twice": 2.0,
    "thrice": 3.0,
    "double": 2.0,
    "triple": 3.0,
    "dozen": 12.0,
    "half": 0.5,
}
_STOPWORD_TEXT = (
    "the and for with from that this what which who how are was were not all any can you your our its has have "
    "had but into per of in on at to by an a or is it be as"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_PREFIX = 5  # "tomatoes" grounds "tomato": words that share their first five letters count as the same


@dataclass(frozen=True)
class Context:
    """The words and numbers of the text a call's arguments may come from."""

    text: str
    words: frozenset[str]
    squashed: str
    numbers: frozenset[float]

    @classmethod
    def of(cls, text: str) -> Context:
        lowered = text.lower()
        words = _WORD.findall(lowered)
        return cls(lowered, frozenset(words), "".join(words), frozenset(_numbers(lowered)))


def _numbers(text: str) -> Iterator[float]:
    for digits, scale in _NUMBER.findall(text):
        value = float(digits.replace(",", ""))
        yield value
        if scale:
            yield value * _SCALE[scale]
    for word in _WORD.findall(text):
        if word in _NUMBER_WORDS:
            yield _NUMBER_WORDS[word]


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _word_in(word: str, context: Context) -> bool:
    if word in context.words:
        return True
    return len(word) >= _PREFIX and any(w.startswith(word[:_PREFIX]) for w in context.words if len(w) >= _PREFIX)


def value_grounded(value: Any, context: Context) -> bool | None:
    """True or False for a checkable value; None for one that says nothing (a boolean, null, empty text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return abs(float(value)) in context.numbers  # "-$100" is read as 100
    text = str(value).lower()
    words = _WORD.findall(text)
    if not words:
        return None
    verbatim = text.strip()
    if verbatim not in _STOPWORDS and re.search(rf"(?<!\w){re.escape(verbatim)}(?!\w)", context.text):  # "a@b.c", "C#"
        return True
    squashed = "".join(words)
    if len(squashed) >= 4 and squashed in context.squashed:  # "JKRowling" in "... by J.K. Rowling"
        return True
    content = [w for w in words if w not in _STOPWORDS and (len(w) >= 3 or w.isdigit())]
    if any(_word_in(w, context) for w in content):
        return True
    return any(n in context.numbers for n in _numbers(text))


def _schema_given(value: Any, prop: dict[str, Any]) -> bool:
    offered = [*prop.get("enum", []), *prop.get("examples", [])]
    return value in offered or ("default" in prop and value == prop["default"])


def invented_values(arguments: dict[str, Any], parameters: dict[str, Any], context: Context) -> list[str] | None:
    """The call's checkable values when none of them is grounded in `context` (the call is invented);
    None when at least one is, or when there is nothing to check."""
    properties = parameters.get("properties", {}) if isinstance(parameters, dict) else {}
    checked: list[str] = []
    for name, value in arguments.items():
        prop = properties.get(name, {}) if isinstance(properties.get(name), dict) else {}
        for leaf in _leaves(value):
            if _schema_given(leaf, prop):
                continue
            verdict = value_grounded(leaf, context)
            if verdict:
                return None
            if verdict is False:
                checked.append(f"{name}={leaf!r}")
    return checked or None


def context_of(messages: Sequence[dict[str, Any]]) -> Context:
    """What the user wrote and what tools returned: the sources a call's arguments may legitimately use."""
    return Context.of("\n".join(_texts(messages)))


def _texts(messages: Iterable[dict[str, Any]]) -> Iterator[str]:
    for message in messages:
        if message.get("role") not in ("user", "tool"):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):  # content blocks
            yield from (b.get("text", "") for b in content if isinstance(b, dict))


def invented_message(values: list[str]) -> str:
    """What the model is told when its call is not run, so it asks the user or answers without the tool."""
    shown = ", ".join(values[:4])
    return (
        f"error: not run, because none of the argument values ({shown}) appear in the user's request or in "
        "earlier tool results. If this tool fits the request, ask the user for the missing details; "
        "otherwise answer without it."
    )
