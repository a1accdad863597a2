"""The behaviour every local backend must show on a real model; each backend's test module runs these."""

from __future__ import annotations

from ganymede.core.backends.base import Backend
from ganymede.core.generation import GenerationConfig

GREEDY = GenerationConfig(greedy=True, max_new_tokens=24)
COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by commas. Output only the numbers."}]


def counts(text: str, upto: int = 3) -> bool:
    """True when the text counts 1, 2, ... upto (models differ on spaces after the commas)."""
    return ",".join(str(n) for n in range(1, upto + 1)) in text.replace(" ", "")


def check_greedy_is_deterministic(backend: Backend) -> None:
    first = backend.chat(COUNT, GREEDY).text
    second = backend.chat(COUNT, GREEDY).text
    assert first == second
    assert counts(first), first


def check_stream_joins_to_full_text(backend: Backend) -> None:
    full = backend.chat(COUNT, GREEDY).text
    stream = backend.stream(COUNT, GREEDY)
    deltas = list(stream)
    assert len(deltas) > 3
    assert "".join(deltas) == full == stream.completion.text


def check_max_new_tokens(backend: Backend) -> None:
    result = backend.chat(COUNT, GREEDY.merged(max_new_tokens=4))
    assert 1 <= result.usage.completion_tokens <= 4
    assert result.finish_reason == "length"
    assert "10" not in result.text


def check_stop(backend: Backend) -> None:
    result = backend.chat(COUNT, GREEDY.merged(stop=("5",)))
    assert "4" in result.text
    assert "5" not in result.text and "6" not in result.text


def check_arithmetic(backend: Backend) -> None:
    question = [{"role": "user", "content": "What is 17 + 25? Reply with the number only."}]
    assert backend.chat(question, GREEDY).text.strip().rstrip(".") == "42"


def check_context_window_is_enforced(backend: Backend) -> None:
    import pytest

    from ganymede.core.errors import ContextWindowExceededError

    with pytest.raises(ContextWindowExceededError):
        backend.chat([{"role": "user", "content": "hello " * (backend.context_window + 10)}], GREEDY)
