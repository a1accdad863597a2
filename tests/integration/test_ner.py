"""NER against real models: the shipped `news` pipeline on CoNLL-2003 dev, and the llm engine on a bundled LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganymede.apps.ner.conll import read_conll
from ganymede.apps.ner.engines import load_engine
from ganymede.apps.ner.evaluate import evaluate
from ganymede.apps.ner.labels import CONLL, LabelChoice


@pytest.mark.slow
def test_news_engine_meets_f1_on_conll_dev(shared_data: Path) -> None:
    sentences = read_conll(shared_data / "conll2003" / "eng.testa")
    scores = evaluate(sentences, load_engine("news"))
    assert scores["n"] == 3250
    assert scores["f1"] >= 0.85, scores
    assert set(scores["per_label"]) == set(CONLL)


@pytest.mark.model
def test_llm_engine_finds_names_at_true_offsets(small_backend) -> None:
    text = "Angela Merkel met Emmanuel Macron in Paris on Monday, the French government said."
    engine = load_engine("llm", LabelChoice("conll"), backend_obj=small_backend)
    engine.config = engine.config.merged(max_new_tokens=96)
    [entities] = engine.extract([text])
    assert engine.stats.chunks == 1 and engine.stats.unparsed_chunks == 0
    assert entities, "the model found no entity in an easy sentence"
    for e in entities:
        assert text[e.start : e.end] == e.text
        assert e.label in CONLL and e.engine == "llm"
    assert "Paris" in {e.text for e in entities}
