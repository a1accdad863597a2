"""The shared behaviour every backend gets from core.backends.base: context checks, streaming, logging."""

import pytest

from ganymede.core import calllog
from ganymede.core.calllog import call_context
from ganymede.core.errors import ContextWindowExceededError
from ganymede.core.generation import GenerationConfig
from tests.fakes import ScriptedBackend


def test_prompt_over_the_context_window_is_refused():
    backend = ScriptedBackend("ok", context_window=10)
    with pytest.raises(ContextWindowExceededError, match="context window of 10"):
        backend.chat([{"role": "user", "content": "word " * 20}])
    assert backend.calls == []  # refused before the model was called


def test_max_new_tokens_is_clipped_to_the_room_left():
    backend = ScriptedBackend("ok", context_window=50)
    backend.chat([{"role": "user", "content": "one two three"}], GenerationConfig(max_new_tokens=500))
    _, config, _ = backend.calls[0]
    assert config.max_new_tokens == 50 - backend.count_tokens([{"role": "user", "content": "one two three"}])


def test_stream_deltas_join_to_the_completion():
    backend = ScriptedBackend("the quick brown fox")
    stream = backend.stream([{"role": "user", "content": "hi"}])
    deltas = list(stream)
    assert len(deltas) == 4
    assert "".join(deltas) == "the quick brown fox" == stream.completion.text
    assert stream.completion.usage.completion_tokens == 4


def test_block_content_from_gradio_is_flattened():
    backend = ScriptedBackend("ok")
    backend.chat([{"role": "user", "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}]}])
    assert backend.calls[0][0][0]["content"] == "hello there"


def test_every_call_is_logged_with_app_and_settings():
    backend = ScriptedBackend("logged answer")
    with call_context(app="unit-test", template="t1"):
        backend.chat([{"role": "user", "content": "question"}], GenerationConfig(temperature=0.3))
    row = calllog.recent(1, app="unit-test")[0]
    assert row["response"] == "logged answer"
    assert row["template"] == "t1"
    assert '"temperature": 0.3' in row["settings"]
    assert "question" in row["messages"]


def test_failed_calls_are_logged_with_the_error():
    def explode(messages):
        raise RuntimeError("server on fire")

    backend = ScriptedBackend(explode)
    with call_context(app="unit-fail"), pytest.raises(RuntimeError):
        backend.chat([{"role": "user", "content": "q"}])
    assert calllog.recent(1, app="unit-fail")[0]["error"] == "server on fire"


def test_chat_batch_returns_one_completion_per_prompt():
    backend = ScriptedBackend(lambda messages: messages[-1]["content"].upper())
    results = backend.chat_batch([[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]])
    assert [r.text for r in results] == ["A", "B"]


def test_streams_consumed_later_keep_their_app_label():
    backend = ScriptedBackend("streamed words")
    with call_context(app="unit-stream"):
        stream = backend.stream([{"role": "user", "content": "q"}])
    stream.text()
    assert calllog.recent(1, app="unit-stream")[0]["response"] == "streamed words"


def test_a_stream_closed_from_another_thread_releases_the_model():
    import threading

    backend = ScriptedBackend("one two three four")
    stream = iter(backend.stream([{"role": "user", "content": "hi"}]))
    started, done = threading.Event(), threading.Event()

    def consume() -> None:  # a UI worker starts the reply and stays alive (thread ids are reused once one ends)
        next(stream)
        started.set()
        done.wait(timeout=30)

    consumer = threading.Thread(target=consume)
    consumer.start()
    started.wait(timeout=30)
    stopper = threading.Thread(target=stream.close)  # a Stop handler on another thread ends the reply
    stopper.start()
    stopper.join()
    answered: list[str] = []
    caller = threading.Thread(
        target=lambda: answered.append(backend.chat([{"role": "user", "content": "x"}]).text), daemon=True
    )
    caller.start()
    caller.join(timeout=10)
    done.set()
    consumer.join()
    assert answered == ["one two three four"], "the model's lock was still held after the stream was closed"
