"""Nothing a user typed is lost: `kill -9` of `ganymede chat` while a reply streams keeps the user's message and
the reply as far as it got (marked incomplete), for -m, after --resume and in the interactive chat.

The real command runs in a subprocess with a slow backend installed as a plugin (the `ganymede.backends` entry
point, as tests/package/test_backend_plugin.py installs one); the test reads the real SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from ganymede.apps.chat.conversation import INCOMPLETE, Conversation
from ganymede.apps.chat.store import ConversationStore

#: the plugin: the reply is the word count of the user's message and then numbered words, one per SLOW_DELAY
#: seconds; the whole reply is known in advance, so a saved part can be checked to be a prefix of it
SLOW_BACKEND = """
import os
import time

from ganymede.core.backends import Backend
from ganymede.core.messages import Completion, Usage


def reply_to(messages):
    words = int(os.environ.get("SLOW_WORDS", "400"))
    return f"re {messages[-1]['content']}: " + " ".join(f"w{i}" for i in range(words))


class SlowBackend(Backend):
    name = "slow"
    native_tools = False

    def _chat(self, messages, config, tools):
        text = reply_to(messages)
        return Completion(text=text, model=self.model_id, usage=Usage(completion_tokens=len(text.split())))

    def _stream(self, messages, config, tools):
        delay = float(os.environ.get("SLOW_DELAY", "0.1"))
        for i, word in enumerate(reply_to(messages).split(" ")):
            if i:
                time.sleep(delay)
            yield word if i == 0 else " " + word

    def count_tokens(self, text_or_messages, tools=None):
        if isinstance(text_or_messages, str):
            return len(text_or_messages.split())
        return sum(len(m["content"].split()) for m in text_or_messages)
"""

#: how long a child may take to start and write a partial reply; only a bound on waiting, never a figure checked
WAIT_SECONDS = 120


def full_reply(user_text: str, words: int = 400) -> str:
    return f"re {user_text}: " + " ".join(f"w{i}" for i in range(words))


@dataclass
class Setup:
    site: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        return os.environ | {
            "PYTHONPATH": str(self.site),
            "GANYMEDE_HOME": str(self.home),
            "GANYMEDE_DATA_DIR": str(self.home),
            "GANYMEDE_CONFIG": str(self.home / "config.toml"),  # empty: a user's own file plays no part
            "GANYMEDE_LOG": "0",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def store(self) -> ConversationStore:
        return ConversationStore(self.home / "conversations.db")

    def conversations(self) -> list[Conversation]:
        if not (self.home / "conversations.db").exists():
            return []
        return self.store().list()

    def start(self, *args: str, stdin: int | None = None, **env: str) -> tuple[subprocess.Popen[str], Path]:
        """`ganymede ARGS` running; its stderr goes to a file (read after it is killed)."""
        stderr = self.home / f"stderr-{time.monotonic_ns()}.txt"
        with stderr.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "ganymede", *args],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
                env=self.env(**env),
            )
        return process, stderr

    def run(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ganymede", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=WAIT_SECONDS,
        )


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    site = tmp_path / "site"
    (site / "slow_echo").mkdir(parents=True)
    (site / "slow_echo" / "__init__.py").write_text("", encoding="utf-8")
    (site / "slow_echo" / "backend.py").write_text(SLOW_BACKEND, encoding="utf-8")
    dist_info = site / "slow_echo-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-echo\nVersion: 0.1\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[ganymede.backends]\nslow = slow_echo.backend:SlowBackend\n", encoding="utf-8"
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text("", encoding="utf-8")
    return Setup(site, tmp_path / "home")


def wait_until(
    process: subprocess.Popen[str], stderr: Path, found: Callable[[], Any], what: str
) -> Any:  # the value `found` answered
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"ganymede exited ({process.returncode}) before {what}:\n{stderr.read_text()}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"no {what} within {WAIT_SECONDS} s:\n{stderr.read_text()}")


def partial_reply(setup: Setup, messages: int, words: int = 6) -> Callable[[], Conversation | None]:
    """A check: the one saved conversation has `messages` messages, the last a reply of at least `words` words."""

    def check() -> Conversation | None:
        saved = setup.conversations()
        if len(saved) != 1 or len(saved[0].messages) != messages:
            return None
        last = saved[0].messages[-1]
        return saved[0] if last["role"] == "assistant" and len(last["content"].split()) >= words else None

    return check


def kill_9(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def assert_cut_off(reply: dict[str, Any], user_text: str, at_least: str) -> None:
    """`reply` is marked incomplete, is a prefix of the whole reply, and holds at least what was seen saved."""
    assert reply["role"] == "assistant"
    assert reply.get(INCOMPLETE) is True
    assert full_reply(user_text).startswith(reply["content"])
    assert reply["content"].startswith(at_least)
    assert reply["content"] != full_reply(user_text)


def test_kill_9_during_a_streamed_reply_of_chat_m_keeps_the_message_and_the_partial_reply(setup: Setup) -> None:
    question = "What is Ganymede?"
    process, stderr = setup.start("chat", "--model", "slow:any", "-m", question)
    seen = wait_until(process, stderr, partial_reply(setup, messages=2), "a partial reply in the store")
    kill_9(process)

    [conv] = setup.conversations()
    assert conv.messages[0] == {"role": "user", "content": question}
    assert_cut_off(conv.messages[1], question, at_least=seen.messages[1]["content"])
    assert conv.title == question
    assert f"[conversation {conv.id}]" in stderr.read_text()  # the id to resume it with was shown at once

    # --resume: the cut-off reply is announced as such, and a kill during the next reply loses nothing either.
    follow_up = "And Europa?"
    process, stderr = setup.start("chat", "--model", "slow:any", "--resume", conv.id, "-m", follow_up)
    seen = wait_until(process, stderr, partial_reply(setup, messages=4), "a partial second reply in the store")
    kill_9(process)
    assert "its last reply is incomplete" in stderr.read_text()

    [after] = setup.conversations()
    assert after.messages[:2] == conv.messages  # the first turn, still marked incomplete
    assert after.messages[2] == {"role": "user", "content": follow_up}
    assert_cut_off(after.messages[3], follow_up, at_least=seen.messages[3]["content"])

    # The conversation goes on: a reply that finishes is saved whole, with no mark, after the cut-off ones.
    done = setup.run("chat", "--model", "slow:any", "--resume", conv.id, "-m", "Thanks", "--json", SLOW_DELAY="0")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["conversation"] == conv.id
    assert answer["text"] == full_reply("Thanks")
    [final] = setup.conversations()
    assert final.messages[:4] == after.messages
    assert final.messages[4:] == [
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": full_reply("Thanks")},
    ]


def test_kill_9_during_an_interactive_reply_keeps_it_and_retry_asks_again(setup: Setup) -> None:
    question = "Tell me about Io"
    process, stderr = setup.start("chat", "--model", "slow:any", stdin=subprocess.PIPE)
    assert process.stdin is not None
    stdin: IO[str] = process.stdin
    stdin.write(question + "\n")
    stdin.flush()
    seen = wait_until(process, stderr, partial_reply(setup, messages=2), "a partial reply in the store")
    kill_9(process)
    stdin.close()

    [conv] = setup.conversations()
    assert conv.messages[0] == {"role": "user", "content": question}
    assert_cut_off(conv.messages[1], question, at_least=seen.messages[1]["content"])

    resumed = setup.run("chat", "--model", "slow:any", "--resume", conv.id, stdin="/retry\n", SLOW_DELAY="0")
    assert resumed.returncode == 0, resumed.stderr
    assert "its last reply is incomplete" in resumed.stderr and "/retry" in resumed.stderr
    assert full_reply(question) in resumed.stdout
    [retried] = setup.conversations()
    assert retried.messages == [
        {"role": "user", "content": question},
        {"role": "assistant", "content": full_reply(question)},
    ]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ui(setup: Setup) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    """`ganymede ui` on the slow backend, in a subprocess."""
    import httpx

    port = _free_port()
    process, stderr = setup.start("ui", "--port", str(port), "--model", "slow:any", GRADIO_ANALYTICS_ENABLED="False")
    url = f"http://127.0.0.1:{port}/"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(process, stderr, answers, "the web UI answering")
    yield process, stderr, url
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def test_kill_9_of_the_web_ui_during_a_chat_reply_keeps_the_message_and_the_partial_reply(
    setup: Setup, ui: tuple[subprocess.Popen[str], Path, str]
) -> None:
    from gradio_client import Client

    process, stderr, url = ui
    question = "What orbits Jupiter?"
    client = Client(url, verbose=False)
    job = client.submit(question, api_name="/respond")  # the Chat tab's Send, as the browser calls it
    seen = wait_until(process, stderr, partial_reply(setup, messages=2), "a partial reply in the store")
    kill_9(process)
    assert not job.done() or job.exception() is not None  # the reply never finished

    [conv] = setup.conversations()
    assert conv.messages[0] == {"role": "user", "content": question}
    assert_cut_off(conv.messages[1], question, at_least=seen.messages[1]["content"])
