"""The llm engine's control flow with a scripted backend: JSON parsing, locating spans, chunking."""

from __future__ import annotations

import json

from ganymede.apps.ner.llm_engine import LLMEngine, LLMStats, RawEntity, locate, parse_reply, split_into_chunks
from tests.fakes import ScriptedBackend


def words(text: str) -> int:
    return len(text.split())


def test_parse_reply_variants() -> None:
    stats = LLMStats()
    bare = parse_reply('[{"text": "Oslo", "label": "LOC"}]', ["LOC"], stats)
    fenced = parse_reply('Here:\n```json\n[{"text": "Oslo", "label": "loc"}]\n```', ["LOC"], stats)
    wrapped = parse_reply('{"entities": [{"text": "Oslo", "label": "LOC"}]}', ["LOC"], stats)
    grouped = parse_reply('Sure! {"LOC": ["Oslo"]}', ["LOC"], stats)
    assert bare == fenced == wrapped == grouped == [RawEntity(text="Oslo", label="LOC")]
    assert parse_reply('{"PER": ["Ann", "Bob"], "LOC": "Oslo"}', ["PER", "LOC"], stats) == [
        RawEntity(text="Ann", label="PER"),
        RawEntity(text="Bob", label="PER"),
        RawEntity(text="Oslo", label="LOC"),
    ]
    assert parse_reply("I found no entities.", ["LOC"], stats) is None
    assert parse_reply("[]", ["LOC"], stats) == []
    assert parse_reply("{}", ["LOC"], stats) == []


def test_parse_reply_counts_invalid_items() -> None:
    stats = LLMStats()
    reply = json.dumps(
        [
            {"text": "Oslo", "label": "LOC"},
            {"text": "Ann", "label": "ANIMAL"},
            {"label": "PER"},
            {"text": " ", "label": "PER"},
        ]
    )
    assert parse_reply(reply, ["LOC", "PER"], stats) == [RawEntity(text="Oslo", label="LOC")]
    assert stats.invalid_items == 3
    assert parse_reply('{"PER": [42, "Ann"]}', ["PER"], stats) == [RawEntity(text="Ann", label="PER")]
    assert stats.invalid_items == 4


def test_locate_offsets_repeats_and_inventions() -> None:
    chunk = "Bank of Oslo said Oslo banks grew; oslo-based BANK OF OSLO rose."
    stats = LLMStats()
    items = [
        RawEntity(text="Oslo", label="LOC"),
        RawEntity(text="Bank of Oslo", label="ORG"),
        RawEntity(text="Bergen", label="LOC"),
    ]
    entities = locate(chunk, 100, items, "llm", stats)
    for e in entities:
        assert chunk[e.start - 100 : e.end - 100] == e.text
    # The longer name claims its characters; "Oslo" is tagged at each other occurrence, case-sensitively first.
    assert [(e.text, e.label) for e in entities] == [("Bank of Oslo", "ORG"), ("Oslo", "LOC")]
    assert stats.invented_spans == 1 and stats.examples_invented == ["Bergen"]
    # Case-insensitive fallback when the model changed the case; never inside a longer word.
    found = locate("the EU and Europe", 0, [RawEntity(text="eu", label="ORG")], "llm", LLMStats())
    assert [(e.text, e.start) for e in found] == [("EU", 4)]


def test_chunks_are_exact_slices_within_budget() -> None:
    paragraphs = [" ".join(f"w{p}_{i}." if i % 7 == 6 else f"w{p}_{i}" for i in range(40)) for p in range(5)]
    text = "\n\n".join(paragraphs) + "\n" + " ".join(f"long{i}" for i in range(120))
    chunks = split_into_chunks(text, words, budget=25)
    assert "".join(chunk for _, chunk in chunks) == text
    for offset, chunk in chunks:
        assert text[offset : offset + len(chunk)] == chunk
        assert words(chunk) <= 25
    assert split_into_chunks("", words, 10) == []


def test_engine_offsets_match_source_across_chunks() -> None:
    text = ("Ann Lee flew to Oslo. " * 30 + "\n\n" + "IBM hired Bob in Rome. " * 30).strip()

    def reply(messages: list[dict[str, str]]) -> str:
        chunk = messages[-1]["content"]
        names = [("Ann Lee", "PER"), ("Oslo", "LOC"), ("IBM", "ORG"), ("Rome", "LOC"), ("Zurich", "LOC")]
        return json.dumps([{"text": n, "label": lab} for n, lab in names if n in chunk or n == "Zurich"])

    backend = ScriptedBackend(reply, context_window=2048)
    engine = LLMEngine(backend, chunk_tokens=60)
    [entities] = engine.extract([text])
    assert engine.stats.chunks > 2  # long text was split
    assert len(backend.calls) == engine.stats.chunks
    for e in entities:
        assert text[e.start : e.end] == e.text
    assert sum(e.text == "Oslo" for e in entities) == 30
    assert sum(e.text == "Rome" for e in entities) == 30
    assert {e.engine for e in entities} == {"llm"}
    assert engine.stats.invented_spans == engine.stats.chunks  # "Zurich" every time


def test_engine_counts_unparsed_replies_and_keeps_going() -> None:
    backend = ScriptedBackend(["sorry, no JSON here", '[{"text": "Oslo", "label": "LOC"}]'])
    engine = LLMEngine(backend)
    results = engine.extract(["Ann went home.", "Oslo is cold."])
    assert results[0] == [] and [e.text for e in results[1]] == ["Oslo"]
    assert engine.stats.unparsed_chunks == 1


def test_prompt_lists_requested_labels_and_few_shots() -> None:
    conll = LLMEngine(ScriptedBackend("[]"))
    messages = conll.messages("Some text.")
    assert "- PER:" in messages[0]["content"] and "GPE" not in messages[0]["content"]
    assert len(messages) > 2  # worked examples as prior turns
    onto = LLMEngine(ScriptedBackend("[]"), labels=["PERSON", "GPE"])
    messages = onto.messages("Some text.")
    assert "- GPE:" in messages[0]["content"] and len(messages) == 2  # CoNLL examples would teach wrong labels
    assert onto.native_scheme == "ontonotes"
