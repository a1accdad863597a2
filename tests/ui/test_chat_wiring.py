"""Chat tab wiring without a browser or a model: Stop must release the model, and Gradio must hand the
handlers their gr.Request / gr.EditData (it passes them only to parameters before *settings)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ganymede.apps import chat
from ganymede.core.generation import GenerationConfig
from ganymede.ui.shared import on_own_thread
from tests.fakes import ScriptedBackend

pytestmark = pytest.mark.ui


class Worker:
    """One long-lived thread, like a thread of the pool Gradio advances generators on."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            job()

    def run(self, fn: Callable[[], Any]) -> Any:
        result: queue.Queue[Any] = queue.Queue()
        self.jobs.put(lambda: result.put(fn()))
        return result.get(timeout=10)


def model_is_free(backend: ScriptedBackend) -> bool:
    """A model call from yet another thread finishes (it hangs while a stream still holds the lock)."""
    done = threading.Event()

    def call() -> None:
        backend.chat([{"role": "user", "content": "again"}])
        done.set()

    threading.Thread(target=call, daemon=True).start()
    return done.wait(5)


@pytest.mark.parametrize("how", ["closed", "dropped"])
def test_a_stream_ended_early_from_another_thread_releases_the_model(tmp_path: Path, how: str) -> None:
    backend = ScriptedBackend("one two three four five six")
    store = chat.ConversationStore(tmp_path / "conversations.db")
    turn = chat.stream_turn(backend, store, None, [], "count", "", GenerationConfig())
    replies = on_own_thread(turn)
    worker = Worker()
    first = worker.run(lambda: next(replies))
    assert first[0][-1]["role"] == "assistant"
    if how == "closed":
        replies.close()  # Gradio's cancel/reset: closed from the event loop's thread
    else:
        worker.run(lambda: None)
        del replies  # Stop: the handler leaves its loop and the generator is dropped
    assert model_is_free(backend)
    assert store.list()[0].messages[0]["content"] == "count"  # the user's message was saved before the reply


def test_errors_in_the_stream_reach_the_handler() -> None:
    def broken() -> Any:
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(on_own_thread(broken()))


def test_gradio_passes_request_and_edit_data_to_the_chat_handlers() -> None:
    from gradio.helpers import EventData, special_args

    from ganymede.ui.app import build_app

    handlers = {f.name: f for f in build_app().fns.values()}
    event = EventData(None, {"index": 0, "value": "edited text", "previous_value": "text"})
    for name, position in (("respond", 4), ("regenerate", 3), ("edited", 4), ("request_stop", 0)):
        fn = handlers[name]
        inputs, _, _, _ = special_args(fn.fn, [f"in{i}" for i in range(len(fn.inputs))], "REQUEST", event)
        assert inputs[position] == "REQUEST", name
    inputs, _, event_index, _ = special_args(handlers["edited"].fn, ["h", "c", "s", "m"], "REQUEST", event)
    assert event_index == 3 and inputs[3].value == "edited text"


def test_every_handler_that_declares_progress_receives_it() -> None:
    import inspect

    import gradio as gr
    from gradio.helpers import special_args

    from ganymede.ui.app import build_app

    checked = 0
    for fn in build_app().fns.values():
        declared = [p for p in inspect.signature(fn.fn).parameters.values() if isinstance(p.default, gr.Progress)]
        if declared:
            _, progress_index, _, _ = special_args(fn.fn, [f"in{i}" for i in range(len(fn.inputs))])
            assert progress_index is not None, f"{fn.name}: gr.Progress after *settings is never passed"
            checked += 1
    assert checked >= 4  # entities, translate text and file, summarize files
