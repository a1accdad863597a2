"""`ganymede serve` against clients that misbehave: bad requests, no key, a stream dropped halfway, tools.

The server runs for real (uvicorn on 127.0.0.1) over a scripted backend that generates slowly, so a dropped
stream and the official `openai` client are exercised over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ganymede.core.errors import GanymedeError
from ganymede.core.server import check_binding, create_app
from tests.fakes import ScriptedBackend, tool_call_reply

USER = [{"role": "user", "content": "hi"}]


class SlowBackend(ScriptedBackend):
    """Streams one word every 50 ms and counts the words it generated."""

    def __init__(self, words: int = 200) -> None:
        super().__init__(" ".join(f"w{i}" for i in range(words)))
        self.generated = 0

    def _stream(self, messages, config, tools) -> Iterator[str]:  # type: ignore[override]
        for i, word in enumerate(self.replies.split(" ")):  # type: ignore[union-attr]
            time.sleep(0.05)
            self.generated += 1
            yield word if i == 0 else " " + word


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server():
    servers = []

    def start(backend, api_key=None) -> str:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(backend, api_key=api_key), host="127.0.0.1", port=port, log_level="error")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the test server did not start")

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_dropped_stream_frees_the_model_for_the_next_request(live_server):
    backend = SlowBackend(words=200)  # 10 s of generation if nobody stopped it
    url = live_server(backend)
    body = {"messages": USER, "stream": True, "max_tokens": 400}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=10) as response:
        events = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                events += 1
            if events == 3:
                break  # the client goes away after 3 events
    deadline = time.monotonic() + 5
    while backend.lock.locked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend.lock.locked(), "the model is still held by a client that left"
    assert backend.generated < 100, f"generation went on after the client left ({backend.generated} words)"
    backend.replies = "pong"
    answer = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": 8}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "pong"


BAD_REQUESTS = [
    ({"messages": []}, 400, "messages"),
    ({"messages": [{"content": "no role"}]}, 400, "messages[0].role"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role"),
    ({}, 400, "messages"),
    ({"messages": "hello"}, 400, "messages"),
    ({"messages": USER, "tools": [{"type": "function"}]}, 400, "tools[0].function"),
    ({"messages": USER, "tools": [{"type": "retrieval", "function": {"name": "f"}}]}, 400, "tools[0].type"),
    ({"messages": USER, "n": 3}, 400, "n"),
    ({"messages": USER, "logprobs": True}, 400, "logprobs"),
    ({"messages": USER, "frequency_penalty": 0.5}, 400, "frequency_penalty"),
    ({"messages": USER, "made_up_argument": 1}, 400, "made_up_argument"),
    ({"messages": USER, "tool_choice": "required"}, 400, "tool_choice"),
    ({"messages": USER, "max_tokens": 0}, 400, "max_tokens"),
    ({"messages": USER, "top_p": 5}, 400, None),
    ({"messages": USER, "model": "gpt-4o"}, 404, "model"),
]


@pytest.mark.parametrize(("body", "status", "param"), BAD_REQUESTS)
def test_every_bad_request_is_an_openai_shaped_4xx(body, status, param):
    client = TestClient(create_app(ScriptedBackend("x")), raise_server_exceptions=False)
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error


def test_a_body_that_is_not_json_is_a_400():
    client = TestClient(create_app(ScriptedBackend("x")), raise_server_exceptions=False)
    response = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_the_served_model_answers_by_its_listed_id_and_short_name():
    backend = ScriptedBackend("x")
    client = TestClient(create_app(backend))
    listed = client.get("/v1/models").json()["data"][0]["id"]
    for name in (listed, backend.ref.name, None):
        body = {"messages": USER} | ({"model": name} if name else {})
        assert client.post("/v1/chat/completions", json=body).status_code == 200


def test_an_api_key_is_required_when_set():
    client = TestClient(create_app(ScriptedBackend("x"), api_key="s3cret"))
    assert client.post("/v1/chat/completions", json={"messages": USER}).status_code == 401
    wrong = client.post("/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/models").status_code == 401
    right = client.post("/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert client.get("/health").status_code == 200  # liveness probes carry no key


def test_serving_beyond_loopback_needs_a_key():
    for host in ("127.0.0.1", "localhost", "::1"):
        check_binding(host, None)
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(GanymedeError, match="API key"):
            check_binding(host, None)
        check_binding(host, "key")


def test_streamed_tool_calls_reach_the_official_client(live_server):
    from openai import OpenAI

    backend = ScriptedBackend(tool_call_reply("get_weather", city="Oslo"))
    client = OpenAI(base_url=f"{live_server(backend, api_key='k')}/v1", api_key="k")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    stream = client.chat.completions.create(model=backend.ref.raw, messages=USER, tools=tools, stream=True)
    chunks = list(stream)
    calls = [call for chunk in chunks for call in (chunk.choices[0].delta.tool_calls or [])]
    assert [c.function.name for c in calls] == ["get_weather"]
    assert calls[0].function.arguments == '{"city": "Oslo"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert not any(chunk.choices[0].delta.content for chunk in chunks)

    plain = client.chat.completions.create(model=backend.ref.raw, messages=USER, tools=tools)
    assert plain.choices[0].finish_reason == "tool_calls"
    assert plain.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_finish_reason_is_length_when_the_budget_ran_out(live_server):
    from openai import OpenAI

    backend = ScriptedBackend("one two three four five")
    client = OpenAI(base_url=f"{live_server(backend)}/v1", api_key="unused")
    cut = client.chat.completions.create(model=backend.ref.raw, messages=USER, max_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    full = client.chat.completions.create(model=backend.ref.raw, messages=USER, max_tokens=50, stream=True)
    assert [c.choices[0].finish_reason for c in full][-1] == "stop"
