"""Dialogue summarization from files: few-shot or LoRA-tuned, map-reduce for long dialogues."""

from ganymede.apps.summarize.cli import add_cli, add_eval_cli
from ganymede.apps.summarize.evaluate import read_eval_rows
from ganymede.apps.summarize.summarizer import PROMPT, Summarizer, build_summarizer, summarize_text
from ganymede.apps.summarize.tune_data import tune_data

__all__ = [
    "PROMPT",
    "Summarizer",
    "add_cli",
    "add_eval_cli",
    "build_summarizer",
    "read_eval_rows",
    "summarize_text",
    "tune_data",
]
