import json

import pytest

from ganymede.apps.chat.conversation import Conversation, fit_history, split_last_user, stream_turn
from ganymede.apps.chat.export import export_text
from ganymede.apps.chat.store import ConversationStore
from ganymede.core.errors import ContextWindowExceededError
from ganymede.core.generation import GenerationConfig
from tests.fakes import ScriptedBackend


def turns(n: int, words_each: int = 10) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": f"turn{i} " + "w " * (words_each - 1)} for i in range(n)]


def test_history_that_fits_is_kept_whole():
    backend = ScriptedBackend("ok", context_window=1000)
    messages = [{"role": "system", "content": "be brief"}, *turns(5)]
    fitted = fit_history(backend, messages, GenerationConfig(max_new_tokens=50))
    assert fitted.messages == messages
    assert fitted.note is None


def test_oldest_exchanges_are_dropped_with_a_note_and_system_kept():
    backend = ScriptedBackend("ok", context_window=100)
    messages = [{"role": "system", "content": "be brief"}, *turns(11)]
    fitted = fit_history(backend, messages, GenerationConfig(max_new_tokens=25))
    assert fitted.messages[0]["role"] == "system"
    assert fitted.messages[1]["role"] == "user"  # never starts with an orphaned reply
    assert fitted.messages[-1] == messages[-1]
    assert fitted.dropped_turns > 0
    assert str(fitted.dropped_turns) in fitted.note
    assert backend.count_tokens(fitted.messages) + 25 <= 100


def test_one_message_too_long_is_a_clear_error():
    backend = ScriptedBackend("ok", context_window=50)
    with pytest.raises(ContextWindowExceededError, match="context window is 50"):
        fit_history(backend, [{"role": "user", "content": "w " * 200}], GenerationConfig())


def test_store_round_trip_rename_delete_and_exports(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys", "bundled:x")
    conv.messages = [{"role": "user", "content": "What is Ganymede?"}, {"role": "assistant", "content": "A moon."}]
    store.save(conv)
    again = ConversationStore(tmp_path / "c.db").get(conv.id)  # a new store: survives restarts
    assert again.messages == conv.messages
    assert again.title == "What is Ganymede?"
    store.rename(conv.id, "Moons")
    assert store.list()[0].title == "Moons"
    assert json.loads(json.dumps(again.to_dict()))["messages"][1]["content"] == "A moon."
    assert "**Assistant:**" in export_text(again, "markdown") and "A moon." in export_text(again, "markdown")
    store.delete(conv.id)
    assert store.list() == []


def test_stream_turn_saves_user_message_and_answer(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    backend = ScriptedBackend("Hello there friend")
    steps = list(stream_turn(backend, store, None, [], "hi", "sys", GenerationConfig()))
    messages, _, conv_id = steps[-1]
    assert messages[-1] == {"role": "assistant", "content": "Hello there friend"}
    assert len(steps) > 2  # streamed in pieces
    saved = store.get(conv_id)
    assert saved.messages == messages
    sent = backend.calls[0][0]
    assert sent[0] == {"role": "system", "content": "sys"}


def test_a_stopped_answer_is_saved_as_far_as_it_got(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    turn = stream_turn(ScriptedBackend("one two three four"), store, None, [], "count", "sys", GenerationConfig())
    messages, _, conv_id = next(turn)
    partial = messages[-1]["content"]
    assert partial and partial != "one two three four"
    turn.close()  # what the UI's Stop does
    assert store.get(conv_id).messages == [
        {"role": "user", "content": "count"},
        {"role": "assistant", "content": partial},
    ]


def test_split_last_user_for_retry_and_undo():
    history = turns(4)
    before, text = split_last_user(history)
    assert before == history[:2]
    assert text == history[2]["content"]
