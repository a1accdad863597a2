"""The transformers backend on the bundled 0.5B GGUF (dequantized once, cached as safetensors),
and the same weights loaded again from that local Hugging Face folder by path."""

import pytest

from ganymede.core.backends import load_backend
from ganymede.core.generation import GenerationConfig
from ganymede.core.settings import SMALL_MODEL
from tests.integration import backend_contract as contract

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def hf_backend():
    return load_backend(SMALL_MODEL, backend="transformers")


def test_greedy_is_deterministic(hf_backend):
    contract.check_greedy_is_deterministic(hf_backend)


def test_stream_joins_to_full_text(hf_backend):
    contract.check_stream_joins_to_full_text(hf_backend)


def test_max_new_tokens(hf_backend):
    contract.check_max_new_tokens(hf_backend)


def test_stop(hf_backend):
    contract.check_stop(hf_backend)


def test_batch_with_left_padding_matches_single_requests(hf_backend):
    config = GenerationConfig(greedy=True, max_new_tokens=12)
    prompts = [
        [{"role": "user", "content": "Name the capital of France in one word."}],
        [{"role": "user", "content": "Count from 1 to 5, separated by commas. Output only the numbers."}],
    ]
    batch = hf_backend.chat_batch(prompts, config)
    assert len(batch) == 2
    assert "Paris" in batch[0].text
    assert contract.counts(batch[1].text)


def test_local_folder_reference_loads_the_cached_conversion(hf_backend):
    from ganymede.core.backends.transformers import _converted_cache

    folder = _converted_cache(hf_backend.ref)
    assert (folder / "config.json").is_file()
    assert list(folder.glob("*.safetensors"))
    by_path = load_backend(str(folder))
    assert by_path.name == "transformers"
    question = [{"role": "user", "content": "Count from 1 to 5, separated by commas. Output only the numbers."}]
    assert contract.counts(by_path.chat(question, GenerationConfig(greedy=True, max_new_tokens=16)).text)


def test_batch_sharing_a_prefix_matches_single_requests():
    """A few-shot batch computes its shared system prompt once; every row still gets exactly the reply it
    would get alone (float32, so batched and single arithmetic agree)."""
    backend = load_backend(SMALL_MODEL, backend="transformers", dtype="float32")
    system = {"role": "system", "content": "You answer in one short sentence. " * 20}
    questions = ["What is the capital of France?", "Name a large mammal that lives in the ocean.", "What is 2 + 3?"]
    batch = [[system, {"role": "user", "content": q}] for q in questions]
    config = GenerationConfig(greedy=True, max_new_tokens=16)
    together = backend.chat_batch(batch, config)
    alone = [backend.chat(messages, config) for messages in batch]
    assert [c.text for c in together] == [c.text for c in alone]
    assert "Paris" in together[0].text
