"""Training data for `ganymede tune summarize`: a DialogSum-style record -> the app's zero-shot prompt and the
reference summary."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ganymede.core.tuning import DataAdapter, RecordError


@lru_cache(maxsize=8)
def _summarizer(max_words: int) -> Any:
    from ganymede.apps.summarize.summarizer import Summarizer

    # Prompt building only: Summarizer.messages never touches the backend when no examples are selected.
    return Summarizer(None, shots=0, max_words=max_words)  # type: ignore[arg-type]


def summarize_example(record: dict[str, Any], name: str, options: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """DialogSum-style {dialogue, summary}: the summarize app's zero-shot prompt -> the reference summary."""
    from ganymede.apps.summarize.dialogue_io import Dialogue, parse_turn_lines, turns_from_records

    value = record.get("dialogue", record.get("turns"))
    if isinstance(value, str) and value.strip():
        turns = parse_turn_lines(value, name)
    elif isinstance(value, list):
        turns = turns_from_records(value, name)
    else:
        raise RecordError("no `dialogue` field (the dialogue text, or a list of {speaker, text} turns)")
    summary = next(
        (record[k] for k in ("summary", "summary1") if isinstance(record.get(k), str) and record[k].strip()), None
    )
    if summary is None:
        raise RecordError("no `summary` field (the target summary)")
    summarizer = _summarizer(int(options.get("max_words", 20)))
    return summarizer.messages(Dialogue(name, turns).text), summary.strip()


def summarize_prompt(options: dict[str, Any]) -> dict[str, Any]:
    from ganymede.apps.summarize.summarizer import DEFAULT_MAX_WORDS, PROMPT

    return {"name": PROMPT, "shots": 0, "max_words": int(options.get("max_words", DEFAULT_MAX_WORDS))}


tune_data = DataAdapter("summarize", "dialogue + summary (DialogSum JSONL)", summarize_example, summarize_prompt)
