"""Translation of text and documents (Markdown, subtitles, JSONL, CSV) with glossaries."""

from ganymede.apps.translate.translator import add_cli, add_eval_cli
from ganymede.apps.translate.tune_data import tune_data

__all__ = ["add_cli", "add_eval_cli", "tune_data"]
