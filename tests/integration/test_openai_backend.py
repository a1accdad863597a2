"""`ganymede serve` on the real small model over real HTTP on 127.0.0.1, driven by the official openai SDK,
LangChain's ChatOpenAI, and Ganymede's own openai backend: the end-to-end test of both sides."""

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from ganymede.core.backends import load_backend
from ganymede.core.errors import BackendUnavailableError
from ganymede.core.generation import GenerationConfig
from ganymede.core.server import create_app
from tests.integration import backend_contract as contract

pytestmark = pytest.mark.model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(small_backend):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(small_backend), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield f"{url}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_official_client_lists_models_and_answers(server_url, small_backend):
    served = small_backend.ref.raw
    from openai import OpenAI

    client = OpenAI(base_url=server_url, api_key="unused")
    assert [m.id for m in client.models.list()] == [small_backend.ref.raw]
    messages = [{"role": "user", "content": "Count from 1 to 10, separated by commas. Output only the numbers."}]
    answer = client.chat.completions.create(model=served, messages=messages, temperature=0, max_tokens=24)
    text = answer.choices[0].message.content
    assert contract.counts(text)
    stream = client.chat.completions.create(model=served, messages=messages, temperature=0, max_tokens=24, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert streamed == text


def test_langchain_chat_openai(server_url, small_backend):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        base_url=server_url, api_key="unused", model=small_backend.ref.name, temperature=0, max_tokens=24
    )
    assert contract.counts(model.invoke(contract.COUNT[0]["content"]).content)


@pytest.fixture(scope="module")
def remote_backend(server_url, small_backend):
    return load_backend(f"openai:{small_backend.ref.name}@{server_url}")


def test_openai_backend_contract(remote_backend):
    contract.check_greedy_is_deterministic(remote_backend)
    contract.check_stream_joins_to_full_text(remote_backend)
    contract.check_stop(remote_backend)
    result = remote_backend.chat(contract.COUNT, GenerationConfig(greedy=True, max_new_tokens=4))
    assert result.usage.completion_tokens <= 4


def test_openai_backend_batch_runs_concurrently_and_in_order(remote_backend):
    prompts = [[{"role": "user", "content": f"Reply with the number {n} only."}] for n in (3, 8, 5)]
    texts = [r.text for r in remote_backend.chat_batch(prompts, GenerationConfig(greedy=True, max_new_tokens=6))]
    assert [t.strip().rstrip(".") for t in texts] == ["3", "8", "5"]


def test_unreachable_server_is_a_clear_error():
    backend = load_backend("openai:nothing@http://127.0.0.1:9/v1")
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        backend.chat([{"role": "user", "content": "hi"}])
