"""Translation without a model: prompts, reply clean-up, glossary, splitting, files, resume, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.evaluation.mt import bleu_tokenizer, corpus_scores
from ganymede.apps.translate import cli as translate_cli
from ganymede.apps.translate.cli import _looks_like_path
from ganymede.apps.translate.evaluate import evaluate, read_eval_rows, run_benchmark
from ganymede.apps.translate.files import translate_file
from ganymede.apps.translate.glossary import load_glossary, parse_glossary
from ganymede.apps.translate.languages import UnknownLanguageError, resolve
from ganymede.apps.translate.translator import (
    BASELINE_PROMPT,
    PROMPT,
    Translator,
    build_messages,
    clean_reply,
    split_sentences,
    translate_text,
)
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.prompts import load_prompt
from tests.fakes import ScriptedBackend

EN, DE, FR = resolve("en"), resolve("de"), resolve("fr")


def tagged(messages: list[dict[str, str]]) -> str:
    """A fake 'translation': the last user message's text, upper-cased (so tests can see what was sent)."""
    text = messages[-1]["content"].split("\n\n", 1)[1]
    return text.upper()


# -- prompt ----------------------------------------------------------------------------------------------
def test_prompt_names_both_languages_and_uses_target_language_examples() -> None:
    spec = load_prompt(PROMPT)
    messages = build_messages(spec, "Good morning.", EN, FR)
    assert messages[0]["role"] == "system"
    assert "from English to French" in messages[-1]["content"]
    assert messages[-1]["content"].endswith("Good morning.")
    shown = [m["content"] for m in messages if m["role"] == "assistant"]
    assert shown and all("German" not in m for m in shown)
    assert any("conseil municipal" in m for m in shown)


def test_pairs_without_examples_are_zero_shot() -> None:
    spec = load_prompt(PROMPT)
    messages = build_messages(spec, "Hallo", DE, resolve("Japanese"))
    assert [m["role"] for m in messages] == ["system", "user"]


def test_baseline_prompt_is_one_plain_line() -> None:
    spec = load_prompt(BASELINE_PROMPT)
    messages = build_messages(spec, "Hello.", EN, DE)
    assert messages == [{"role": "user", "content": "Translate the following text from English to German:\nHello."}]


# -- reply clean-up -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Guten Morgen.", "Guten Morgen."),
        ("Translation: Guten Morgen.", "Guten Morgen."),
        ("Here is the translation in German:\nGuten Morgen.", "Guten Morgen."),
        ('"Guten Morgen."', "Guten Morgen."),
        ("Guten Morgen.\n\nNote: 'morning' can also be ...", "Guten Morgen."),
        ("Guten Morgen.\n\nGood morning.", "Guten Morgen."),
        ("```\nGuten Morgen.\n```", "Guten Morgen."),
    ],
)
def test_clean_reply_keeps_only_the_translation(reply: str, expected: str) -> None:
    assert clean_reply(reply, "Good morning.") == expected


def test_clean_reply_keeps_quotes_the_source_had() -> None:
    assert clean_reply('"Ja", sagte er.', '"Yes," he said.') == '"Ja", sagte er.'


# -- glossary ------------------------------------------------------------------------------------------
def test_glossary_parsing_and_notes() -> None:
    glossary = parse_glossary("# product names\nGanymede\nlaptop = Notebook\nreport => Bericht\n\n")
    assert [(e.term, e.translation, e.keep) for e in glossary.entries] == [
        ("Ganymede", "Ganymede", True),
        ("laptop", "Notebook", False),
        ("report", "Bericht", False),
    ]
    notes = glossary.notes("Ganymede runs on a laptop.")
    assert 'keep "Ganymede"' in notes and '"laptop" as "Notebook"' in notes and "report" not in notes


def test_glossary_goes_into_the_prompt_and_is_checked_in_the_output() -> None:
    glossary = parse_glossary("Ganymede\nlaptop = Notebook")
    spec = load_prompt(PROMPT)
    messages = build_messages(spec, "Ganymede runs on a laptop.", EN, DE, glossary)
    assert 'keep "Ganymede"' in messages[-1]["content"]
    assert [e.term for e in glossary.missing("Ganymede runs on a laptop.", "Ganymed läuft auf einem Notebook.")] == [
        "Ganymede"
    ]
    assert glossary.missing("Ganymede runs on a laptop.", "Ganymede läuft auf einem Notebook.") == []


def test_translate_text_reports_missed_glossary_terms() -> None:
    backend = ScriptedBackend("Ganymed läuft auf einem Notebook.")
    glossary = parse_glossary("Ganymede")
    result = translate_text(backend, "Ganymede runs on a laptop.", "de", "en", glossary)
    assert [e.term for e in result.glossary_missing] == ["Ganymede"]


def test_bad_glossary_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_text("ok\nterm =\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="line 2"):
        load_glossary(path)


# -- text ----------------------------------------------------------------------------------------------
def test_translate_text_keeps_paragraph_breaks_and_reports_the_detected_language() -> None:
    backend = ScriptedBackend(tagged)
    text = "The first paragraph is about the weather today.\n\n\nThe second one is short."
    steps: list[tuple[int, int]] = []
    result = translate_text(backend, text, "German", progress=lambda d, t: steps.append((d, t)))
    assert result.text == "THE FIRST PARAGRAPH IS ABOUT THE WEATHER TODAY.\n\n\nTHE SECOND ONE IS SHORT."
    assert result.detection is not None and result.source.code == "en"
    assert steps == [(1, 2), (2, 2)]
    assert len(backend.calls) == 2


def test_unknown_target_language_is_a_clear_error() -> None:
    with pytest.raises(UnknownLanguageError, match="Klingonish"):
        translate_text(ScriptedBackend("x"), "Hello", "Klingonish", "en")


def test_long_paragraph_is_split_on_sentence_boundaries() -> None:
    backend = ScriptedBackend(tagged, context_window=400)
    sentence = "This sentence has exactly eight words in it."
    text = " ".join([sentence] * 30)
    translator = Translator(backend, EN, DE)
    out = translator.translate(text)
    assert len(backend.calls) > 1
    assert out == text.upper()
    for messages, config, _ in backend.calls:
        assert backend.count_tokens(messages) + config.max_new_tokens <= backend.context_window


def test_split_sentences() -> None:
    assert split_sentences('He left. "Why?" she asked! Then: nothing… End') == [
        "He left.",
        '"Why?" she asked!',
        "Then: nothing…",
        "End",
    ]


def test_symbol_only_segments_are_not_sent_to_the_model() -> None:
    backend = ScriptedBackend("x")
    assert Translator(backend, EN, DE).translate("  12:30 -- 42  ") == "  12:30 -- 42  "
    assert backend.calls == []


# -- files --------------------------------------------------------------------------------------------
SRT = """1
00:00:01,000 --> 00:00:03,500
Hello there.
<i>How are you?</i>

2
00:00:04,000 --> 00:00:06,250
Fine, thanks.
"""


def test_srt_keeps_numbers_timings_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "talk.srt"
    path.write_text(SRT, encoding="utf-8")
    result = translate_file(ScriptedBackend(tagged), path, "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert result.output == tmp_path / "talk.de.srt"
    assert out == SRT.replace("Hello there.", "HELLO THERE.").replace("How are you?", "HOW ARE YOU?").replace(
        "Fine, thanks.", "FINE, THANKS."
    )
    assert result.segments == 2 and result.issues == []


VTT = "WEBVTT\n\nNOTE not for translation\n\nintro\n00:01.000 --> 00:02.000 align:start\n<v Ann>Good evening.\n"


def test_vtt_keeps_header_notes_cue_ids_and_voice_tags(tmp_path: Path) -> None:
    path = tmp_path / "a.vtt"
    path.write_text(VTT, encoding="utf-8")
    result = translate_file(ScriptedBackend(tagged), path, "fr", "en", output=tmp_path / "out.vtt")
    assert result.output.read_text(encoding="utf-8") == VTT.replace("Good evening.", "GOOD EVENING.")


MARKDOWN = """# Getting started

Install it with `pip install ganymede`, then read [the guide](https://example.com/guide).

```python
print("do not translate me")
```

- First step
- Second step

| Term | Meaning |
|------|---------|
| cat  | an animal |
"""


def test_markdown_translates_prose_only(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    backend = ScriptedBackend(tagged)
    result = translate_file(backend, path, "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert '```python\nprint("do not translate me")\n```' in out
    assert "INSTALL IT WITH `pip install ganymede`, THEN READ [THE GUIDE](https://example.com/guide)." in out
    assert "# GETTING STARTED\n" in out and "- FIRST STEP\n" in out and "| CAT  | AN ANIMAL |" in out
    assert "|------|---------|" in out
    sent = " ".join(m[-1]["content"] for m, _, _ in backend.calls)
    assert "do not translate me" not in sent and "example.com" not in sent


def test_markdown_markup_the_model_breaks_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("Run `make` now.\n", encoding="utf-8")
    result = translate_file(ScriptedBackend("Jetzt ausführen."), path, "de", "en")
    assert result.output.read_text(encoding="utf-8") == "Run `make` now.\n"
    assert "markup" in result.issues[0]


def test_jsonl_translates_one_field_and_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1, "text": "Hello \\"you\\""}\nnot json\n{"id": 2}\n', encoding="utf-8")
    result = translate_file(ScriptedBackend(tagged), path, "de", "en")
    lines = result.output.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"id": 1, "text": 'HELLO "YOU"'}
    assert lines[1:] == ["not json", '{"id": 2}']
    assert any("line 2" in i for i in result.issues) and any("line 3" in i for i in result.issues)


def test_csv_translates_one_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,text,note\n1,"Hello, world",keep me\n2,Good night,keep\n', encoding="utf-8")
    result = translate_file(ScriptedBackend(tagged), path, "de", "en")
    out = result.output.read_text(encoding="utf-8").splitlines()
    assert out == ["id,text,note", '1,"HELLO, WORLD",keep me', "2,GOOD NIGHT,keep"]


def test_csv_without_a_clear_column_asks_for_one(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="columns: a, b"):
        translate_file(ScriptedBackend("x"), path, "de", "en")


def test_interrupted_file_resumes_without_retranslating(tmp_path: Path) -> None:
    """Requests go BATCH at a time; what a finished batch translated survives an interruption of the next."""
    from ganymede.apps.translate.translator import BATCH

    count = BATCH + 2
    # two-line paragraphs: each goes to the model on its own (one-line ones would share numbered requests)
    path = tmp_path / "doc.txt"
    path.write_text("\n\n".join(f"Paragraph number\n{n} here." for n in range(1, count + 1)) + "\n", encoding="utf-8")

    def fail_on_last(messages: list[dict[str, str]]) -> str:
        if f"{count} here" in messages[-1]["content"]:
            raise RuntimeError("interrupted")
        return tagged(messages)

    with pytest.raises(RuntimeError):
        translate_file(ScriptedBackend(fail_on_last), path, "de", "en")
    assert not (tmp_path / "doc.de.txt").exists()  # nothing half-written
    again = ScriptedBackend(tagged)
    result = translate_file(again, path, "de", "en")
    assert result.reused == BATCH and len(again.calls) == 2
    assert result.output.read_text(encoding="utf-8") == path.read_text(encoding="utf-8").upper()
    assert not list(tmp_path.glob("*.partial.jsonl"))


def test_unknown_extension_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_text("hi", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"x\.docx"):
        translate_file(ScriptedBackend("x"), path, "de", "en")


def test_output_never_overwrites_the_input(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("Hello.", encoding="utf-8")
    with pytest.raises(InputFileError, match="overwrite"):
        translate_file(ScriptedBackend("x"), path, "de", "en", output=path)


# -- evaluation ---------------------------------------------------------------------------------------
def test_corpus_scores_are_sacrebleu_scale() -> None:
    perfect = corpus_scores(["Das ist gut."], ["Das ist gut."], "de")
    assert perfect == {"bleu": 100.0, "chrf": 100.0, "n": 1}
    worse = corpus_scores(["Das ist schlecht."], ["Das ist gut."], "de")
    assert worse["chrf"] < 100 and worse["bleu"] < 100
    assert bleu_tokenizer("zh") == "zh" and bleu_tokenizer("de") == "13a"


def test_evaluate_reads_rows_and_scores(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    rows = [
        {"id": i, "source_lang": "en", "target_lang": "deu", "source": s, "reference": s.upper()}
        for i, s in enumerate(["Hello there.", "Good night."])
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    scores, hypotheses = evaluate(ScriptedBackend(tagged), read_eval_rows(data, limit=2))
    assert hypotheses == ["HELLO THERE.", "GOOD NIGHT."]
    assert scores["chrf"] == 100.0 and scores["n"] == 2 and scores["pair"] == "en-de"


def test_eval_cli_scores_the_baseline_prompt_in_the_same_run(tmp_path: Path, monkeypatch, capsys) -> None:
    from ganymede.cli import build_parser

    data = tmp_path / "d.jsonl"
    rows = [{"source_lang": "en", "target_lang": "de", "source": "Good night.", "reference": "GOOD NIGHT."}]
    data.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")

    def by_prompt(messages: list[dict[str, str]]) -> str:  # the plain prompt has no system message
        return "GOOD NIGHT." if messages[0]["role"] == "system" else "Gute Nacht."

    backend = ScriptedBackend(by_prompt)
    monkeypatch.setattr(translate_cli, "load_backend_from_args", lambda _args: backend)
    save = tmp_path / "out.jsonl"
    args = build_parser().parse_args(
        ["eval", "translate", "--data", str(data), "--baseline", "--save", str(save), "--json"]
    )
    assert args.func(args) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["chrf"] == 100.0 and scores["baseline"]["prompt"] == "translate_baseline"
    assert scores["baseline"]["chrf"] < 100 and scores["chrf_vs_baseline"] > 0
    saved = json.loads(save.read_text(encoding="utf-8"))
    assert saved["hypothesis"] == "GOOD NIGHT." and saved["baseline"] == "Gute Nacht."


def test_benchmark_compares_with_the_plain_prompt_only_when_asked() -> None:
    rows = [{"source_lang": "en", "target_lang": "de", "source": "Good night.", "reference": "GOOD NIGHT."}] * 2
    steps: list[tuple[int, int]] = []
    both = run_benchmark(
        ScriptedBackend("GOOD NIGHT."), rows, baseline=True, progress=lambda d, t: steps.append((d, t))
    )
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # one count over both prompts
    assert both.scores["baseline"]["prompt"] == BASELINE_PROMPT and len(both.baseline_hypotheses) == 2
    alone = run_benchmark(ScriptedBackend("GOOD NIGHT."), rows)
    assert "baseline" not in alone.scores and alone.baseline_hypotheses is None and "seconds" in alone.scores
    plain = run_benchmark(ScriptedBackend("GOOD NIGHT."), rows, BASELINE_PROMPT, baseline=True)
    assert plain.scores["prompt"] == BASELINE_PROMPT and "baseline" not in plain.scores


def test_eval_rows_errors_name_the_line(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"source": "a", "reference": "b", "source_lang": "en", "target_lang": "de"}\n{"source": 1}\n')
    with pytest.raises(InputFileError, match="line 2"):
        read_eval_rows(data)
    with pytest.raises(GanymedeError):
        read_eval_rows(tmp_path / "missing.jsonl")


# -- CLI ----------------------------------------------------------------------------------------------
def test_words_with_file_extensions_are_files_other_text_is_text() -> None:
    assert _looks_like_path("notes.md") and _looks_like_path("subs/ep1.srt")
    assert not _looks_like_path("U.S.A") and not _looks_like_path("Hello world.txt is nice")


def test_cli_reports_bad_files_without_loading_a_model(tmp_path: Path, monkeypatch, capsys) -> None:
    from ganymede.cli import build_parser

    def no_model(_args):
        raise AssertionError("a model was loaded for a batch with no readable file")

    monkeypatch.setattr(translate_cli, "load_backend_from_args", no_model)
    bad = tmp_path / "x.docx"
    bad.write_text("hi", encoding="utf-8")
    args = build_parser().parse_args(["translate", "--to", "de", str(bad), str(tmp_path / "missing.txt")])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "missing.txt: no such file" in err and "x.docx: cannot tell the format" in err


def test_clean_reply_keeps_a_note_line_the_source_had() -> None:
    source = "Opening hours are 9 to 5.\nNote: closed on Sundays."
    reply = "Öffnungszeiten sind 9 bis 17 Uhr.\nNote: sonntags geschlossen."
    assert clean_reply(reply, source) == reply


# -- several candidates (MBR) ------------------------------------------------------------------------
def test_consensus_picks_the_candidate_closest_to_the_others() -> None:
    from ganymede.apps.evaluation.mt import consensus_index

    outlier = "Völlig andere Worte hier"
    assert consensus_index([outlier, "Der Hund schläft im Garten.", "Der Hund schläft im Garten!"]) == 1
    assert consensus_index(["a", "b"]) == 0  # two candidates: nothing to vote, greedy stays


def test_candidates_are_greedy_plain_prompt_then_samples_and_the_consensus_wins() -> None:
    replies = ["Völlig andere Worte hier", "Der Hund schläft im Garten.", "Der Hund schläft im Garten!", "Hund."]
    backend = ScriptedBackend(replies)
    out = Translator(backend, EN, DE, candidates=4).translate("The dog sleeps in the garden.")
    assert out == "Der Hund schläft im Garten."
    messages = [m for m, _, _ in backend.calls]
    configs = [config for _, config, _ in backend.calls]
    assert messages[0][0]["role"] == "system" and messages[2] == messages[0]
    assert messages[1] == [
        {
            "role": "user",
            "content": "Translate the following text from English to German:\nThe dog sleeps in the garden.",
        }
    ]  # the plain prompt: a second, independent voice
    assert configs[0].greedy and configs[1].greedy
    assert not configs[2].greedy and not configs[3].greedy and configs[2].seed != configs[3].seed
    with pytest.raises(GanymedeError):
        Translator(backend, EN, DE, candidates=0)


def test_candidates_that_break_the_glossary_do_not_vote() -> None:
    glossary = parse_glossary("garden = Gartenanlage")
    replies = ["Der Hund schläft im Garten.", "Der Hund schläft im Garten!", "Der Hund ruht in der Gartenanlage."]
    backend = ScriptedBackend(replies)
    out = Translator(backend, EN, DE, glossary, candidates=3).translate("The dog sleeps in the garden.")
    assert out == "Der Hund ruht in der Gartenanlage."
