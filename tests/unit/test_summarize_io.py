"""Each input format of the summarize app, format sniffing, folders, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.summarize.dialogue_io import expand_paths, parse_turn_lines, read_file, sniff_format
from ganymede.core.errors import InputFileError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_txt_speaker_lines_and_continuations(tmp_path: Path) -> None:
    path = write(tmp_path, "chat.txt", "#Person1#: Hello.\n#Person2#: Hi, I need help\nwith my order.\n\nAnna: Sure.\n")
    (dialogue,) = read_file(path)
    assert [(t.speaker, t.text) for t in dialogue.turns] == [
        ("#Person1#", "Hello."),
        ("#Person2#", "Hi, I need help with my order."),
        ("Anna", "Sure."),
    ]
    assert dialogue.source == str(path)
    assert dialogue.text.splitlines()[1] == "#Person2#: Hi, I need help with my order."


def test_txt_without_speakers_keeps_lines() -> None:
    turns = parse_turn_lines("just some notes\nmore notes")
    assert [t.speaker for t in turns] == ["", ""]


def test_json_dialogsum_record(tmp_path: Path) -> None:
    record = {"fname": "x1", "dialogue": "#Person1#: Hi.\n#Person2#: Bye.", "summary": "They greet."}
    (dialogue,) = read_file(write(tmp_path, "one.json", json.dumps(record)))
    assert len(dialogue.turns) == 2 and dialogue.references == ["They greet."]


def test_json_turn_list(tmp_path: Path) -> None:
    turns = [{"speaker": "Ann", "text": "Lunch?"}, {"speaker": "Bob", "text": "Yes, at noon."}]
    (dialogue,) = read_file(write(tmp_path, "turns.json", json.dumps(turns)))
    assert dialogue.text == "Ann: Lunch?\nBob: Yes, at noon."


def test_jsonl_records_with_several_references(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "dialogue": "A: one", "summary1": "r1", "summary2": "r2"},
        {"id": "b", "dialogue": [{"speaker": "B", "text": "two"}], "summary": "r"},
    ]
    path = write(tmp_path, "data.jsonl", "\n".join(json.dumps(r) for r in lines))
    first, second = read_file(path)
    assert first.source == f"{path}#a" and first.references == ["r1", "r2"]
    assert second.source == f"{path}#b" and second.text == "B: two"


def test_jsonl_of_turns_is_one_dialogue(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"speaker": "A", "text": "hi"}\n{"speaker": "B", "text": "hello"}\n')
    (dialogue,) = read_file(path)
    assert len(dialogue.turns) == 2


def test_jsonl_bad_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"dialogue": "A: x"}\n{oops\n')
    with pytest.raises(InputFileError, match=r"bad\.jsonl line 2"):
        read_file(path)


def test_csv_speaker_text_and_grouping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'Speaker,Text\nAnn,"Hi, Bob."\nBob,Hello.\n')
    (dialogue,) = read_file(path)
    assert dialogue.text == "Ann: Hi, Bob.\nBob: Hello."
    grouped = write(tmp_path, "g.csv", "dialogue_id,speaker,text\n1,A,x\n2,B,y\n1,C,z\n")
    dialogues = read_file(grouped)
    assert [d.text for d in dialogues] == ["A: x\nC: z", "B: y"]


def test_csv_without_columns_says_which(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="speaker and text columns"):
        read_file(write(tmp_path, "c.csv", "who,what\nA,b\n"))


def test_srt(tmp_path: Path) -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,500\nJohn: Are we ready\n\n"
        "2\n00:00:02,600 --> 00:00:04,000\nJohn: for the launch?\n\n"
        "3\n00:00:04,100 --> 00:00:05,000\n<i>Mary: Almost.</i>\n"
    )
    (dialogue,) = read_file(write(tmp_path, "talk.srt", srt))
    assert dialogue.text == "John: Are we ready for the launch?\nMary: Almost."


def test_vtt_voices_and_notes(tmp_path: Path) -> None:
    vtt = (
        "WEBVTT\n\nNOTE recorded on Monday\nby the team\n\n"
        "00:01.000 --> 00:02.000\n<v Roger Bingham>We are in New York City\n\n"
        "intro\n00:02.000 --> 00:04.000\n<v Neil>Hello Roger.</v>\n"
    )
    (dialogue,) = read_file(write(tmp_path, "talk.vtt", vtt))
    assert dialogue.text == "Roger Bingham: We are in New York City\nNeil: Hello Roger."


def test_subtitles_are_read_like_the_translator_reads_them(tmp_path: Path) -> None:
    """One cue reader (core/subtitles.py) for both apps: two-digit milliseconds, hour-less and long-hour timings
    are cues for the summarizer exactly when they are cues for the translator."""
    from ganymede.apps.translate.formats import read_srt

    srt = (
        "1\n00:00:01,50 --> 00:00:02,5\nAnn: Short millis.\n\n"
        "2\n100:00:02,600 --> 100:00:04,000\nBen: A long film.\n\n"
        "stray words without a timing\n"
    )
    (dialogue,) = read_file(write(tmp_path, "talk.srt", srt))
    assert dialogue.text == "Ann: Short millis.\nBen: A long film."
    doc = read_srt(srt)
    assert [s.text for s in doc.segments] == ["Ann: Short millis.", "Ben: A long film."]
    assert doc.skipped == ["line 9: a subtitle block without a timing line was kept as it is"]


def test_sniffing_by_content() -> None:
    assert sniff_format("WEBVTT\n\n00:01.000 --> 00:02.000\nx", ".txt") == "txt"  # extension wins when known
    assert sniff_format("WEBVTT\n\n00:01.000 --> 00:02.000\nx", "") == "vtt"
    assert sniff_format("1\n00:00:01,000 --> 00:00:02,000\nx", ".sub") == "srt"
    assert sniff_format('{"a": 1}\n{"a": 2}', ".json") == "jsonl"
    assert sniff_format("A: hi", "") == "txt"


def test_format_override(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.data", '[{"speaker": "A", "text": "hi"}]')
    assert read_file(path, "json")[0].text == "A: hi"


def test_empty_and_binary_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="empty"):
        read_file(write(tmp_path, "e.txt", "  \n"))
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputFileError, match="UTF-8"):
        read_file(binary)


def test_folders_are_searched_recursively(tmp_path: Path) -> None:
    write(tmp_path, "d/a.txt", "A: x")
    write(tmp_path, "d/sub/b.vtt", "WEBVTT")
    write(tmp_path, "d/sub/skip.png", "not a dialogue")
    names = [p.name for p in expand_paths([tmp_path / "d"])]
    assert names == ["a.txt", "b.vtt"]
