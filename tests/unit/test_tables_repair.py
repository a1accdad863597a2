"""Self-repair: the repair prompt carries the error, the failing line and a targeted hint; a reply that
repeats code which already failed is never run again; a result that cannot be the answer is repaired too."""

from __future__ import annotations

import pandas as pd

from ganymede.apps.tables import pandas_code, repair, sandbox
from ganymede.core.prompts import load_prompt
from tests.fakes import ScriptedBackend

TIPS = pd.DataFrame({"day": ["Sun", "Sat", "Sun"], "tip": [3.0, 2.0, 4.0], "total_bill": [20.0, 10.0, 20.0]})
SERIES_GROUPBY = "```python\nratio = df['tip'] / df['total_bill']\nresult = ratio.groupby('day').mean()\n```"
FIXED = (
    "```python\ndf['ratio'] = df['tip'] / df['total_bill']\n"
    "result = df.groupby('day')['ratio'].mean().sort_values(ascending=False)\n```"
)


def _config():
    return load_prompt(pandas_code.PROMPT).config()


def test_groupby_on_a_series_gets_the_failing_line_and_the_derived_column_hint() -> None:
    backend = ScriptedBackend([SERIES_GROUPBY, FIXED])
    answer = pandas_code.ask(backend, "Average tip percentage by day?", {"tips": TIPS}, retries=2)
    assert answer.ok and len(answer.attempts) == 2
    assert answer.result.value.round(2).to_dict() == {"Sun": 0.18, "Sat": 0.2}
    repair_turn = backend.calls[1][0][-1]["content"]
    assert "KeyError" in repair_turn
    assert "The failing line 2: result = ratio.groupby('day').mean()" in repair_turn
    assert "new column of df" in repair_turn


def test_a_repeat_of_failed_code_is_not_run_again() -> None:
    backend = ScriptedBackend(SERIES_GROUPBY)  # the model insists on the same program
    ran: list[str] = []

    def runner(code: str) -> sandbox.SandboxResult:
        ran.append(code)
        return sandbox.SandboxResult(ok=False, error="KeyError: 'day' (line 2)", error_type="KeyError")

    messages = [{"role": "user", "content": "q"}]
    attempts = pandas_code.solve(backend, messages, _config(), runner, retries=3, columns={"day", "tip"})
    assert len(ran) == 1 and len(attempts) == 1  # never sent to the sandbox twice
    # the repair repeated it; it was asked again, sampling, with a different instruction, never run
    assert len(backend.calls) == 2 + pandas_code.REPEAT_RETRIES
    assert "Hint:" in backend.calls[1][0][-1]["content"] and backend.calls[1][1].is_greedy
    assert "same code as before" in backend.calls[2][0][-1]["content"]
    assert "same code as before" in backend.calls[3][0][-1]["content"] and not backend.calls[3][1].is_greedy


def test_a_repeat_that_only_changes_comments_counts_as_the_same_program() -> None:
    assert repair.program_key("x = 1  # one\n\n") == repair.program_key("x  =  1\n")
    assert repair.program_key("x = 1\n") != repair.program_key("x = 2\n")


def test_a_varied_retry_after_a_repeat_is_run() -> None:
    backend = ScriptedBackend([SERIES_GROUPBY, SERIES_GROUPBY, FIXED])
    answer = pandas_code.ask(backend, "Average tip percentage by day?", {"tips": TIPS}, retries=2)
    assert answer.ok and [a.code for a in answer.attempts] == [
        pandas_code.extract_code(SERIES_GROUPBY),
        pandas_code.extract_code(FIXED),
    ]


def test_an_empty_or_nan_result_is_sent_back_with_the_value_hint() -> None:
    frame = pd.DataFrame({"model_year": [70, 82, 82], "mpg": [18.0, 30.0, 33.0]})
    wrong = "```python\nresult = df[df['model_year'] == 1982]['mpg'].mean()\n```"
    right = "```python\nresult = df[df['model_year'] == 82]['mpg'].mean()\n```"
    backend = ScriptedBackend([wrong, right])
    answer = pandas_code.ask(backend, "Average mpg of the 1982 models?", {"mpg": frame}, retries=2)
    assert answer.ok and answer.result.value == 31.5
    repair_turn = backend.calls[1][0][-1]["content"]
    assert "no row has model_year == 1982: model_year ranges from 70 to 82" in repair_turn
    assert "stored as 82: use model_year == 82" in repair_turn


def test_an_empty_result_that_stays_empty_is_still_returned() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    backend = ScriptedBackend(["```python\nresult = df[df['a'] > 5]\n```", "```python\nresult = df[df['a'] > 9]\n```"])
    answer = pandas_code.ask(backend, "Rows with a above 5?", {"t": frame}, retries=1)
    assert answer.ok and answer.result.kind == "dataframe" and len(answer.result.value) == 0
    assert answer.attempts[-1].warning and answer.error is None


def test_hints_for_common_pandas_3_mistakes() -> None:
    cow = repair.hint_for("ValueError: assignment destination is read-only", "df['a'][0] = 1")
    assert "df.loc" in cow
    assert "df.loc" in repair.hint_for("some error", "df['a'][df['b'] > 1] = 0\n")
    text = repair.hint_for("TypeError: agg function failed [how->mean,dtype->str]", "df.groupby('k').mean()")
    assert "numeric_only=True" in text and "pd.to_numeric" in text
    typo = repair.hint_for("KeyError: 'Tip'", "df['Tip']", {"tip", "day"})
    assert "'tip'" in typo and "no column 'Tip'" in typo
    assert "pd.concat" in repair.hint_for("AttributeError: 'DataFrame' object has no attribute 'append'", "")
    assert repair.hint_for("ZeroDivisionError: division by zero", "x = 1/0") is None


def test_plot_objects_are_recognised_but_answers_are_not() -> None:
    assert repair.is_plot_object("<module 'matplotlib.pyplot' from '/x/pyplot.py'>")
    assert repair.is_plot_object("<Axes: xlabel='day'>") and repair.is_plot_object(["Axes(0.125,0.11;0.775x0.77)"])
    assert not repair.is_plot_object("Legendary Pictures") and not repair.is_plot_object("ND")


def test_filters_that_match_no_row_are_named_with_what_the_column_holds() -> None:
    frame = pd.DataFrame({"origin": ["usa", "japan"], "year": [70, 82], "n": [1, 2]})
    found = repair.filter_mismatches(
        "a = df[df['origin'] == 'USA']\nb = df[df['year'] == 82]\nc = df[1982 == df['year']]\n", {"t": frame}
    )
    assert found == [
        "no row has origin == 'USA'; its values include 'usa'",
        "no row has year == 1982: year ranges from 70 to 82, so the year 1982 is stored as 82: use year == 82",
    ]
    assert repair.filter_mismatches("result = df[df['origin'] == 'japan']", {"t": frame}) == []
    assert repair.filter_mismatches("not python (", {"t": frame}) == []


def test_a_row_number_given_for_a_which_question_is_sent_back() -> None:
    frame = pd.DataFrame({"total": [18.8, 23.9, 12.0], "abbrev": ["AL", "ND", "DC"]})
    wrong = "```python\nresult = df['total'].idxmax()\n```"
    right = "```python\nresult = df.loc[df['total'].idxmax(), 'abbrev']\n```"
    backend = ScriptedBackend([wrong, right])
    answer = pandas_code.ask(backend, "Which state has the highest total?", {"crashes": frame}, retries=2)
    assert answer.ok and answer.result.value == "ND"
    assert "row number" in backend.calls[1][0][-1]["content"] and "'abbrev'" in backend.calls[1][0][-1]["content"]
    # a count is not a row number
    count = ScriptedBackend("```python\nresult = int((df['total'] > 15).sum())\n```")
    assert (
        pandas_code.ask(count, "How many states have a total above 15?", {"c": frame}, retries=0).attempts[0].warning
        is None
    )
