"""Named entities in news: a trained spaCy pipeline, spaCy's small English model, or an LLM."""

from ganymede.apps.ner.conll import read_conll
from ganymede.apps.ner.engines import add_cli, add_eval_cli, annotate_text, load_engine
from ganymede.apps.ner.train import add_train_cli

__all__ = ["add_cli", "add_eval_cli", "add_train_cli", "annotate_text", "load_engine", "read_conll"]
