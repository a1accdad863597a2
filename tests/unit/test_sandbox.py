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


# -- host-side bounded reading (apps/tables/safe_files.py) ---------------------------------------------
def test_terminal_safe_strips_sequences_and_keeps_text() -> None:
    from ganymede.apps.tables.safe_files import terminal_safe

    assert terminal_safe("a\tb\nc") == "a\tb\nc"
    assert terminal_safe("\x1b[31mred\x1b[0m") == "red"
    assert terminal_safe("\x1b]0;title\x07after") == "after"
    assert terminal_safe("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert terminal_safe("x\x1b[2J\x1b[Hy") == "xy"
    assert terminal_safe("bell\x07") == "bell\\x07"
    assert terminal_safe("over\rwrite\r\n") == "over\\x0dwrite\n"
    assert terminal_safe("\x9b31m8-bit") == "8-bit"
    assert terminal_safe("caf\u00e9 \u202eevil") == "caf\u00e9 evil"


def test_loads_bounded_limits_depth_and_size() -> None:
    from ganymede.apps.tables.safe_files import UnsafeInputError, loads_bounded

    assert loads_bounded('{"a": [1, {"b": "[[[["}]}', 1000) == {"a": [1, {"b": "[[[["}]}
    with pytest.raises(UnsafeInputError, match="nested deeper"):
        loads_bounded("[" * 100_000 + "]" * 100_000, 10**6)
    with pytest.raises(UnsafeInputError, match="larger than"):
        loads_bounded("[" + "1," * 1000 + "1]", 100)


def test_zip_bomb_workbook_is_refused(tmp_path) -> None:
    import zipfile

    from ganymede.apps.tables.safe_files import UnsafeInputError, check_zip_bounded

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (4 << 20))
    assert path.stat().st_size < 100_000
    check_zip_bounded(path, max_bytes=8 << 20)
    with pytest.raises(UnsafeInputError, match="unpacks to 4 MB"):
        check_zip_bounded(path, max_bytes=1 << 20)


def test_parquet_size_is_known_before_decoding(tmp_path) -> None:
    from ganymede.apps.tables.safe_files import parquet_decoded_bytes, read_parquet_bounded

    frame = pd.DataFrame({"n": range(1000), "s": ["abc"] * 1000})
    frame.to_parquet(tmp_path / "t.parquet")
    assert 8000 <= parquet_decoded_bytes(tmp_path / "t.parquet") < 100_000
    assert read_parquet_bounded(tmp_path / "t.parquet").equals(pd.read_parquet(tmp_path / "t.parquet"))


def test_remove_tree_handles_links_and_unwritable_dirs(tmp_path) -> None:
    from ganymede.apps.tables.safe_files import remove_tree

    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    top = tmp_path / "top"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_text("x")
    (top / "link").symlink_to(tmp_path)
    (top / "a" / "file-link").symlink_to(outside)
    (top / "a").chmod(0o500)
    remove_tree(top)
    assert not top.exists() and outside.read_text() == "keep"
    remove_tree(top)  # already gone: nothing to do
