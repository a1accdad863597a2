"""The acceptance commands, run as a user runs them: a subprocess with no network."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model


def ganymede(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganymede.cli", *args], capture_output=True, text=True, timeout=300)


def test_chat_json_answers_with_the_default_model():
    out = ganymede("chat", "-m", "What is 2+2? Reply with the number only.", "--json", "--greedy")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["text"].strip().rstrip(".") == "4"
    assert data["model"] == "bundled:qwen2.5-coder-1.5b"
    assert data["usage"]["completion_tokens"] >= 1
    assert data["settings"]["greedy"] is True


def test_chat_streams_plain_text_and_logs_the_call():
    out = ganymede(
        "chat", "-m", "Reply with the word 'pong' only.", "--model", "bundled:qwen2.5-coder-0.5b", "--greedy"
    )
    assert out.returncode == 0, out.stderr
    assert "pong" in out.stdout.lower()
    logs = ganymede("logs", "--json", "-n", "1", "--app", "chat")
    assert "pong" in json.loads(logs.stdout)[0]["response"].lower()
