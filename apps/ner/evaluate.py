"""Scoring an engine on CoNLL-2003 sentences (`ganymede eval ner`): entity-level F1 against the gold tags."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ganymede.apps.ner.conll import Sentence, char_spans_to_tags
from ganymede.apps.ner.engines import Engine
from ganymede.apps.ner.labels import map_entities, scheme_of


def evaluate(
    sentences: Sequence[Sentence], engine: Engine, on_done: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Entity-level scores of an engine on CoNLL sentences; predictions are mapped to the gold file's labels."""
    from ganymede.apps.evaluation.ner import entity_scores

    gold_labels = {tag[2:] for s in sentences for tag in s.tags if tag != "O"}
    gold_scheme = scheme_of(gold_labels)
    extract_words = getattr(engine, "extract_words", None)
    if extract_words is not None:  # spaCy engines see the gold tokens, as in training
        predicted = extract_words([s.words for s in sentences], on_done)
    else:
        predicted = engine.extract([s.text for s in sentences], on_done)
    pred_tags = []
    for sentence, entities in zip(sentences, predicted, strict=True):
        mapped = map_entities(entities, engine.native_scheme, gold_scheme)
        pred_tags.append(char_spans_to_tags(sentence.token_offsets(), [(e.start, e.end, e.label) for e in mapped]))
    return entity_scores([s.tags for s in sentences], pred_tags)


def run_evaluation(
    sentences: Sequence[Sentence], engine: Engine, data: str | Path, limit: int | None = None
) -> dict[str, Any]:
    """Score `engine` on CoNLL sentences under a progress bar on stderr (`data` and `limit` say where they came
    from, for the record). The result is the scores plus the run: engine, data, limit, seconds, sentences_per_s,
    and for the llm engine its mistakes (`llm`) and `model`."""
    from ganymede.core.progress import run_with_progress

    started = time.perf_counter()
    scores = run_with_progress(
        len(sentences), f"eval ner ({engine.name})", lambda advance: evaluate(sentences, engine, advance), unit="docs"
    )
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"engine": engine.name, "data": str(data), "limit": limit, **scores}
    result["seconds"] = round(seconds, 2)
    result["sentences_per_s"] = round(len(sentences) / max(seconds, 1e-9), 2)
    stats = getattr(engine, "stats", None)
    if stats is not None:
        result["llm"] = stats.to_dict()
        result["model"] = getattr(engine.backend, "model_id", None)
    return result
