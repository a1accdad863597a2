"""CoNLL reading (IOB1 and IOB2), tag/span conversions, and the seqeval metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganymede.apps.evaluation.ner import entity_scores
from ganymede.apps.ner.conll import (
    char_spans_to_tags,
    iob1_to_iob2,
    read_conll,
    spans_to_tags,
    tags_to_spans,
)
from ganymede.core.errors import InputFileError

IOB1_FILE = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
Smith NNP I-NP B-PER

-DOCSTART- -X- O O

BRUSSELS NNP I-NP I-LOC
"""


def write(tmp_path: Path, text: str, name: str = "data.conll") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_iob1_is_read_as_iob2(tmp_path: Path) -> None:
    sentences = read_conll(write(tmp_path, IOB1_FILE))
    assert [s.words for s in sentences] == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn", "Smith"],
        ["BRUSSELS"],
    ]
    assert sentences[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"]
    # IOB1's B- marks a second entity touching the first: two people, not one.
    assert sentences[1].tags == ["B-PER", "I-PER", "B-PER"]
    assert sentences[2].tags == ["B-LOC"]
    assert sentences[1].line == 9


def test_iob2_input_is_unchanged() -> None:
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    assert iob1_to_iob2(tags) == tags


def test_iob1_type_change_opens_new_entity() -> None:
    assert iob1_to_iob2(["I-PER", "I-ORG", "O", "I-LOC"]) == ["B-PER", "B-ORG", "O", "B-LOC"]


def test_limit_and_two_column_files(tmp_path: Path) -> None:
    path = write(tmp_path, "Paris B-LOC\n\nRome B-LOC\n\nOslo B-LOC\n")
    assert len(read_conll(path, limit=2)) == 2


def test_bad_tag_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "EU NNP I-NP I-ORG\nrejects VBZ I-VP PERSON\n")
    with pytest.raises(InputFileError, match=r"data.conll, line 2: tag 'PERSON'"):
        read_conll(path)


def test_line_without_tag_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "EU I-ORG\nlonely\n")
    with pytest.raises(InputFileError, match="line 2"):
        read_conll(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_conll(tmp_path / "nope.conll")
    with pytest.raises(InputFileError, match="no sentences"):
        read_conll(write(tmp_path, "-DOCSTART- -X- O O\n\n"))


def test_spans_round_trip() -> None:
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-ORG"]
    spans = tags_to_spans(tags)
    assert spans == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC"), (6, 7, "ORG")]
    assert spans_to_tags(len(tags), spans) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG"]


def test_char_spans_to_tags_covers_whole_tokens() -> None:
    words = ["Mr.", "Smith", "visited", "New", "York-based", "IBM"]
    offsets, start = [], 0
    for w in words:
        offsets.append((start, start + len(w)))
        start += len(w) + 1
    text = " ".join(words)
    # "York" ends inside the token "York-based": the whole token is tagged; overlapping entities: first wins.
    entities = [
        (text.index("Smith"), text.index("Smith") + 5, "PER"),
        (text.index("New"), text.index("York") + 4, "LOC"),
        (text.index("York"), text.index("York") + 4, "ORG"),
        (text.index("IBM"), len(text), "ORG"),
    ]
    assert char_spans_to_tags(offsets, entities) == ["O", "B-PER", "O", "B-LOC", "I-LOC", "B-ORG"]


def test_entity_scores_exact_match() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    perfect = entity_scores(gold, gold)
    assert perfect["f1"] == 1.0 and perfect["n"] == 2
    # Wrong boundary on the person, right location, missed organization: 1 of 2 predicted right, 1 of 3 found.
    predicted = [["B-PER", "O", "O", "B-LOC"], ["O", "O"]]
    scores = entity_scores(gold, predicted)
    assert scores["precision"] == 0.5
    assert scores["recall"] == round(1 / 3, 4)
    assert scores["f1"] == 0.4
    assert scores["per_label"]["LOC"]["f1"] == 1.0
    assert scores["per_label"]["ORG"]["recall"] == 0.0
    assert scores["per_label"]["PER"]["support"] == 1


def test_entity_scores_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError, match="sentence 0"):
        entity_scores([["O", "O"]], [["O"]])
