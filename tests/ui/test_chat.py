"""Chat tab in a real browser: a streamed reply, Stop mid-stream, HTML in replies, and conversations that
survive a page reload and a server restart."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.ui.helpers import (
    UIServer,
    block,
    error_badges,
    screenshot,
    shown,
    toasts,
    use_settings,
    wait_for_result,
    wait_until_idle,
)

pytestmark = [pytest.mark.ui, pytest.mark.model]

BOT = "#chatbot [data-testid=bot]"

#: Records every distinct text the last bot message shows, so the test can see the reply grow.
WATCH_STREAM = """() => {
    window.__ganymedeSeen = [];
    const chat = document.querySelector('#chatbot');
    new MutationObserver(() => {
        const bots = chat.querySelectorAll('[data-testid=bot]');
        const text = bots.length ? bots[bots.length - 1].innerText.trim() : '';
        const seen = window.__ganymedeSeen;
        if (text && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def send(page: Any, text: str) -> None:
    box = page.get_by_placeholder("Type a message and press Enter")
    box.fill(text)
    box.press("Enter")


def bot_text(page: Any) -> str:
    return page.locator(BOT).last.inner_text().strip()


def saved_conversation(page: Any, title: str) -> Any:
    return block(page, "Saved conversations").get_by_role("radio", name=title)


def test_reply_streams_into_the_chat_and_is_saved(page: Any) -> None:
    use_settings(page, max_new_tokens=32)
    page.evaluate(WATCH_STREAM)
    send(page, "List the first four planets of the solar system, separated by commas.")
    wait_for_result(page, shown(page.locator(BOT)), "reply")
    wait_until_idle(page)
    final = bot_text(page)
    seen = page.evaluate("window.__ganymedeSeen")
    assert "Mercury" in final
    assert len(seen) >= 2 and len(seen[0]) < len(final), f"the reply did not stream: {seen}"
    assert page.locator("#chatbot [data-testid=user]").last.inner_text().startswith("List the first four planets")
    saved_conversation(page, "List the first four planets").wait_for()
    screenshot(page, "chat")


def test_stop_ends_the_reply_mid_stream_and_the_chat_goes_on(page: Any, ui_server: UIServer) -> None:
    use_settings(page, max_new_tokens=256)
    send(page, "Count from 1 to 200, separated by commas.")
    wait_for_result(page, lambda: page.locator(BOT).count() > 0 and len(bot_text(page)) > 8, "reply")
    page.get_by_role("button", name="Stop").click()
    wait_until_idle(page, timeout=30_000)
    stopped = bot_text(page)
    time.sleep(2)
    assert bot_text(page) == stopped, "the reply kept growing after Stop"
    assert "200" not in stopped
    assert error_badges(page) == 0 and not toasts(page), "Stop left an error on the page"
    # The model is free again: the next message is answered (a stream closed by Stop must release the model).
    use_settings(page, max_new_tokens=16)
    send(page, "Reply with the single word: OK")
    wait_for_result(page, shown(page.locator(BOT).nth(1)), "second reply")
    wait_until_idle(page)
    assert bot_text(page)
    assert "cannot release un-acquired lock" not in ui_server.log_tail(20_000)


def test_html_in_a_reply_is_shown_as_text_not_run(page: Any) -> None:
    from ganymede.apps.chat import Conversation, ConversationStore

    store = ConversationStore()
    conv = Conversation.new()
    conv.title = "HTML injection check"
    conv.messages = [
        {"role": "user", "content": "Show me some HTML"},
        {
            "role": "assistant",
            "content": 'Here: <script>window.__ganymedeXss = 1</script><img src="x" onerror="window.__ganymedeXss = 2">'
            "<b>still here</b>",
        },
    ]
    store.save(conv)
    page.reload()  # the conversation list is reread on every page load
    saved_conversation(page, "HTML injection check").check()
    page.locator(BOT).first.wait_for()
    page.wait_for_timeout(500)
    assert "still here" in bot_text(page)
    assert page.evaluate("window.__ganymedeXss") is None
    assert page.locator("#chatbot script").count() == 0
    assert page.locator("#chatbot [onerror]").count() == 0


def test_a_conversation_whose_last_reply_was_cut_off_says_so_when_opened(page: Any) -> None:
    from ganymede.apps.chat import Conversation, ConversationStore
    from ganymede.apps.chat.conversation import INCOMPLETE

    store = ConversationStore()
    cut = Conversation.new()
    cut.title = "Cut off mid-reply"
    # What a crash during a streamed reply leaves: the reply as far as it got, marked incomplete.
    cut.messages = [
        {"role": "user", "content": "Name the Galilean moons"},
        {"role": "assistant", "content": "Io, Europa, Gany", INCOMPLETE: True},
    ]
    whole = Conversation.new()
    whole.title = "Finished reply"
    whole.messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    store.save(cut)
    store.save(whole)
    page.reload()  # the conversation list is reread on every page load
    note = page.locator("#chat-note")

    saved_conversation(page, "Cut off mid-reply").check()
    wait_for_result(page, lambda: "incomplete" in note.inner_text(), "the note about the cut-off reply")
    assert bot_text(page) == "Io, Europa, Gany"
    assert "Retry" in note.inner_text()

    saved_conversation(page, "Finished reply").check()  # a finished conversation clears the note
    wait_for_result(page, lambda: bot_text(page) == "Hello!", "the finished conversation")
    wait_until_idle(page)
    assert "incomplete" not in note.inner_text()


def test_conversation_survives_a_server_restart(page: Any, ui_server: UIServer) -> None:
    use_settings(page, max_new_tokens=16)
    send(page, "What is 2 + 3? Reply with the number only.")
    wait_for_result(page, shown(page.locator(BOT)), "reply")
    wait_until_idle(page)
    answer = bot_text(page)
    title = "What is 2 + 3? Reply with the number only."

    ui_server.restart()
    page.reload()
    saved_conversation(page, title).check()
    page.locator(BOT).first.wait_for()
    assert page.locator("#chatbot [data-testid=user]").first.inner_text().strip() == title
    assert bot_text(page) == answer
