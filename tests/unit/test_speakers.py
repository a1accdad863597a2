"""Speaker names read from the dialogue (apps/summarize/speakers.py): found when it is clear, never guessed."""

from __future__ import annotations

import pytest

from ganymede.apps.summarize.speakers import name_speakers, speaker_names


def turns(*lines: str) -> list[tuple[str, str]]:
    return [(f"#Person{1 + i % 2}#", line) for i, line in enumerate(lines)]


def test_vocatives_name_the_other_speaker() -> None:
    dialogue = turns(
        "Brian, may I have a word with you?",
        "Of course, Linda. What can I do for you?",
        "I've accepted a position at another company.",
        "Linda, you know how much I value your work.",
        "Thanks, Brian.",
    )
    assert speaker_names(dialogue) == {"#Person1#": "Linda", "#Person2#": "Brian"}


def test_titled_names_and_the_fullest_form() -> None:
    dialogue = turns(
        "Well, Miss Shen, have you made the plan for our tour?",
        "Yes, Mr. Haley. Shall I explain the itinerary?",
        "Is there anything else before lunch, Miss Shen?",
        "The deputy manager of the company, Mr. Blake, will drive us to the hotel.",
    )
    assert speaker_names(dialogue) == {"#Person1#": "Mr. Haley", "#Person2#": "Miss Shen"}


def test_self_introduction_names_the_speaker() -> None:
    dialogue = turns(
        "Good morning, Sunrise Hotel.", "Hi. My name's David Johnson. I'd like a room.", "All right, David."
    )
    assert speaker_names(dialogue) == {"#Person2#": "David Johnson"}


@pytest.mark.parametrize(
    "lines",
    [
        ("Besides, the rent is too high.", "Seriously, I agree."),  # discourse words are no names
        ("I grew up in Portland, Oregon.", "Nice."),  # one place word after a comma, said once
        ("Hello, Sunshine Travel Agency. This is Holiday Travel speaking.", "Hi."),  # a business, not a person
        ("Bradley, John Bradley.", "Thank you."),  # a speaker saying their own name is no vocative
    ],
)
def test_unclear_evidence_names_no_one(lines: tuple[str, ...]) -> None:
    assert speaker_names(turns(*lines)) == {}


def test_vocatives_are_ignored_with_more_than_two_speakers() -> None:
    dialogue = [("#Person1#", "Thanks, Tom Smith."), ("#Person2#", "Sure."), ("#Person3#", "Hi all.")]
    assert speaker_names(dialogue) == {}


def test_one_person_is_never_two_speakers() -> None:
    dialogue = turns("Hello, Mr. Brown.", "Hello, Mr. Brown.")  # both call the other Mr. Brown: ambiguous
    assert speaker_names(dialogue) == {}


def test_name_speakers_replaces_labels_and_possessives() -> None:
    names = {"#Person2#": "Miss Shen"}
    summary = "#Person1# asks #Person2# about #Person2#'s plan."
    assert name_speakers(summary, names) == "#Person1# asks Miss Shen about Miss Shen's plan."
    assert name_speakers(summary, {}) == summary


def test_the_summarizer_puts_the_names_in() -> None:
    from ganymede.apps.summarize.dialogue_io import Dialogue, Turn
    from ganymede.apps.summarize.summarizer import with_speaker_names

    dialogue = Dialogue(
        "d.txt",
        [
            Turn("#Person1#", "Brian, may I have a word?"),
            Turn("#Person2#", "Of course, Linda."),
            Turn("#Person1#", "Thanks, Brian."),
            Turn("#Person2#", "Linda, what is it?"),
        ],
    )
    assert (
        with_speaker_names("#Person1# tells #Person2# she is leaving.", dialogue) == "Linda tells Brian she is leaving."
    )
