"""Translation of text and documents (Markdown, subtitles, JSONL, CSV) with glossaries."""

from ganymede.apps.translate.cli import add_cli, add_eval_cli
from ganymede.apps.translate.translator import BASELINE_PROMPT, PROMPT, Translator, build_messages, translate_text
from ganymede.apps.translate.tune_data import tune_data

__all__ = [
    "BASELINE_PROMPT",
    "PROMPT",
    "Translator",
    "add_cli",
    "add_eval_cli",
    "build_messages",
    "translate_text",
    "tune_data",
]
