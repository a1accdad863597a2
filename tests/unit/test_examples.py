"""Similar-example selection, with a deterministic bag-of-words embedding instead of MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from ganymede.core.examples import ExampleSelector, select_examples

VOCAB = ["flight", "hotel", "book", "computer", "broken", "doctor", "sick", "room"]


def bag_of_words(texts):
    rows = []
    for text in texts:
        words = text.lower().split()
        vector = np.array([words.count(w) for w in VOCAB], dtype="float32") + 1e-6
        rows.append(vector / np.linalg.norm(vector))
    return np.stack(rows)


POOL = [
    {"input": "book a flight", "output": "1"},
    {"input": "book a hotel room", "output": "2"},
    {"input": "my computer is broken", "output": "3"},
    {"input": "I feel sick doctor", "output": "4"},
]


def test_picks_most_similar_last() -> None:
    chosen = select_examples("book a hotel room for the flight", POOL, 2, embed=bag_of_words)
    assert [e["output"] for e in chosen] == ["1", "2"]


def test_zero_and_empty() -> None:
    assert select_examples("x", POOL, 0, embed=bag_of_words) == []
    assert select_examples("x", [], 3, embed=bag_of_words) == []


def test_never_returns_the_query_itself() -> None:
    chosen = select_examples("my computer is broken", POOL, 1, embed=bag_of_words)
    assert chosen and chosen[0]["output"] != "3"


def test_key_function_and_k_larger_than_pool() -> None:
    pool = [{"dialogue": {"text": e["input"]}, "output": e["output"]} for e in POOL]
    selector = ExampleSelector(pool, lambda e: e["dialogue"]["text"], embed=bag_of_words)
    assert len(selector) == 4
    assert len(selector.select("doctor", 10)) == 4
    assert selector.select("sick doctor", 1)[0]["output"] == "4"


def test_missing_key_names_the_field() -> None:
    with pytest.raises(KeyError, match="dialogue"):
        select_examples("x", POOL, 1, key="dialogue", embed=bag_of_words)
