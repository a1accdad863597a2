"""PandasEval/DABench metric helpers: pure functions, no model, no sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganymede.apps.evaluation import pandas as pe
from ganymede.core.errors import InputFileError

FUNCTION_PROBLEM = {
    "task_id": "T/0",
    "prompt": "import pandas as pd\n\ndef total(df):\n    # sum of column a\n    return ",
    "canonical_solution": ["df['a'].sum()"],
    "test": "def check(candidate):\n    assert candidate(pd.DataFrame({'a': [1, 2]})) == 3\n",
    "entry_point": "total",
}
SCRIPT_PROBLEM = {
    "task_id": "T/1",
    "prompt": "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf.index = df.index + 1\n# double a\nnew_df =",
    "canonical_solution": [" df * 2"],
    "test": "def check():\n    assert new_df['a'].tolist() == [2]\n",
    "entry_point": "none",
}


def test_formats_are_detected() -> None:
    assert pe.detect_format(FUNCTION_PROBLEM) == "pandaseval"
    assert pe.detect_format({"question": "q", "file_name": "t.csv"}) == "dabench"
    with pytest.raises(InputFileError):
        pe.detect_format({"text": "x"})


def test_function_completion_replaces_the_def() -> None:
    model_code = "import pandas as pd\n\ndef total(df):\n    return int(df['a'].sum())\n"
    program = pe.merge_completion(FUNCTION_PROBLEM, model_code)
    assert program.count("def total") == 1 and "int(df['a'].sum())" in program
    namespace: dict = {}
    exec(program + pe.test_harness(FUNCTION_PROBLEM), namespace)
    assert pe.passed(namespace["result"], True)


def test_script_completion_does_not_rerun_mutating_setup() -> None:
    model_code = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf.index = df.index + 1\nnew_df = df * 2\n"
    program = pe.merge_completion(SCRIPT_PROBLEM, model_code)
    assert program.count("df.index = df.index + 1") == 1
    assert "new_df =\n" not in program
    namespace: dict = {}
    exec(program + pe.test_harness(SCRIPT_PROBLEM), namespace)
    assert namespace["result"] == pe.PASS_MARK and list(namespace["new_df"].index) == [1]


def test_pass_at_1_excludes_invalid_problems() -> None:
    outcomes = [
        pe.ProblemOutcome("a", valid=True, passed=True, passed_first_try=False),
        pe.ProblemOutcome("b", valid=True, passed=False),
        pe.ProblemOutcome("c", valid=False),
    ]
    assert pe.pass_at_1(outcomes) == {"pass_at_1": 0.5, "passed": 1, "n": 2, "invalid": 1}
    assert pe.pass_at_1(outcomes, first_try=True)["pass_at_1"] == 0.0


def test_dabench_answers_parse_and_match_at_label_precision() -> None:
    assert pe.parse_answers("@mean_fare[34.65] @n[3]") == {"mean_fare": "34.65", "n": "3"}
    assert pe.answer_names('@mean_fare[mean_fare_value] where "x"') == ["mean_fare"]
    assert pe.values_match(34.6512, "34.65")
    assert not pe.values_match(34.67, "34.65")
    assert pe.values_match("Male", "male")
    assert pe.values_match(["a", "b"], "a, b")
    assert pe.question_correct({"Mean_Fare": 34.649}, [["mean_fare", "34.65"]]) == (True, 1, 1)
    assert pe.question_correct({"mean_fare": 1.0}, [["mean_fare", "34.65"], ["n", "3"]]) == (False, 0, 2)
    assert pe.format_answers({"a": 1.0, "b": "x"}) == "@a[1.0] @b[x]"


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputFileError, match="line 2"):
        pe.read_jsonl(path)
