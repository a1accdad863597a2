"""Batch layout for the transformers backend: the shared prefix and where padding goes."""

from ganymede.core.backends.transformers import pad_after_prefix, shared_prefix_length


def test_shared_prefix_leaves_each_row_a_token_of_its_own() -> None:
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5, 6]]) == 3
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the shorter row keeps its last token
    assert shared_prefix_length([[1, 2], [3, 4]]) == 0
    assert shared_prefix_length([[1, 2, 3]]) == 0  # nothing to share with


def test_padding_goes_after_the_prefix() -> None:
    ids, mask = pad_after_prefix([[1, 2, 7], [1, 2, 8, 9, 10]], shared=2, pad_id=0)
    assert ids == [[1, 2, 0, 0, 7], [1, 2, 8, 9, 10]]
    assert mask == [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]]


def test_without_a_prefix_it_is_left_padding() -> None:
    ids, mask = pad_after_prefix([[5], [6, 7, 8]], shared=0, pad_id=0)
    assert ids == [[0, 0, 5], [6, 7, 8]]
    assert mask == [[0, 0, 1], [1, 1, 1]]
