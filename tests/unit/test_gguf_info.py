"""GGUF headers read without loading tensors, checked against the gguf package's own reader, and the memory
estimate that says whether a model can run here."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganymede.core import gguf_info
from ganymede.core.catalog import CATALOG
from ganymede.core.gguf_info import GGUFReadError, RunEstimate, estimate_run, human_size, read_gguf_info
from tests.hubfake import tiny_gguf


def test_header_fields_agree_with_the_gguf_reader(tmp_path: Path) -> None:
    import gguf

    path = tiny_gguf(tmp_path / "tiny.gguf", tensor_elements=300, tensors=3)[0]
    info = read_gguf_info(path)
    reader = gguf.GGUFReader(path)

    assert info.architecture == reader.fields["general.architecture"].contents() == "llama"
    assert info.name == "Tiny test model"
    assert info.context_length == reader.fields["llama.context_length"].contents() == 2048
    assert info.quantization == "Q4_K_M"  # general.file_type 15
    assert info.has_chat_template
    assert info.parameters == sum(int(t.n_elements) for t in reader.tensors) == 900
    assert info.size == path.stat().st_size and info.shards == 1
    assert info.metadata["llama.block_count"] == 2
    assert "tokenizer.ggml.tokens" not in info.metadata  # arrays are stepped over, not read


def test_without_file_type_the_quantization_is_the_dominant_tensor_type(tmp_path: Path) -> None:
    path = tiny_gguf(tmp_path / "plain.gguf", file_type=None, chat_template=None)[0]
    info = read_gguf_info(path)
    assert info.quantization == "F32" and not info.has_chat_template


def test_a_big_endian_file_reads_the_same(tmp_path: Path) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "be.gguf"
    writer = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG)
    writer.add_context_length(4096)
    writer.add_token_list(["a", "b"])
    writer.add_tensor("w", np.ones(16, dtype=np.float32).byteswap())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf_info(path)
    assert info.context_length == 4096 and info.parameters == 16


def test_shards_are_read_together(tmp_path: Path) -> None:
    shards = tiny_gguf(tmp_path / "big.gguf", tensors=3, tensor_elements=100, split_max_tensors=1)
    info = read_gguf_info(shards[0])
    assert info.shards == 3 and info.parameters == 300
    assert info.size == sum(p.stat().st_size for p in shards)
    assert gguf_info.shard_paths(shards[0]) == shards


def test_a_file_that_is_not_gguf_or_is_truncated_is_a_clear_error(tmp_path: Path) -> None:
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"<html>not found</html>")
    with pytest.raises(GGUFReadError, match="is not a GGUF file"):
        read_gguf_info(not_gguf)
    whole = tiny_gguf(tmp_path / "whole.gguf")[0].read_bytes()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(whole[:200])
    with pytest.raises(GGUFReadError, match="truncated"):
        read_gguf_info(truncated)
    with pytest.raises(GGUFReadError, match="cannot read"):
        read_gguf_info(tmp_path / "absent.gguf")
    assert not gguf_info.is_gguf(not_gguf) and gguf_info.is_gguf(tmp_path / "whole.gguf")


def test_memory_estimate_counts_weights_kv_cache_and_runtime(tmp_path: Path) -> None:
    info = read_gguf_info(tiny_gguf(tmp_path / "tiny.gguf")[0])
    # 2 layers x 2048 positions (the model's limit is below 8192) x 1 KV head x (4 + 4) values x 2 bytes (f16)
    assert gguf_info.kv_cache_bytes(info, context_window=8192) == 2 * 2048 * 8 * 2
    assert gguf_info.kv_cache_bytes(info, context_window=512) == 2 * 512 * 8 * 2
    needed = gguf_info.memory_needed(info, info.size)
    assert needed == info.size + 2 * 2048 * 8 * 2 + (300 << 20)
    assert estimate_run(info, available=needed).fits is True
    assert estimate_run(info, available=needed - 1).fits is False
    assert "does not fit" in estimate_run(info, available=10).describe()
    assert RunEstimate(needed=5, available=None).fits is None
    assert estimate_run(None, 1 << 30, available=1 << 40).needed == (1 << 30) + (300 << 20)


def test_available_memory_is_read_from_this_machine() -> None:
    available = gguf_info.available_memory()
    assert available is None or available > 0


def test_human_size() -> None:
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(1_117_320_768) == "1.0 GiB"


@pytest.mark.parametrize("name", list(CATALOG))
def test_bundled_models_headers(name: str) -> None:
    model = CATALOG[name]
    if not model.is_assembled():
        pytest.skip(
            f"bundled model {name} is not assembled at {model.cache_path()}; "
            f"`ganymede chat --model bundled:{name}` (or catalog.ensure_assembled) assembles it"
        )
    info = read_gguf_info(model.cache_path())
    assert info.architecture == "qwen2"
    assert info.quantization == "Q4_K_M"
    assert info.context_length == 32768
    assert info.has_chat_template
    assert info.size == model.size
    assert info.size_label in {"0.5B", "1.5B"}
