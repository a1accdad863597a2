"""Control flow of the OpenAI-compatible server and the LangChain adapter, on the scripted backend.
The same paths run against the real model over real HTTP in tests/integration/test_openai_backend.py."""

import json

from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from ganymede.core.langchain import GanymedeChatModel
from ganymede.core.server import create_app
from tests.fakes import ScriptedBackend, tool_call_reply


def test_chat_completion_maps_settings_and_usage():
    backend = ScriptedBackend("four")
    client = TestClient(create_app(backend))
    body = {"messages": [{"role": "user", "content": "2+2?"}], "temperature": 0, "max_tokens": 7}
    data = client.post("/v1/chat/completions", json=body).json()
    assert data["choices"][0]["message"]["content"] == "four"
    assert data["usage"]["completion_tokens"] == 1
    _, config, _ = backend.calls[0]
    assert config.is_greedy and config.max_new_tokens == 7


def test_streaming_is_server_sent_events_ending_in_done():
    client = TestClient(create_app(ScriptedBackend("a b c")))
    body = {"messages": [{"role": "user", "content": "x"}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    deltas = [json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1]]
    assert "".join(deltas) == "a b c"


def test_bad_settings_and_long_prompts_are_400_not_500():
    client = TestClient(create_app(ScriptedBackend("x", context_window=5)))
    bad = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "top_p": 5})
    assert bad.status_code == 400 and "top_p" in bad.json()["error"]["message"]
    long = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "w " * 50}]})
    assert long.status_code == 400 and long.json()["error"]["type"] == "context_length_exceeded"


def test_tool_calls_are_returned_in_openai_shape():
    backend = ScriptedBackend(tool_call_reply("get_weather", city="Oslo"))
    client = TestClient(create_app(backend))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    data = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "w?"}], "tools": tools})
    call = data.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert backend.calls[0][2] == tools


def test_langchain_adapter_passes_bound_tools_to_the_backend():
    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    backend = ScriptedBackend(tool_call_reply("multiply", a=6, b=7))
    model = GanymedeChatModel(backend=backend).bind_tools([multiply])
    message = model.invoke([HumanMessage("6 times 7?")])
    assert message.tool_calls[0]["name"] == "multiply"
    assert message.tool_calls[0]["args"] == {"a": 6, "b": 7}
    sent_tools = backend.calls[0][2]
    assert sent_tools[0]["function"]["name"] == "multiply"


def test_langchain_adapter_streams():
    model = GanymedeChatModel(backend=ScriptedBackend("one two three"))
    assert "".join(chunk.content for chunk in model.stream("count")) == "one two three"
