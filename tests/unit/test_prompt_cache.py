"""The on-disk prompt cache's file handling: what it trusts, what it throws away, how it stays bounded.
Loading a real KV state into llama.cpp is tested on the 0.5B model in tests/integration/test_llamacpp_backend.py."""

from __future__ import annotations

import os
from pathlib import Path

from ganymede.core.backends.prompt_cache import MAGIC, PromptCache, file_identity, fixed_message_count, fixed_messages

IDENTITY = {"model": "/models/a.gguf", "bytes": 10, "mtime_ns": 1, "head": "abc"}
TOKENS = list(range(200))
PAYLOAD = b"kv-state" * 100


def cache(folder: Path, identity: dict | None = None, limit: int = 1 << 20) -> PromptCache:
    return PromptCache(folder, identity or IDENTITY, limit)


def test_a_written_state_reads_back(tmp_path: Path) -> None:
    cache(tmp_path).write(TOKENS, PAYLOAD)
    assert cache(tmp_path).read(TOKENS) == PAYLOAD  # a new instance: what the next process sees


def test_other_tokens_or_another_model_miss(tmp_path: Path) -> None:
    cache(tmp_path).write(TOKENS, PAYLOAD)
    assert cache(tmp_path).read(TOKENS[:-1]) is None
    assert cache(tmp_path, {**IDENTITY, "mtime_ns": 2}).read(TOKENS) is None


def test_a_foreign_file_under_the_right_name_is_ignored_and_deleted(tmp_path: Path) -> None:
    # Another model's state renamed to this key: the header names the other model, so it is never loaded.
    other = cache(tmp_path, {**IDENTITY, "head": "other"})
    path = cache(tmp_path).path(TOKENS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(other.encode(TOKENS, PAYLOAD))
    assert cache(tmp_path).read(TOKENS) is None
    assert not path.exists()
    cache(tmp_path).write(TOKENS, PAYLOAD)  # rebuilt
    assert cache(tmp_path).read(TOKENS) == PAYLOAD


def test_corrupt_files_are_ignored_and_deleted(tmp_path: Path) -> None:
    good = cache(tmp_path).encode(TOKENS, PAYLOAD)
    flipped = bytearray(good)
    flipped[-5] ^= 0xFF
    for bad in (b"", b"garbage", MAGIC + b"\xff" * 8, good[:-1], bytes(flipped), MAGIC + good[len(MAGIC) : 40]):
        path = cache(tmp_path).path(TOKENS)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bad)
        assert cache(tmp_path).read(TOKENS) is None, bad[:20]
        assert not path.exists()


def test_the_folder_stays_under_its_limit_least_recently_used_first(tmp_path: Path) -> None:
    size = len(cache(tmp_path).encode([0, *TOKENS], PAYLOAD))
    small = cache(tmp_path, limit=3 * size + 10)  # room for three files
    paths = []
    for i in range(3):
        paths.append(small.write([i, *TOKENS], PAYLOAD))
        os.utime(paths[-1], ns=(i * 10**9, i * 10**9))  # distinct ages on coarse clocks
    assert small.read([0, *TOKENS]) == PAYLOAD  # used: now the newest
    small.write([9, *TOKENS], PAYLOAD)
    left = {p.name for p in tmp_path.glob("*.kv")}
    assert paths[1].name not in left  # the least recently used went
    assert paths[0].name in left and len(left) == 3


def test_a_payload_larger_than_the_limit_is_not_written(tmp_path: Path) -> None:
    assert cache(tmp_path, limit=10).write(TOKENS, PAYLOAD) is None
    assert not list(tmp_path.glob("*.kv"))


def test_limit_zero_turns_the_cache_off(tmp_path: Path) -> None:
    off = cache(tmp_path, limit=0)
    assert not off.enabled and off.write(TOKENS, PAYLOAD) is None and off.read(TOKENS) is None


def test_model_identity_changes_with_the_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 100)
    before = file_identity(model)
    model.write_bytes(b"GGUF" + b"\1" * 100)
    assert file_identity(model)["head"] != before["head"]


def test_fixed_messages_default_to_the_leading_system_messages() -> None:
    conversation = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert fixed_message_count(conversation) == 1
    assert fixed_message_count(conversation[1:]) == 0
    with fixed_messages(5):
        assert fixed_message_count(conversation) == 2
    assert fixed_message_count(conversation) == 1


def test_a_declared_leading_text_is_seen_inside_the_block_only() -> None:
    from ganymede.core.backends.prompt_cache import fixed_leading_text

    assert fixed_leading_text() == ""
    with fixed_messages(3, "df: 4 rows x 3 columns"):
        assert fixed_leading_text() == "df: 4 rows x 3 columns"
        assert fixed_message_count([{"role": "user", "content": "x"}] * 5) == 3
    assert fixed_leading_text() == ""
