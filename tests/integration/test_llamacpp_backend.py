import pytest

from ganymede.core.generation import GenerationConfig
from tests.integration import backend_contract as contract

pytestmark = pytest.mark.model


def test_greedy_is_deterministic(small_backend):
    contract.check_greedy_is_deterministic(small_backend)


def test_stream_joins_to_full_text(small_backend):
    contract.check_stream_joins_to_full_text(small_backend)


def test_max_new_tokens(small_backend):
    contract.check_max_new_tokens(small_backend)


def test_stop(small_backend):
    contract.check_stop(small_backend)


def test_context_window_is_enforced(small_backend):
    contract.check_context_window_is_enforced(small_backend)


def test_default_model_follows_an_instruction(default_backend):
    contract.check_arithmetic(default_backend)


def test_seeded_sampling_is_reproducible(small_backend):
    config = GenerationConfig(temperature=1.0, seed=7, max_new_tokens=20)
    prompt = [{"role": "user", "content": "Write a short poem about the sea."}]
    assert small_backend.chat(prompt, config).text == small_backend.chat(prompt, config).text


def test_native_tool_call(default_backend):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    result = default_backend.chat(
        [{"role": "user", "content": "What's the weather in Paris right now?"}],
        GenerationConfig(greedy=True, max_new_tokens=64),
        tools=tools,
    )
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    assert "paris" in result.tool_calls[0].arguments["city"].lower()
