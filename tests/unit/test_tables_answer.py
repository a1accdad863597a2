"""The plain-language answer: written from the sandbox's result and checked, so a sentence that states a
number the result lacks is dropped (a scripted backend that lies is caught); the CLI's --json carries both."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ganymede.apps.tables import answer as phrasing
from ganymede.apps.tables import pandas_code, sandbox
from ganymede.cli import main
from tests.fakes import ScriptedBackend

TIPS = pd.DataFrame(
    {
        "smoker": ["Yes", "No", "Yes", "No"],
        "tip": [3.0, 2.5, 3.02, 3.48],
        "total_bill": [20.0, 15.0, 18.5, 22.1],
    }
)
CODE = "```python\nresult = df.groupby('smoker')['tip'].mean()\n```"


def _scalar(value: object) -> sandbox.SandboxResult:
    return sandbox.SandboxResult(ok=True, kind="scalar", value=value)


def test_numbers_backed_by_the_result_pass_rounding_allowed() -> None:
    result = _scalar({"smokers": 3.00871, "non_smokers": 2.99184})
    sentence = "Smokers tip 3.01 on average and non-smokers 2.99, so smokers tip slightly more."
    assert phrasing.unsupported_numbers(sentence, result, "Do smokers tip more?") == []
    assert phrasing.unsupported_numbers("Smokers tip about 3 on average.", result, "q") == []
    # a number from the question may be repeated ("the 1982 models")
    assert phrasing.unsupported_numbers("The 1982 models average 31.71 mpg.", _scalar(31.7097), "of 1982?") == []
    # a percentage may state a fraction of the result
    assert phrasing.unsupported_numbers("Tips are 15.3% of the bill.", _scalar(0.15304), "q") == []


def test_a_number_absent_from_the_result_is_caught() -> None:
    result = _scalar({"smokers": 3.00871, "non_smokers": 2.99184})
    assert phrasing.unsupported_numbers("Smokers tip 3.50 on average.", result, "q") == ["3.5"]
    assert phrasing.unsupported_numbers("Smokers tip 3.01, 12% more.", result, "q") == ["12%"]
    series = sandbox.SandboxResult(ok=True, kind="series", value=pd.Series([27.89, 30.45], index=["usa", "japan"]))
    assert phrasing.unsupported_numbers("USA cars average 27.9 mpg and Japanese 31.2.", series, "q") == ["31.2"]


def test_ask_keeps_a_sentence_written_from_the_result() -> None:
    backend = ScriptedBackend([CODE, "Smokers tip 3.01 on average and non-smokers 2.99."])
    answer = pandas_code.ask(backend, "Do smokers tip more?", {"tips": TIPS}, retries=0, explain=True)
    assert answer.ok and answer.sentence == "Smokers tip 3.01 on average and non-smokers 2.99."
    phrasing_prompt = backend.calls[1][0][-1]["content"]
    assert "3.01" in phrasing_prompt and "2.99" in phrasing_prompt  # the model phrases the real result


def test_a_lying_sentence_is_dropped_and_the_result_shown_alone() -> None:
    backend = ScriptedBackend([CODE, "Smokers tip 4.25 on average, far more than non-smokers at 1.10."])
    answer = pandas_code.ask(backend, "Do smokers tip more?", {"tips": TIPS}, retries=0, explain=True)
    assert answer.ok and answer.sentence is None
    assert "4.25" in answer.sentence_note and "1.1" in answer.sentence_note
    assert answer.result.value.round(2).to_dict() == {"No": 2.99, "Yes": 3.01}


def test_cli_json_carries_answer_and_result(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch) -> None:
    data = tmp_path / "tips.csv"
    TIPS.to_csv(data, index=False)
    backend = ScriptedBackend([CODE, "Smokers tip 3.01 on average and non-smokers 2.99."])
    monkeypatch.setattr("ganymede.apps.tables.cli.load_backend_from_args", lambda args: backend)
    assert main(["pandas", "--json", "--data", str(data), "Do smokers tip more?"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["answer"] == "Smokers tip 3.01 on average and non-smokers 2.99."
    assert payload["result"] == {"No": pytest.approx(2.99), "Yes": pytest.approx(3.01)}
    assert isinstance(payload["isolation"], list)
    liar = ScriptedBackend([CODE, "Smokers tip 9.99."])
    monkeypatch.setattr("ganymede.apps.tables.cli.load_backend_from_args", lambda args: liar)
    assert main(["pandas", "--data", str(data), "Do smokers tip more?"]) == 0
    out = capsys.readouterr()
    assert "9.99" not in out.out and "3.01" in out.out and "dropped" in out.err


def test_clean_sentence_strips_labels_fences_and_keeps_two_sentences() -> None:
    text = "Answer: **Paris** sells most. It sold 4.0 in all. Rome sold 2.0.\n```python\nx\n```"
    assert phrasing.clean_sentence(text) == "Paris sells most. It sold 4.0 in all."
