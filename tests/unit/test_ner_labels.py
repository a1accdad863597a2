"""The OntoNotes <-> CoNLL mapping and the --labels choice."""

from __future__ import annotations

import pytest

from ganymede.apps.ner.labels import (
    CONLL,
    CONLL_TO_ONTONOTES,
    ONTONOTES,
    ONTONOTES_TO_CONLL,
    Entity,
    map_entities,
    map_label,
    parse_labels,
    scheme_of,
)
from ganymede.core.errors import GanymedeError


def test_mapping_tables_cover_both_schemes() -> None:
    assert set(ONTONOTES_TO_CONLL) == set(ONTONOTES) and len(ONTONOTES) == 18
    assert {v for v in ONTONOTES_TO_CONLL.values() if v} == set(CONLL)
    assert set(CONLL_TO_ONTONOTES) == set(CONLL)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("PERSON", "PER"),
        ("GPE", "LOC"),
        ("FAC", "LOC"),
        ("LOC", "LOC"),
        ("ORG", "ORG"),
        ("NORP", "MISC"),
        ("EVENT", "MISC"),
        ("DATE", None),
        ("MONEY", None),
        ("CARDINAL", None),
    ],
)
def test_ontonotes_to_conll(label: str, expected: str | None) -> None:
    assert map_label(label, "ontonotes", "conll") == expected


def test_conll_to_ontonotes_and_identity() -> None:
    assert map_label("PER", "conll", "ontonotes") == "PERSON"
    assert map_label("LOC", "conll", "ontonotes") == "GPE"
    assert map_label("MISC", "conll", "ontonotes") == "MISC"
    assert map_label("GPE", "ontonotes", "ontonotes") == "GPE"


def test_map_entities_drops_values_and_keeps_offsets() -> None:
    entities = [Entity("Paris", "GPE", 0, 5, "spacy"), Entity("Monday", "DATE", 9, 15, "spacy")]
    mapped = map_entities(entities, "ontonotes", "conll")
    assert mapped == [Entity("Paris", "LOC", 0, 5, "spacy")]


def test_parse_labels() -> None:
    assert parse_labels(None).scheme is None
    assert parse_labels("CoNLL").scheme == "conll"
    assert parse_labels("ontonotes").keep is None
    choice = parse_labels("per, org")
    assert choice.scheme == "conll" and choice.keep == {"PER", "ORG"}
    assert parse_labels(["PERSON", "GPE"]).scheme == "ontonotes"
    # LOC exists in both schemes: with GPE it can only mean OntoNotes.
    assert parse_labels("GPE,LOC").scheme == "ontonotes"


def test_parse_labels_errors() -> None:
    with pytest.raises(GanymedeError, match=r"unknown entity label.*ANIMAL"):
        parse_labels("PER,ANIMAL")
    with pytest.raises(GanymedeError, match="mix"):
        parse_labels("PER,GPE")


def test_label_choice_maps_then_filters() -> None:
    entities = [
        Entity("Ann", "PERSON", 0, 3, "spacy"),
        Entity("Oslo", "GPE", 4, 8, "spacy"),
        Entity("2020", "DATE", 9, 13, "spacy"),
    ]
    assert [e.label for e in parse_labels("PER").apply(entities, "ontonotes")] == ["PER"]
    assert [e.label for e in parse_labels("conll").apply(entities, "ontonotes")] == ["PER", "LOC"]
    assert [e.label for e in parse_labels(None).apply(entities, "ontonotes")] == ["PERSON", "GPE", "DATE"]


def test_scheme_of() -> None:
    assert scheme_of({"PER", "LOC"}) == "conll"
    assert scheme_of({"PERSON", "LOC"}) == "ontonotes"
