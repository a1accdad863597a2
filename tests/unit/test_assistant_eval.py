"""BFCL AST matching and SQuAD 2.0 metrics (pure functions), and the eval commands' data loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.apps.evaluation.rag import best_f1_em, load_squad, normalize_answer, summarize, token_f1
from ganymede.apps.evaluation.tools import (
    BfclItem,
    category_of,
    check_item,
    load_bfcl,
    openai_tools,
)
from ganymede.apps.evaluation.tools import (
    summarize as summarize_tools,
)
from ganymede.core.errors import InputFileError

AREA = {
    "name": "geometry.area_circle",
    "parameters": {
        "type": "dict",
        "properties": {"radius": {"type": "integer"}, "units": {"type": "string"}, "scale": {"type": "float"}},
        "required": ["radius"],
    },
}


def _item(truth: list, item_id: str = "simple_python_1", functions: list | None = None) -> BfclItem:
    question = "What is the area of a circle with a radius of 10 meters?"
    return BfclItem(item_id, [{"role": "user", "content": question}], functions or [AREA], truth)


def _call(**arguments: object) -> dict:
    return {"name": "geometry.area_circle", "arguments": arguments}


TRUTH = [{"geometry.area_circle": {"radius": [10], "units": ["meters", ""], "scale": [1.0, ""]}}]


def test_ast_match_accepts_listed_values_and_optional_omissions() -> None:
    assert check_item(_item(TRUTH), [_call(radius=10)]) == (True, "")
    assert check_item(_item(TRUTH), [_call(radius=10, units="Meters")])[0]  # strings normalised
    assert check_item(_item(TRUTH), [_call(radius=10, scale=1)])[0]  # int where float is declared


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ([_call(radius=5)], "not one of"),
        ([_call(radius="10")], "type str"),
        ([_call(radius=10.0)], "type float"),
        ([_call(units="meters")], "missing required"),
        ([_call(radius=10, colour="red")], "unexpected parameter"),
        ([{"name": "area", "arguments": {"radius": 10}}], "wrong function"),
        ([], "0 call(s)"),
        ([_call(radius=10), _call(radius=10)], "2 call(s)"),
    ],
)
def test_ast_match_rejects(calls: list, reason: str) -> None:
    correct, why = check_item(_item(TRUTH), calls)
    assert not correct and reason in why


def test_parallel_calls_match_in_any_order_and_nested_dicts() -> None:
    truth = [{"geometry.area_circle": {"radius": [1]}}, {"geometry.area_circle": {"radius": [2]}}]
    assert check_item(_item(truth, "parallel_3"), [_call(radius=2), _call(radius=1)])[0]
    assert not check_item(_item(truth, "parallel_3"), [_call(radius=2), _call(radius=2)])[0]
    prefs = {"name": "set_prefs", "parameters": {"type": "dict", "properties": {"p": {"type": "dict"}}, "required": []}}
    nested = [{"set_prefs": {"p": [{"sweetness": ["none"], "temp": ["hot", ""]}]}}]
    item = _item(nested, "live_multiple_1-0-1", [prefs])
    assert check_item(item, [{"name": "set_prefs", "arguments": {"p": {"sweetness": "None"}}}])[0]
    assert not check_item(item, [{"name": "set_prefs", "arguments": {"p": {"temp": "hot"}}}])[0]


def test_irrelevance_is_right_only_without_calls() -> None:
    item = _item([], "irrelevance_4")
    assert check_item(item, []) == (True, "")
    assert not check_item(item, [_call(radius=1)])[0]


def test_schema_conversion_and_categories() -> None:
    schema = openai_tools([AREA])[0]["function"]["parameters"]
    assert schema["type"] == "object" and schema["properties"]["scale"]["type"] == "number"
    assert category_of("live_multiple_1-0-1") == "live_multiple" and category_of("simple_python_30") == "simple_python"
    summary = summarize_tools([{"id": "simple_python_1", "correct": True}, {"id": "irrelevance_2", "correct": False}])
    assert summary["n"] == 2 and summary["accuracy"] == 0.5 and summary["by_category"]["irrelevance"]["accuracy"] == 0


def test_load_bfcl_joins_answers_and_names_bad_lines(tmp_path: Path) -> None:
    data, answers = tmp_path / "d.jsonl", tmp_path / "a.jsonl"
    data.write_text(
        json.dumps({"id": "simple_python_1", "question": [[{"role": "user", "content": "q"}]], "function": [AREA]})
        + "\n"
    )
    answers.write_text(json.dumps({"id": "simple_python_1", "ground_truth": TRUTH}) + "\n")
    (item,) = load_bfcl(data, answers)
    assert item.messages == [{"role": "user", "content": "q"}] and item.ground_truth == TRUTH
    data.write_text(data.read_text() + "{broken\n")
    with pytest.raises(InputFileError, match="line 2"):
        load_bfcl(data, answers)


def test_squad_metrics_follow_the_official_rules() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert best_f1_em("the 10th century", ["10th century", "tenth"]) == (1.0, 1.0)
    em, f1 = best_f1_em("in the 10th and 11th centuries", ["10th and 11th centuries"])
    assert em == 0.0 and f1 == pytest.approx(2 * 0.8 * 1.0 / 1.8)
    assert best_f1_em("", []) == (1.0, 1.0)  # abstaining on an unanswerable question is right
    assert best_f1_em("Paris", []) == (0.0, 0.0)
    assert token_f1("", "Paris") == 0.0


def test_squad_loading_and_recall(tmp_path: Path) -> None:
    squad = {
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Normandy is in France.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "Where is Normandy?",
                                "answers": [{"text": "France"}],
                                "is_impossible": False,
                            },
                            {"id": "2", "question": "Who owns it?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(squad))
    articles, questions = load_squad(path)
    assert articles == {"T": [(0, "Normandy is in France.")]}
    assert [q.source for q in questions] == ["T/0", "T/0"] and questions[1].answers == []
    rows = [
        {
            "gold_source": "T/0",
            "retrieved": ["X/1", "T/0"],
            "prediction": "France",
            "answers": ["France"],
            "em": 1.0,
            "f1": 1.0,
        },
        {"gold_source": "T/0", "retrieved": ["X/1"], "prediction": "", "answers": [], "em": 1.0, "f1": 1.0},
    ]
    metrics = summarize(rows, k=5)
    assert metrics["recall@5"] == 0.5 and metrics["recall@1"] == 0.0 and metrics["f1"] == 1.0
    assert metrics["no_answer"] == {"n": 1, "accuracy": 1.0}


def test_shared_bfcl_and_squad_files_load(shared_data: Path) -> None:
    items = load_bfcl(
        shared_data / "bfcl/simple_python.dev.jsonl", shared_data / "bfcl/simple_python.dev.answers.jsonl"
    )
    assert len(items) == 200 and all(i.ground_truth for i in items)
    assert len(load_bfcl(shared_data / "bfcl/irrelevance.dev.jsonl")) == 120
    _, questions = load_squad(shared_data / "squad2/dev.json")
    assert len(questions) > 2500 and any(not q.answers for q in questions[:300])


def test_a_checked_call_counts_only_when_the_model_confirms_it() -> None:
    from ganymede.apps.assistant.evaluate import predict_calls
    from ganymede.core.generation import GenerationConfig
    from tests.fakes import ScriptedBackend, tool_call_reply

    config = GenerationConfig(greedy=True, max_new_tokens=64)
    call = tool_call_reply("geometry_area_circle", radius=10)
    confirmed = ScriptedBackend([call, "Yes."])
    calls, _, _ = predict_calls(confirmed, _item(TRUTH), config, "sys", check=True)
    assert calls == [_call(radius=10)]  # the dotted name is spelled back
    follow_up = confirmed.calls[1][0]
    assert follow_up[: len(confirmed.calls[0][0])] == confirmed.calls[0][0]  # same conversation: prefix reused
    assert '"radius": 10' in follow_up[-2]["content"] and follow_up[-1]["role"] == "user"
    assert confirmed.calls[1][2] == confirmed.calls[0][2]  # the same tools, so the same prompt prefix

    rejected = ScriptedBackend([call, "no"])
    assert predict_calls(rejected, _item(TRUTH), config, "sys", check=True)[0] == []
    unchecked = ScriptedBackend([call, "no"])
    assert predict_calls(unchecked, _item(TRUTH), config, "sys")[0] == [_call(radius=10)]
    assert len(unchecked.calls) == 1


def test_a_call_with_invented_arguments_is_left_out_unless_grounding_is_off() -> None:
    from ganymede.apps.assistant.evaluate import predict_calls
    from ganymede.core.generation import GenerationConfig
    from tests.fakes import ScriptedBackend, tool_call_reply

    config = GenerationConfig(greedy=True, max_new_tokens=64)
    invented = tool_call_reply("geometry_area_circle", radius=3)  # the question says 10
    calls, _, left_out = predict_calls(ScriptedBackend([invented]), _item(TRUTH), config, "sys")
    assert calls == [] and left_out == [_call(radius=3)]
    calls, _, left_out = predict_calls(ScriptedBackend([invented]), _item(TRUTH), config, "sys", grounded=False)
    assert calls == [_call(radius=3)] and left_out == []


def test_tools_runner_scores_items_and_reports_errors(tmp_path: Path) -> None:
    from ganymede.apps.assistant.evaluate import evaluate_tools, tools_metrics, write_predictions
    from ganymede.core.errors import ContextWindowExceededError
    from ganymede.core.fileio import jsonl_records
    from ganymede.core.generation import GenerationConfig
    from tests.fakes import ScriptedBackend, tool_call_reply

    def reply(messages: list) -> object:
        if "broken" in messages[-1]["content"]:
            raise ContextWindowExceededError("the schemas do not fit")
        return tool_call_reply("geometry_area_circle", radius=10)

    broken = BfclItem("simple_python_2", [{"role": "user", "content": "broken"}], [AREA], TRUTH)
    advanced: list[int] = []
    rows = evaluate_tools(
        ScriptedBackend(reply),
        [_item(TRUTH), broken],
        config=GenerationConfig(greedy=True, max_new_tokens=64),
        advance=advanced.append,
    )
    assert [r["correct"] for r in rows] == [True, False] and rows[1]["reason"].startswith("error:")
    assert advanced == [1, 1]
    metrics = tools_metrics(rows, model="m", data="d.jsonl")
    assert (metrics["accuracy"], metrics["model"], metrics["errors"]) == (0.5, "m", 1)
    write_predictions(tmp_path / "out" / "p.jsonl", rows)
    lines = (tmp_path / "out" / "p.jsonl").read_text().splitlines()
    assert [record for _, record in jsonl_records(lines, "p.jsonl")] == rows


def test_rag_runner_retrieval_only_and_with_a_model(tmp_path: Path) -> None:
    from ganymede.apps.assistant.evaluate import evaluate_rag, index_paragraphs, rag_metrics
    from ganymede.apps.evaluation.rag import SquadQuestion
    from ganymede.core.errors import GanymedeError
    from tests.fakes import ScriptedBackend
    from tests.unit.test_index import hashing_embed

    articles = {"T": [(0, "Normandy is in France."), (1, "Bread is baked in ovens.")]}
    index = index_paragraphs(articles, tmp_path / "squad.db", embed=hashing_embed)
    questions = [
        SquadQuestion("1", "Where is Normandy?", "T/0", ["France"]),
        SquadQuestion("2", "Who owns Normandy?", "T/0", []),
    ]
    with pytest.raises(GanymedeError, match="context_k cannot exceed k"):
        evaluate_rag(index, questions, None, k=1, context_k=2)
    rows = evaluate_rag(index, questions, None, k=2, context_k=1)
    assert rows[0]["retrieved"][0] == "T/0" and rows[0]["prediction"] == "" and rows[1]["em"] == 1.0
    metrics = rag_metrics(rows, k=2, mode="hybrid", data="s.json", model=None)
    assert metrics == {"n": 2, "recall@2": 1.0, "recall@1": 1.0, "retrieval": "hybrid", "data": "s.json"}

    backend = ScriptedBackend(lambda messages: "France" if "Where" in messages[-1]["content"] else "I don't know")
    rows = evaluate_rag(index, questions, backend, k=2, context_k=1, check=False)
    assert [(r["prediction"], r["em"]) for r in rows] == [("France", 1.0), ("", 1.0)]
    assert rows[1]["reply"] == "I don't know"
    assert rag_metrics(rows, k=2, mode="hybrid", data="s.json", model="m")["exact_match"] == 1.0
