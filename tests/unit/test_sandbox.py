"""The sandbox's static check (no process) and a few real runs: values, tables, charts, errors, limits."""

from __future__ import annotations

import pandas as pd
import pytest

from ganymede.apps.tables import sandbox


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("import os", "import of 'os'"),
        ("from subprocess import run", "import from 'subprocess'"),
        ("from pandas import *", "'*'"),
        ("x = ().__class__", "'__class__'"),
        ("open('/etc/passwd')", "'open'"),
        ("eval('1')", "'eval'"),
        ("getattr(pd, 'io')", "'getattr'"),
        ("df.query('@__import__')", "'__'"),
        ("f = lambda: 0\nf.gi_frame", "'gi_frame'"),
        ("np.load('x.npy')", "'load'"),
        ("def f(:\n  pass", "syntax error"),
    ],
)
def test_static_check_refuses(code: str, fragment: str) -> None:
    problems = sandbox.check_code(code)
    assert problems and any(fragment in p for p in problems), problems
    assert problems[0].startswith("line ")


def test_static_check_accepts_ordinary_pandas() -> None:
    code = (
        "import pandas as pd\nimport numpy as np\nfrom collections import Counter\n"
        "totals = df.groupby('city')['sales'].sum()\nresult = totals.sort_values().tail(3)\n"
        "import matplotlib.pyplot as plt\nplt.bar(totals.index, totals.values)\n"
    )
    assert sandbox.check_code(code) == []


def test_banned_calls_are_configurable() -> None:
    assert sandbox.check_code("df.to_csv('x.csv')") == []
    problems = sandbox.check_code("df.to_csv('x.csv')", banned_calls=frozenset({"to_csv"}))
    assert problems and "to_csv() is not allowed" in problems[0]


def test_run_refuses_before_starting_a_process() -> None:
    with pytest.raises(sandbox.UnsafeCodeError, match="refused before running"):
        sandbox.run_code("import socket")


def test_values_tables_and_series_come_back() -> None:
    frame = pd.DataFrame({"city": ["a", "b", "a"], "sales": [1.5, 2.0, 3.0]})
    scalar = sandbox.run_code("result = df['sales'].sum()", {"df": frame})
    assert scalar.ok and scalar.kind == "scalar" and scalar.value == pytest.approx(6.5)
    table = sandbox.run_code("result = df.groupby('city', as_index=False)['sales'].sum()", {"df": frame})
    assert table.ok and table.kind == "dataframe"
    assert table.value.set_index("city")["sales"].to_dict() == {"a": 4.5, "b": 2.0}
    series = sandbox.run_code("result = df.groupby('city')['sales'].mean()", {"df": frame})
    assert series.ok and series.kind == "series" and series.value.to_dict() == {"a": 2.25, "b": 2.0}
    assert "network-namespace" in series.layers or "audit-hook" in series.layers


def test_several_tables_and_a_chart() -> None:
    tables = {"left": pd.DataFrame({"k": [1, 2]}), "right": pd.DataFrame({"k": [2, 3]})}
    code = (
        "import matplotlib.pyplot as plt\nmerged = dfs['left'].merge(dfs['right'], on='k')\n"
        "plt.bar(['a', 'b'], [1, 2])\nresult = len(merged)"
    )
    result = sandbox.run_code(code, {"dfs": tables})
    assert result.ok and result.value == 1
    assert len(result.charts) == 1 and result.charts[0].startswith(b"\x89PNG")


def test_errors_name_the_line_and_limits_stop_runaway_code() -> None:
    failed = sandbox.run_code("x = 1\nresult = df['missing']", {"df": pd.DataFrame({"a": [1]})})
    assert not failed.ok and failed.error_type == "KeyError" and "(line 2)" in failed.error
    looping = sandbox.run_code("while True:\n    pass", limits=sandbox.Limits(cpu_seconds=1, wall_seconds=8))
    assert not looping.ok and looping.limit in {"cpu", "wall"} and "stopped" in looping.error


def test_the_child_sees_no_host_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-not-leak")
    code = "import pandas as pd\nresult = pd.io.common.os.environ.get('OPENAI_API_KEY', 'absent')"
    result = sandbox.run_code(code, check=False)
    assert result.ok and result.value == "absent"
