import json

import pytest

from ganymede.apps.chat.conversation import (
    INCOMPLETE,
    ChatTurn,
    Conversation,
    carry_marks,
    fit_history,
    incomplete_reply,
    split_last_user,
    stream_turn,
)
from ganymede.apps.chat.export import export_text
from ganymede.apps.chat.store import ConversationStore
from ganymede.core.errors import ContextWindowExceededError, GanymedeError
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
        {"role": "assistant", "content": partial, INCOMPLETE: True},
    ]


def test_split_last_user_for_retry_and_undo():
    history = turns(4)
    before, text = split_last_user(history)
    assert before == history[:2]
    assert text == history[2]["content"]


def test_the_users_message_is_committed_before_generation_starts(tmp_path):
    path = tmp_path / "c.db"
    seen_by_the_model: list[list[dict]] = []

    def answer(messages: list[dict]) -> str:  # runs when generation starts: read the store as another process would
        seen_by_the_model.append([c.messages for c in ConversationStore(path).list()])
        return "fine thanks"

    store = ConversationStore(path)
    conv = Conversation.new("sys")
    turn = ChatTurn(ScriptedBackend(answer), store, conv, "how are you?", "sys", GenerationConfig())
    assert store.get(conv.id).messages == [{"role": "user", "content": "how are you?"}]  # before any iteration
    assert "".join(turn) == "fine thanks"
    assert seen_by_the_model == [[[{"role": "user", "content": "how are you?"}]]]
    assert store.get(conv.id).messages[-1] == {"role": "assistant", "content": "fine thanks"}  # complete: no mark
    assert turn.completion is not None and turn.completion.text == "fine thanks"


def test_the_reply_is_saved_while_it_streams_marked_incomplete(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys")
    turn = ChatTurn(
        ScriptedBackend("one two three"), store, conv, "count", "sys", GenerationConfig(), checkpoint_seconds=0
    )
    saved_while_streaming = []
    answer = ""
    for delta in turn:
        answer += delta
        saved_while_streaming.append(store.get(conv.id).messages[-1])
    assert saved_while_streaming == [
        {"role": "assistant", "content": "one", INCOMPLETE: True},
        {"role": "assistant", "content": "one two", INCOMPLETE: True},
        {"role": "assistant", "content": "one two three", INCOMPLETE: True},
    ]
    assert store.get(conv.id).messages[-1] == {"role": "assistant", "content": "one two three"}


def test_the_first_piece_is_saved_at_once_and_later_ones_at_the_checkpoint_interval(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys")
    turn = ChatTurn(
        ScriptedBackend("one two three"), store, conv, "count", "sys", GenerationConfig(), checkpoint_seconds=3600
    )
    saved = [store.get(conv.id).messages[-1]["content"] for _ in turn]
    assert saved == ["one", "one", "one"]  # an hour between saves: only the first piece was written mid-stream


class FailingBackend(ScriptedBackend):
    """Streams two words, then the server goes away."""

    def _stream(self, messages, config, tools):
        yield "half"
        yield " an"
        raise GanymedeError("the server went away", "start it again")


def test_a_reply_that_fails_midway_is_kept_marked_incomplete(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys")
    turn = ChatTurn(FailingBackend(), store, conv, "tell me", "sys", GenerationConfig(), checkpoint_seconds=3600)
    with pytest.raises(GanymedeError, match="went away"):
        list(turn)
    assert store.get(conv.id).messages == [
        {"role": "user", "content": "tell me"},
        {"role": "assistant", "content": "half an", INCOMPLETE: True},
    ]


def test_a_message_too_long_for_the_window_is_refused_before_anything_is_saved(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys")
    with pytest.raises(ContextWindowExceededError):
        ChatTurn(ScriptedBackend("ok", context_window=50), store, conv, "w " * 200, "sys", GenerationConfig())
    assert store.list() == []


def test_an_incomplete_reply_stays_marked_when_the_conversation_goes_on(tmp_path):
    store = ConversationStore(tmp_path / "c.db")
    conv = Conversation.new("sys")
    conv.messages = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "cut o", INCOMPLETE: True}]
    store.save(conv)
    assert incomplete_reply(store.get(conv.id).messages) == conv.messages[-1]
    # The UI sends its history back as Gradio blocks, without the mark.
    shown = [
        {"role": "user", "content": [{"type": "text", "text": "q1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "cut o"}]},
    ]
    assert carry_marks(shown, conv.messages) == conv.messages
    backend = ScriptedBackend("a2")
    *_, (_, _, conv_id) = stream_turn(backend, store, conv.id, shown, "q2", "sys", GenerationConfig())
    assert store.get(conv_id).messages == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "cut o", INCOMPLETE: True},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    ]
    assert incomplete_reply(store.get(conv_id).messages) is None
    # The model gets the cut-off reply as plain history.
    assert backend.calls[0][0][2] == {"role": "assistant", "content": "cut o"}
    assert "*(incomplete" in export_text(store.get(conv_id), "markdown")
