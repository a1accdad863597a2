"""Charts and several tables, through the real sandbox (the model scripted): a plotting question returns
the chart and a one-line description, never a module/Axes repr; two tables are joined by name."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ganymede.apps.tables import io as table_io
from ganymede.apps.tables import pandas_code
from ganymede.cli import main
from tests.fakes import ScriptedBackend

BILLS = pd.DataFrame({"total_bill": [10.0, 12.5, 20.0, 31.0, 18.2], "day": ["Sat", "Sun", "Sun", "Sat", "Fri"]})
ORDERS = pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_id": [10, 11, 10, 12], "amount": [5.0, 7.5, 2.5, 9.0]})
CUSTOMERS = pd.DataFrame({"customer_id": [10, 11, 12], "country": ["FR", "IT", "FR"]})


@pytest.mark.parametrize(
    "code",
    [
        "import matplotlib.pyplot as plt\nplt.hist(df['total_bill'])\nresult = plt\n",
        "result = df['total_bill'].plot(kind='hist')\n",  # pandas plotting, plt never named
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.hist(df['total_bill'])\nresult = fig\n",
    ],
)
def test_a_chart_question_returns_the_chart_and_no_repr(code: str, tmp_path: Path) -> None:
    backend = ScriptedBackend(f"```python\n{code}```")
    answer = pandas_code.ask(backend, "Plot the distribution of total bills as a histogram.", {"bills": BILLS})
    assert answer.ok, answer.error
    assert answer.result.kind == "chart" and answer.result.value is None
    assert answer.result.charts and answer.result.charts[0].startswith(b"\x89PNG")
    assert answer.chart_description == "Histogram of total_bill."
    assert len(answer.attempts) == 1


def test_cli_prints_the_chart_path_and_description_never_the_module(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    data = tmp_path / "bills.csv"
    BILLS.to_csv(data, index=False)
    code = "import matplotlib.pyplot as plt\nplt.hist(df['total_bill'])\nresult = plt\n"
    backend = ScriptedBackend(f"```python\n{code}```")
    monkeypatch.setattr("ganymede.apps.tables.cli.load_backend_from_args", lambda args: backend)
    args = ["pandas", "--data", str(data), "--chart-dir", str(tmp_path), "Plot total bills as a histogram."]
    assert main([*args, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["kind"] == "chart" and payload["result"] == payload["charts"] == [str(tmp_path / "chart-1.png")]
    assert payload["chart_description"] == payload["answer"] == "Histogram of total_bill."
    assert "module" not in json.dumps(payload)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Histogram of total_bill." in out and f"chart: {tmp_path / 'chart-1.png'}" in out and "<module" not in out


def test_two_tables_are_joined_by_name(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS.to_csv(index=False), encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS.to_csv(index=False), encoding="utf-8")
    tables = table_io.load_tables([tmp_path / "orders.csv", tmp_path / "customers.csv"])
    schema = table_io.describe_tables(tables)
    assert "orders: 4 rows" in schema and "customers: 3 rows" in schema and "share: 'customer_id'" in schema
    code = (
        "```python\nmerged = pd.merge(orders, customers, on='customer_id')\n"
        "result = merged.groupby('country')['amount'].sum()\n```"
    )
    backend = ScriptedBackend([code, "France spent 16.5 and Italy 7.5."])
    monkeypatch.setattr("ganymede.apps.tables.cli.load_backend_from_args", lambda args: backend)
    question = "Total amount by customer country?"
    data = ["--data", str(tmp_path / "orders.csv"), "--data", str(tmp_path / "customers.csv")]
    assert main(["pandas", "--json", *data, question]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["ok"] and payload["result"] == {"FR": 16.5, "IT": 7.5}
    assert payload["answer"] == "France spent 16.5 and Italy 7.5."
    # df stays the first table, and dfs the dict of all of them
    answer = pandas_code.run_user_code("result = [len(df), len(dfs['customers']), len(customers)]\n", tables)
    assert answer.ok and answer.result.value == [4, 3, 3]


def test_table_names_are_identifiers_that_shadow_nothing() -> None:
    assert table_io.table_name("2024 sales-Q1.csv", set()) == "t_2024_sales_q1"
    assert table_io.table_name("df.csv", set()) == "df_table"
    assert table_io.table_name("list.csv", set()) == "list_table"
    assert table_io.table_name("class.csv", set()) == "class_table"
    assert table_io.table_name("a.csv", {"a"}) == "a_2"


def test_schema_lists_values_of_low_cardinality_text_and_ranges() -> None:
    text = table_io.describe_table("df", pd.DataFrame({"year": [70, 82], "origin": ["usa", "japan"], "x": [1.5, None]}))
    assert "'year': int64, range 70 to 82" in text
    assert "'origin': str, 2 values: 'usa', 'japan'" in text
    assert "1 missing" in text
