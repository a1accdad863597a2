"""The summarize app on the real bundled 0.5B model: a short dialogue in one prompt, and a dialogue longer
than the (temporarily narrowed) context window through map-reduce. Short inputs, small budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.summarize import summarizer as sm
from ganymede.apps.summarize.dialogue_io import Dialogue, Turn

pytestmark = pytest.mark.model

SHORT = (
    "#Person1#: Hello, I'd like to book a table for two tonight at seven.\n"
    "#Person2#: Sorry, seven is full. Is eight o'clock all right?\n"
    "#Person1#: Yes, eight is fine. The name is Smith.\n"
    "#Person2#: Thank you, Mr. Smith. See you tonight."
)


def test_short_dialogue_one_prompt(small_backend) -> None:
    dialogue = Dialogue("short", sm.parse_turn_lines(SHORT))
    result = sm.Summarizer(small_backend, shots=1, max_words=15).summarize(dialogue)
    assert result.strategy == "stuff"
    assert result.summary and "\n" not in result.summary
    assert len(result.summary.split()) < len(SHORT.split())
    assert result.prompt_tokens > 0 and result.completion_tokens > 0


def test_dialogue_longer_than_the_window_is_map_reduced(small_backend) -> None:
    topics = ["the budget", "the office move", "the new hires", "the client visit", "the holiday plan", "the laptops"]
    turns = []
    for i, topic in enumerate(topics):
        turns.append(Turn("#Person1#", f"Next point is {topic}. What is the status of {topic}, and who owns it now?"))
        turns.append(Turn("#Person2#", f"Anna owns {topic}. She will report on {topic} by Friday, item {i + 1}."))
    dialogue = Dialogue("meeting", turns)
    saved = small_backend.context_window
    small_backend.context_window = 300
    try:
        summarizer = sm.Summarizer(small_backend, shots=0, max_words=12)
        assert small_backend.count_tokens(summarizer.messages(dialogue.text)) > 300
        result = summarizer.summarize(dialogue)
    finally:
        small_backend.context_window = saved
    assert result.strategy == "map-reduce" and result.chunks >= 2
    assert result.summary


def test_cli_batch_on_files(small_backend, tmp_path: Path) -> None:
    """Two files and a bad one through run_batch, as the CLI does; the rerun skips both."""
    (tmp_path / "a.txt").write_text(SHORT)
    (tmp_path / "bad.json").write_text("{not json")
    dialogues, problems = sm.collect([tmp_path])
    assert len(dialogues) == 1 and problems and "bad.json" in problems[0][0]
    out = tmp_path / "out.jsonl"
    summarizer = sm.Summarizer(small_backend, shots=0, max_words=10)
    sm.run_batch(summarizer, dialogues, str(out), "jsonl")
    record = json.loads(out.read_text())
    assert record["summary"] and record["model"] == small_backend.ref.raw
    assert sm.run_batch(summarizer, dialogues, str(out), "jsonl").skipped == [str(tmp_path / "a.txt")]
