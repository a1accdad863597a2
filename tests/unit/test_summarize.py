"""Summarize app control flow with a scripted backend: prompts, postprocessing, the map-reduce fallback,
batches with bad files, resume, output formats and the evaluation's arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.summarize import cli as summarize_cli
from ganymede.apps.summarize import summarizer as sm
from ganymede.apps.summarize.dialogue_io import Dialogue, Turn
from ganymede.apps.summarize.evaluate import compare_shots, evaluate, read_eval_rows
from ganymede.apps.summarize.outputs import output_format, read_records
from ganymede.core.errors import ContextWindowExceededError, InputFileError
from tests.fakes import ScriptedBackend


def dialogue(n_turns: int = 2, words_per_turn: int = 5, source: str = "d") -> Dialogue:
    turns = [Turn(f"#Person{i % 2 + 1}#", " ".join(["word"] * words_per_turn)) for i in range(n_turns)]
    return Dialogue(source, turns)


def last_user(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


# -- postprocess ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Summary: Person1 asks Person 2 for help.", "#Person1# asks #Person2# for help."),
        ("Here is a short summary of the dialogue:\n\n#Person1# buys a car.", "#Person1# buys a car."),
        ('"#Person2# is late."', "#Person2# is late."),
        ("- #Person1# calls.\n- #Person2# answers.", "#Person1# calls. #Person2# answers."),
        ("#Person1 meets #Person2.", "#Person1# meets #Person2#."),
    ],
)
def test_clean_summary(reply: str, expected: str) -> None:
    assert sm.clean_summary(reply) == expected


# -- prompts --------------------------------------------------------------------------------------------------
def test_zero_one_few_shot_prompts() -> None:
    backend = ScriptedBackend("ok")
    for shots, turns in ((0, 2), (1, 4), (2, 6)):
        messages = sm.Summarizer(backend, shots=shots).messages("#Person1#: hi")
        assert len(messages) == turns, shots
        assert messages[0]["role"] == "system" and "#Person1#" in messages[-1]["content"]


def test_default_prompt_has_worked_examples_in_dialogsum_style() -> None:
    summarizer = sm.Summarizer(ScriptedBackend("ok"))
    assert summarizer.shots == len(summarizer.spec.examples) >= 2
    for example in summarizer.spec.examples:
        assert "#Person" in example["dialogue"] and len(example["output"].split()) <= 40


def test_examples_from_a_pool_use_the_selector() -> None:
    class FixedSelector:
        def select(self, query: str, k: int) -> list[dict[str, str]]:
            return [{"dialogue": f"A: pool {i}", "output": f"summary {i}"} for i in range(k)]

    summarizer = sm.Summarizer(ScriptedBackend("ok"), shots=2, selector=FixedSelector())  # type: ignore[arg-type]
    contents = [m["content"] for m in summarizer.messages("A: q")]
    assert "summary 0" in contents and "summary 1" in contents


def test_max_words_sets_reply_budget_and_instruction() -> None:
    summarizer = sm.Summarizer(ScriptedBackend("ok"), max_words=10)
    assert summarizer.config.max_new_tokens == sm.word_budget_tokens(10)
    assert "10 words" in summarizer.system


def test_load_examples(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"dialogue": "A: hi\nB: bye", "summary": "A greets B."}) + "\n")
    assert sm.load_examples(path) == [{"dialogue": "A: hi\nB: bye", "output": "A greets B."}]
    path.write_text(json.dumps({"dialogue": "A: hi"}) + "\n")
    with pytest.raises(InputFileError, match="no summary"):
        sm.load_examples(path)


def test_disjoint_pool_drops_evaluated_dialogues() -> None:
    rows = [Dialogue("r", [Turn("A", "hi")], ["ref"])]
    pool = [{"dialogue": "A:  hi", "output": "x"}, {"dialogue": "B: other", "output": "y"}]
    kept, dropped = sm.disjoint_pool(pool, rows)
    assert kept == [pool[1]] and dropped == 1


# -- long inputs ----------------------------------------------------------------------------------------------
def test_short_dialogue_is_one_prompt() -> None:
    backend = ScriptedBackend("#Person1# talks.", context_window=4096)
    result = sm.Summarizer(backend).summarize(dialogue())
    assert result.strategy == "stuff" and result.chunks == 1 and len(backend.calls) == 1
    assert result.summary == "#Person1# talks."


def test_dialogue_longer_than_the_window_is_map_reduced() -> None:
    """A 2,000-word dialogue against a 600-token window: every turn reaches the model once, in order, in
    chunks that fit; then the partial summaries are combined."""
    long_dialogue = Dialogue("long", [Turn(f"S{i}", f"turn{i} " + "word " * 39) for i in range(50)])

    def reply(messages: list[dict[str, str]]) -> str:
        text = last_user(messages)
        if "Summaries of the parts" in text:
            return "Everyone talks at length."
        return f"Part covering {text.count('turn')} turns."

    backend = ScriptedBackend(reply, context_window=600)
    summarizer = sm.Summarizer(backend, max_words=20)
    result = summarizer.summarize(long_dialogue)
    assert result.strategy == "map-reduce" and result.chunks > 1
    map_calls = [c for c in backend.calls if "Summaries of the parts" not in last_user(c[0])]
    reduce_calls = [c for c in backend.calls if "Summaries of the parts" in last_user(c[0])]
    seen = [w for c in map_calls for w in last_user(c[0]).split() if w.startswith("turn")]
    assert seen == [f"turn{i}" for i in range(50)]  # nothing dropped, nothing repeated
    for messages, config, _ in backend.calls:
        assert backend.count_tokens(messages) + config.max_new_tokens <= backend.context_window
    assert len(map_calls) == result.chunks and reduce_calls
    assert result.summary == "Everyone talks at length."


def test_reduce_in_rounds_when_partials_do_not_fit() -> None:
    backend = ScriptedBackend(lambda m: "partial " * 30, context_window=400)
    summarizer = sm.Summarizer(backend, max_words=10)
    text, _, _ = summarizer._reduce(["x " * 60 for _ in range(12)])
    reduce_calls = len(backend.calls)
    assert reduce_calls > 2 and text.startswith("partial")


def test_stuff_strategy_refuses_a_long_dialogue() -> None:
    backend = ScriptedBackend("x", context_window=300)
    with pytest.raises(ContextWindowExceededError, match="map-reduce"):
        sm.Summarizer(backend, strategy="stuff").summarize(dialogue(40, 20))
    assert backend.calls == []


def test_forced_map_reduce_on_a_short_dialogue() -> None:
    result = sm.Summarizer(ScriptedBackend("s"), strategy="map-reduce").summarize(dialogue())
    assert result.strategy == "map-reduce" and result.chunks == 1


# -- batch ----------------------------------------------------------------------------------------------------
def make_inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("#Person1#: Hi.\n#Person2#: Hello.\n")
    (folder / "b.csv").write_text("speaker,text\nAnn,Lunch?\nBob,Sure.\n")
    (folder / "broken.jsonl").write_text('{"dialogue": "A: x"}\nnot json\n')
    return folder


def test_batch_reports_bad_file_and_resumes(tmp_path: Path) -> None:
    folder = make_inputs(tmp_path)
    dialogues, problems = sm.collect([folder])
    assert len(dialogues) == 2
    assert len(problems) == 1 and "broken.jsonl line 2" in problems[0][1]

    out = tmp_path / "out.jsonl"
    backend = ScriptedBackend("A summary.")
    report = sm.run_batch(sm.Summarizer(backend), dialogues, str(out), "jsonl")
    assert len(report.done) == 2 and not report.failed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["source"] for r in records} == {d.source for d in dialogues}
    assert set(records[0]) >= {"source", "summary", "model", "settings", "tokens"}
    assert records[0]["tokens"]["prompt"] > 0

    # a new file appears; the rerun summarizes only it
    (folder / "c.txt").write_text("Ann: Coffee?\n")
    dialogues, _ = sm.collect([folder])
    backend2 = ScriptedBackend("Another.")
    report2 = sm.run_batch(sm.Summarizer(backend2), dialogues, str(out), "jsonl")
    assert len(report2.skipped) == 2 and report2.done == [str(folder / "c.txt")]
    assert len(backend2.calls) == 1
    assert len(out.read_text().splitlines()) == 3
    assert not list(tmp_path.glob(".out.jsonl.*"))  # no temporary files left behind


def test_failed_item_is_reported_and_batch_goes_on(tmp_path: Path) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        if "explode" in last_user(messages):
            raise RuntimeError("model crashed")
        return "fine"

    dialogues = [
        Dialogue("ok1", [Turn("A", "hi")]),
        Dialogue("bad", [Turn("A", "explode")]),
        Dialogue("ok2", [Turn("A", "bye")]),
    ]
    report = sm.run_batch(sm.Summarizer(ScriptedBackend(reply)), dialogues, str(tmp_path / "o.jsonl"), "jsonl")
    assert report.done == ["ok1", "ok2"]
    assert report.failed == [("bad", "model crashed")]


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_markdown_and_text_outputs_resume(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    dialogues = [Dialogue("x.txt", [Turn("A", "hi")]), Dialogue("y.txt", [Turn("B", "yo")])]
    sm.run_batch(sm.Summarizer(ScriptedBackend("First line.")), dialogues, str(out), fmt)
    records = read_records(out, fmt)
    assert [(r["source"], r["summary"]) for r in records] == [("x.txt", "First line."), ("y.txt", "First line.")]
    report = sm.run_batch(sm.Summarizer(ScriptedBackend("again")), dialogues, str(out), fmt)
    assert len(report.skipped) == 2 and not report.done


def test_batching_backend_gets_one_chat_batch() -> None:
    class BatchingBackend(ScriptedBackend):
        name = "openai"

        def __init__(self) -> None:
            super().__init__("s")
            self.batches: list[int] = []

        def _chat_batch(self, batch, config):  # type: ignore[no-untyped-def]
            self.batches.append(len(batch))
            return super()._chat_batch(batch, config)

    backend = BatchingBackend()
    results = sm.Summarizer(backend).summarize_many([dialogue(source=str(i)) for i in range(3)])
    assert backend.batches == [3]
    assert [r.source for r in results] == ["0", "1", "2"]  # type: ignore[union-attr]


def test_output_format_from_extension() -> None:
    assert output_format("a.jsonl", None) == "jsonl"
    assert output_format("a.md", None) == "md"
    assert output_format(None, None) == "txt"
    assert output_format("a.txt", "jsonl") == "jsonl"


# -- evaluation -----------------------------------------------------------------------------------------------
def test_evaluate_scores_against_references(tmp_path: Path) -> None:
    data = tmp_path / "dev.jsonl"
    rows = [
        {"fname": "1", "dialogue": "#Person1#: Hi.", "summary": "the cat sat on the mat"},
        {"fname": "2", "dialogue": "#Person1#: Yo.", "summary1": "zzz", "summary2": "a cat was on a mat"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    loaded = read_eval_rows(data, limit=2)
    scores, results = evaluate(sm.Summarizer(ScriptedBackend("the cat sat on the mat")), loaded)
    assert [r.summary for r in results] == ["the cat sat on the mat"] * 2  # type: ignore[union-attr]
    assert scores["n"] == 2 and scores["failed"] == 0
    assert scores["rouge1"] == pytest.approx((1.0 + 0.5) / 2)
    assert read_eval_rows(data, limit=1)[0].references == ["the cat sat on the mat"]


def test_compare_shots_scores_each_prompt() -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        few_shot = any(m["role"] == "assistant" for m in messages)
        return "#Person1# returns the shoes." if few_shot else "Someone talks about shoes."

    results = compare_shots(ScriptedBackend(reply), "#Person1#: shoes", 2, reference="#Person1# returns the shoes.")
    assert list(results) == ["zero-shot", "2-shot"]
    assert results["2-shot"]["rouge"]["rouge1"] == pytest.approx(1.0)
    assert results["zero-shot"]["rouge"]["rouge1"] < 1.0


# -- CLI ------------------------------------------------------------------------------------------------------
def run_cli(argv: list[str], backend: ScriptedBackend, monkeypatch: pytest.MonkeyPatch) -> int:
    import argparse

    monkeypatch.setattr("ganymede.core.cliargs.load_backend_from_args", lambda args: backend)
    parser = argparse.ArgumentParser()
    summarize_cli.add_cli(parser.add_subparsers())
    args = parser.parse_args(["summarize", *argv])
    return args.func(args)


def test_cli_exit_code_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = make_inputs(tmp_path)
    out = tmp_path / "out.md"
    backend = ScriptedBackend("Summary: Person1 greets.")
    assert run_cli([str(folder), "-o", str(out), "--shots", "0"], backend, monkeypatch) == 1  # broken.jsonl
    assert "broken.jsonl" in capsys.readouterr().err
    assert [r["summary"] for r in read_records(out, "md")] == ["#Person1# greets."] * 2
    (folder / "broken.jsonl").unlink()
    backend2 = ScriptedBackend("x")
    assert run_cli([str(folder), "-o", str(out)], backend2, monkeypatch) == 0
    assert backend2.calls == []  # everything was already summarized


def test_cli_only_bad_files_loads_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.csv").write_text("who,what\nA,b\n")

    def no_model(args):  # type: ignore[no-untyped-def]
        raise AssertionError("the model should not be loaded")

    monkeypatch.setattr("ganymede.core.cliargs.load_backend_from_args", no_model)
    parser = __import__("argparse").ArgumentParser()
    summarize_cli.add_cli(parser.add_subparsers())
    args = parser.parse_args(["summarize", str(tmp_path)])
    assert args.func(args) == 1


def test_cli_text_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert run_cli(["--text", "A: hi\nB: hello", "--shots", "1"], ScriptedBackend("A greets B."), monkeypatch) == 0
    assert capsys.readouterr().out == "A greets B.\n"


def test_unfinished_last_sentence_is_dropped() -> None:
    assert sm.clean_summary("#Person1# calls. #Person2# answers and") == "#Person1# calls."
    assert sm.clean_summary("#Person1# calls #Person2#") == "#Person1# calls #Person2#"
    assert sm.clean_summary("#Person1# calls. Then #Person2# answers #Person1#") == (
        "#Person1# calls. Then #Person2# answers #Person1#"
    )


def test_pool_from_a_json_list(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text(json.dumps([{"dialogue": "A: x", "summary": "s1"}, {"dialogue": "B: y", "summary": "s2"}]))
    assert [e["output"] for e in sm.load_examples(path)] == ["s1", "s2"]
