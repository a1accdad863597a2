"""Chat tab: streaming, stop, retry, undo, edit, system prompt, saved conversations.

A turn is a `stream_turn`: the user's message is saved before generation starts and the reply while it streams, so
a Stop, a closed tab or a crashed server keeps both; a conversation whose last reply was cut off says so when it is
opened (Retry asks again)."""

from __future__ import annotations

import tempfile
from typing import Any

import gradio as gr

from ganymede.apps.chat.conversation import PROMPT, carry_marks, incomplete_reply, split_last_user, stream_turn
from ganymede.apps.chat.export import export_file
from ganymede.apps.chat.store import ConversationStore
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh


def incomplete_note(messages: list[Any]) -> str:
    """The note under the chat when the conversation's last reply did not finish (else nothing)."""
    if incomplete_reply(messages) is None:
        return ""
    return (
        "*The last reply is incomplete: it was stopped, or the program ended while it was being written. "
        "Retry asks again, or carry on.*"
    )


def build(shared: sh.Shared) -> None:
    spec = load_prompt(PROMPT)
    store = ConversationStore()

    def conversation_choices() -> list[tuple[str, str]]:
        return [(c.title, c.id) for c in store.list()]

    conv_id = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1, min_width=220):
            new_btn = gr.Button("New chat", variant="secondary")
            conversations = gr.Radio(choices=conversation_choices(), label="Saved conversations", value=None)
            title = gr.Textbox(label="Title", placeholder="Rename the open conversation")
            with gr.Row():
                rename_btn = gr.Button("Rename", size="sm")
                delete_btn = gr.Button("Delete", size="sm", variant="stop")
            with gr.Row():
                export_json = gr.Button("Export JSON", size="sm")
                export_md = gr.Button("Export Markdown", size="sm")
            export_download = gr.File(label="Export", interactive=False)
        with gr.Column(scale=4):
            system = gr.Textbox(value=spec.system, label="System prompt", lines=2)
            chatbot = gr.Chatbot(label="Chat", height=480, editable="user", sanitize_html=True, elem_id="chatbot")
            note = gr.Markdown(elem_id="chat-note")
            with gr.Row():
                message = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, scale=5)
                send = gr.Button("Send", variant="primary", scale=1)
                stop = gr.Button("Stop", variant="stop", scale=1)

    # Sessions whose Stop was pressed. The reply ends itself at the next token, so the event completes normally:
    # Gradio's `cancels=` races its own "completed" message and often leaves the chat showing "Error".
    stop_requested: set[str] = set()

    def request_stop(request: gr.Request) -> None:
        stop_requested.add(request.session_hash or "")

    # Gradio passes gr.Request and gr.EditData only to parameters before *settings (positional ones).
    @sh.user_errors
    def respond(
        text: str,
        history: list[dict[str, Any]],
        cid: str | None,
        system_prompt: str,
        request: gr.Request | None,
        *settings: Any,
    ):
        if not text.strip():
            raise gr.Error("Type a message first.")
        session = (request.session_hash or "") if request else ""
        stop_requested.discard(session)
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        turn = stream_turn(backend, store, cid, history, text, system_prompt, config)
        for messages, trim_note, new_id in sh.on_own_thread(turn):
            yield messages, f"*{trim_note}*" if trim_note else "", new_id, ""
            if session in stop_requested:
                break
        stop_requested.discard(session)

    @sh.user_errors
    def regenerate(
        history: list[dict[str, Any]], cid: str | None, system_prompt: str, request: gr.Request, *settings: Any
    ):
        before, text = split_last_user(history)
        yield from respond(text, before, cid, system_prompt, request, *settings)

    @sh.user_errors
    def edited(
        history: list[dict[str, Any]],
        cid: str | None,
        system_prompt: str,
        evt: gr.EditData,
        request: gr.Request,
        *settings: Any,
    ):
        before = history[: evt.index]
        yield from respond(str(evt.value), before, cid, system_prompt, request, *settings)

    def undo(history: list[dict[str, Any]], cid: str | None) -> tuple[list[dict[str, Any]], str]:
        before, text = split_last_user(history)
        if cid:
            conv = store.get(cid)
            conv.messages = carry_marks(before, conv.messages)
            store.save(conv)
        return before, text

    def refresh_list(cid: str | None) -> Any:
        return gr.update(choices=conversation_choices(), value=cid)

    def open_conversation(cid: str | None) -> tuple[Any, Any, Any, Any, Any]:
        if not cid:
            return gr.update(), gr.update(), None, gr.update(), gr.update()
        conv = store.get(cid)
        shown = [{"role": m["role"], "content": m["content"]} for m in conv.messages]
        return shown, conv.system_prompt or spec.system, cid, conv.title, incomplete_note(conv.messages)

    def new_chat() -> tuple[list[Any], str, None, str, Any, str]:
        return [], spec.system, None, "", gr.update(value=None), ""

    @sh.user_errors
    def rename(cid: str | None, new_title: str) -> Any:
        if not cid:
            raise gr.Error("Open or start a conversation first.")
        store.rename(cid, new_title)
        return refresh_list(cid)

    def delete(cid: str | None) -> tuple[Any, list[Any], None]:
        if cid:
            store.delete(cid)
        return gr.update(choices=conversation_choices(), value=None), [], None

    @sh.user_errors
    def export(cid: str | None, fmt: str) -> str:
        if not cid:
            raise gr.Error("Open or start a conversation first.")
        # A fresh folder per download: Gradio serves the file from there.
        return str(export_file(store.get(cid), fmt, tempfile.mkdtemp(prefix="ganymede-export-")))

    turn_inputs = [chatbot, conv_id, system, *shared.inputs]
    turn_outputs = [chatbot, note, conv_id, message]
    for trigger in (message.submit, send.click):
        trigger(respond, [message, *turn_inputs], turn_outputs).then(refresh_list, conv_id, conversations)
    chatbot.retry(regenerate, turn_inputs, turn_outputs).then(refresh_list, conv_id, conversations)
    chatbot.edit(edited, turn_inputs, turn_outputs).then(refresh_list, conv_id, conversations)
    stop.click(request_stop, None, None, queue=False, api_visibility="private")
    chatbot.undo(undo, [chatbot, conv_id], [chatbot, message])
    conversations.input(open_conversation, conversations, [chatbot, system, conv_id, title, note])
    # The list's choices were read when the app was built: reread them on every page load.
    gr.on(None, lambda: gr.update(choices=conversation_choices()), None, conversations, api_visibility="private")
    new_btn.click(new_chat, None, [chatbot, system, conv_id, title, conversations, note])
    rename_btn.click(rename, [conv_id, title], conversations)
    delete_btn.click(delete, conv_id, [conversations, chatbot, conv_id])
    export_json.click(lambda cid: export(cid, "json"), conv_id, export_download)
    export_md.click(lambda cid: export(cid, "markdown"), conv_id, export_download)
