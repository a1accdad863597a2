"""ROUGE on strings whose scores can be worked out by hand."""

from __future__ import annotations

import pytest

from ganymede.apps.evaluation.rouge import corpus_rouge, score_one, sentences_on_lines


def test_identical_strings_score_one() -> None:
    scores = score_one("The cat sat on the mat.", "The cat sat on the mat.")
    assert scores == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0, "rougeLsum": 1.0}


def test_unigram_overlap_by_hand() -> None:
    # 3 of 6 unigrams shared (cat, on, mat) both ways: P = R = F = 0.5; no shared bigram.
    scores = score_one("a cat was on a mat", "the cat sat on the mat")
    assert scores["rouge1"] == pytest.approx(0.5)
    assert scores["rouge2"] == pytest.approx(0.0)
    # LCS "cat on mat" = 3 tokens
    assert scores["rougeL"] == pytest.approx(0.5)


def test_stemming_is_on() -> None:
    assert score_one("he runs", "he running")["rouge1"] == pytest.approx(1.0)


def test_speaker_tags_tokenize_like_words() -> None:
    # rouge-score drops the # marks: #Person1# matches Person1.
    assert score_one("#Person1# calls", "Person1 calls")["rouge1"] == pytest.approx(1.0)


def test_best_reference_counts() -> None:
    scores = score_one("the dog barks", ["a cat meows", "the dog barks"])
    assert scores["rouge1"] == pytest.approx(1.0)


def test_corpus_mean_and_n() -> None:
    result = corpus_rouge(["the cat sat on the mat", "zzz"], ["the cat sat on the mat", "a dog"])
    assert result["rouge1"] == pytest.approx(0.5)
    assert result["n"] == 2


def test_rougelsum_uses_sentences() -> None:
    assert sentences_on_lines("One thing. Two things! Three?") == "One thing.\nTwo things!\nThree?"
    # Two sentences in reverse order: LCS over the whole text finds one, summary-level LCS finds both.
    hyp, ref = "b c d. a x y.", "a x y. b c d."
    scores = score_one(hyp, ref)
    assert scores["rougeLsum"] == pytest.approx(1.0)
    assert scores["rougeL"] < 1.0


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError):
        corpus_rouge(["a"], [])
