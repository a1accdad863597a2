"""Named entities in news: a trained spaCy pipeline, spaCy's small English model, or an LLM."""

from ganymede.apps.ner.cli import add_cli, add_eval_cli
from ganymede.apps.ner.conll import read_conll
from ganymede.apps.ner.engines import annotate_text, extract_entities, load_engine
from ganymede.apps.ner.train import add_train_cli

__all__ = [
    "add_cli",
    "add_eval_cli",
    "add_train_cli",
    "annotate_text",
    "extract_entities",
    "load_engine",
    "read_conll",
]
