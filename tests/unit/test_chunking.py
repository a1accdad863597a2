import pytest

from ganymede.core.chunking import pack
from ganymede.core.errors import ContextWindowExceededError


def words(text: str) -> int:
    return len(text.split())


def test_units_are_packed_in_order_under_budget():
    units = ["a b", "c d e", "f", "g h i j"]
    chunks = pack(units, words, budget=5, separator=" ")
    assert chunks == ["a b c d e", "f g h i j"]
    assert all(words(c) <= 5 for c in chunks)
    assert " ".join(chunks).split() == list("abcdefghij")  # nothing lost, nothing reordered


def test_oversized_unit_is_split_or_refused():
    with pytest.raises(ContextWindowExceededError, match="more than the 3"):
        pack(["a b c d e"], words, budget=3)
    chunks = pack(["x", "a b c d e"], words, budget=3, separator=" ", split_oversized=lambda u: u.split())
    assert " ".join(chunks).split() == ["x", "a", "b", "c", "d", "e"]
    assert all(words(c) <= 3 for c in chunks)
