"""chat_batch with per-row configs (control flow, scripted backend) and the batch engine's pure helpers.
The batched decode itself is tested on the real 0.5B model in tests/integration/test_llamacpp_backend.py."""

from __future__ import annotations

import pytest

from ganymede.core.backends.llamacpp_batch import Row, shared_prefix, stream_delta
from ganymede.core.generation import GenerationConfig
from tests.fakes import ScriptedBackend

PROMPTS = [[{"role": "user", "content": c}] for c in ("a", "b", "c")]


class GroupingBackend(ScriptedBackend):
    """Records how the default `_chat_batch_rows` groups rows into shared-config `_chat_batch` calls."""

    def __init__(self) -> None:
        super().__init__(lambda messages: messages[-1]["content"].upper())
        self.groups: list[tuple[list[str], GenerationConfig]] = []

    def _chat_batch(self, batch, config):  # type: ignore[no-untyped-def]
        self.groups.append(([m[-1]["content"] for m in batch], config))
        return super()._chat_batch(batch, config)


def test_one_config_for_every_row_is_one_group() -> None:
    backend = GroupingBackend()
    results = backend.chat_batch(PROMPTS, GenerationConfig(greedy=True, max_new_tokens=5))
    assert [r.text for r in results] == ["A", "B", "C"]
    assert [g[0] for g in backend.groups] == [["a", "b", "c"]]


def test_per_row_configs_reach_each_row() -> None:
    backend = GroupingBackend()
    configs = [GenerationConfig(seed=s, max_new_tokens=5) for s in (1, 2, 1)]
    results = backend.chat_batch(PROMPTS, configs)
    assert [r.text for r in results] == ["A", "B", "C"]  # order kept although rows were regrouped
    assert sorted((g[0], g[1].seed) for g in backend.groups) == [(["a", "c"], 1), (["b"], 2)]
    assert [c.seed for _, c, _ in backend.calls] == [1, 1, 2]


def test_rows_differing_only_in_budget_share_the_tightest_one() -> None:
    backend = GroupingBackend()
    backend.chat_batch(PROMPTS[:2], [GenerationConfig(max_new_tokens=9), GenerationConfig(max_new_tokens=4)])
    assert len(backend.groups) == 1 and backend.groups[0][1].max_new_tokens == 4


def test_config_count_must_match_rows() -> None:
    with pytest.raises(ValueError, match="3 conversations but 2 configs"):
        GroupingBackend().chat_batch(PROMPTS, [GenerationConfig(), GenerationConfig()])


def test_empty_batch_gives_nothing() -> None:
    assert GroupingBackend().chat_batch([], GenerationConfig()) == []


def test_shared_prefix_leaves_every_row_a_token_of_its_own() -> None:
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5]]) == 3
    assert shared_prefix([[1, 2, 3], [1, 2, 3]]) == 2  # identical prompts (N candidates)
    assert shared_prefix([[1, 2, 3], [1, 2]]) == 1
    assert shared_prefix([[7, 2], [1, 2]]) == 0
    assert shared_prefix([]) == 0


def test_stream_delta_holds_back_a_possible_stop_and_half_characters() -> None:
    row = Row(tokens=[1], config=GenerationConfig(stop=("END",)), max_tokens=10)
    row.text = b"hello E"
    assert stream_delta(row) == "hello "
    row.text = b"hello EN"
    assert stream_delta(row) == ""
    row.text = b"hello ENx \xc3"  # a stop that did not complete, then half of a two-byte character
    assert stream_delta(row) == "ENx "
    row.text = b"hello ENx \xc3\xa9"
    assert stream_delta(row) == "\u00e9"
    row.text, row.finish_reason = b"hello ENx \xc3\xa9!", "stop"
    assert stream_delta(row) == "!"
