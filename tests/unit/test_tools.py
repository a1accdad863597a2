"""The tool registry, the decorator, and each built-in tool (http_api against a local HTTP server)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from ganymede.apps.assistant.tools import (
    ToolError,
    ToolRegistry,
    check_arguments,
    default_registry,
    schema_from_function,
    tool,
)
from ganymede.apps.assistant.tools.calculator import TOOL as CALCULATOR
from ganymede.apps.assistant.tools.calculator import calculate
from ganymede.apps.assistant.tools.clock import current_datetime
from ganymede.apps.assistant.tools.http_api import (
    HttpApi,
    is_public_address,
    operations_of,
    pinned_url,
    url_allowed,
)
from ganymede.apps.assistant.tools.table import table_tool


# -- calculator -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", 14),
        ("(17 + 3) * 2 ** 3", 160),
        ("2^10", 1024),
        ("7 / 2", 3.5),
        ("sqrt(16) + abs(-2)", 6),
        ("round(pi, 3)", 3.142),
        ("10 % 4 + 9 // 2", 6),
        ("-(-5)", 5),
        ("max(3, 8, 1)", 8),
    ],
)
def test_calculator_values(expression: str, value: float) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('echo hi')",
        "open('/etc/passwd')",
        "(1).__class__",
        "x + 1",
        "[1, 2]",
        "'a' * 3",
        "lambda: 1",
        "True + 1",
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ToolError):
        calculate(expression)


def test_calculator_bounds_work_and_reports_errors() -> None:
    with pytest.raises(ToolError, match="exponent"):
        calculate("9 ** 9 ** 9")
    with pytest.raises(ToolError, match="division by zero"):
        calculate("1 / 0")
    with pytest.raises(ToolError, match="digits"):
        calculate("(10 ** 999) * (10 ** 999)")
    step = ToolRegistry([CALCULATOR]).run("calculator", {"expression": "1/0"})
    assert not step.ok and "division by zero" in step.result


# -- current_datetime ----------------------------------------------------------------------------------------------
def test_current_datetime_in_a_time_zone() -> None:
    now = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)
    paris = current_datetime("Europe/Paris", now=now)
    assert paris["time"] == "14:00:00" and paris["weekday"] == "Monday" and paris["date"] == "2024-07-01"
    with pytest.raises(ToolError, match="unknown time zone"):
        current_datetime("Mars/Olympus", now=now)


# -- registry and decorator ----------------------------------------------------------------------------------------
def test_decorator_builds_schema_from_hints_and_docstring() -> None:
    def convert(amount: float, unit: Literal["km", "mi"] = "km", note: str | None = None) -> float:
        """Convert a distance.

        Args:
            amount: how far
            unit: the unit of the result
        """
        return amount

    description, schema = schema_from_function(convert)
    assert description == "Convert a distance."
    assert schema["required"] == ["amount"]
    assert schema["properties"]["amount"] == {"type": "number", "description": "how far"}
    assert schema["properties"]["unit"]["enum"] == ["km", "mi"]
    assert schema["properties"]["note"]["type"] == "string"


def test_user_tool_is_registered_and_called() -> None:
    @tool
    def shout(text: str, times: int = 1) -> str:
        """Upper-case a text."""
        return text.upper() * times

    registry = default_registry()
    assert "shout" in registry.names() and "calculator" in registry.names()
    assert registry.run("shout", {"text": "hi", "times": 2}).result == "HIHI"


def test_registry_rejects_bad_arguments_without_running() -> None:
    ran = []

    @tool(name="record")
    def record(value: int) -> str:
        """Record a value."""
        ran.append(value)
        return "ok"

    registry = ToolRegistry([record])
    assert "missing required" in registry.run("record", {}).result
    assert "unknown argument" in registry.run("record", {"value": 1, "extra": 2}).result
    assert "should be integer" in registry.run("record", {"value": "one"}).result
    assert "no tool named" in registry.run("nope", {}).result
    assert ran == []
    assert check_arguments({"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"a": 3}) is None


def test_side_effect_tools_need_confirmation() -> None:
    done = []

    @tool(side_effects=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        done.append(path)
        return "deleted"

    registry = ToolRegistry([delete_file])
    refused = registry.run("delete_file", {"path": "a"}, confirm=lambda name, args: False)
    assert not refused.ok and "did not allow" in refused.result and done == []
    assert registry.run("delete_file", {"path": "a"}).ok is False  # no way to ask: refused
    assert registry.run("delete_file", {"path": "a"}, confirm=lambda name, args: True).result == "deleted"
    assert done == ["a"]


def test_query_table_needs_a_backend_and_runs_in_the_pandas_sandbox(tmp_path: Path, monkeypatch) -> None:
    from tests.fakes import ScriptedBackend

    assert table_tool(None) is None and "query_table" not in default_registry().names()
    pytest.importorskip("ganymede.apps.tables.pandas_code")
    table = tmp_path / "people.csv"
    table.write_text("name,age\nalice,31\nbob,45\n")
    backend = ScriptedBackend("```python\nresult = df['age'].sum()\n```")
    made = table_tool(backend, roots=[tmp_path])
    assert made is not None
    registry = ToolRegistry([made])
    step = registry.run("query_table", {"path": str(table), "question": "total age?"})
    assert step.ok, step.result
    assert "76" in step.result
    outside = registry.run("query_table", {"path": "/etc/passwd", "question": "x"})
    assert not outside.ok and "outside the allowed folders" in outside.result


# -- http_api ---------------------------------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/api/items/"):
            body = json.dumps({"id": self.path.rsplit("/", 1)[-1], "name": "widget"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/api/escape"):
            self.send_response(302)
            self.send_header("location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
        elif self.path.startswith("/api/slow"):
            import time

            time.sleep(1.5)
            self.send_response(200)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self) -> None:
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api"
    httpd.shutdown()


def _spec(base: str) -> dict:
    return {
        "openapi": "3.0.0",
        "servers": [{"url": base}],
        "paths": {
            "/items/{item_id}": {
                "get": {
                    "operationId": "get_item",
                    "summary": "one item",
                    "parameters": [{"name": "item_id", "in": "path", "required": True}],
                }
            },
            "/items": {"post": {"operationId": "create_item", "requestBody": {"content": {}}}},
            "/escape": {"get": {"operationId": "escape"}},
            "/slow": {"get": {"operationId": "slow"}},
        },
    }


def test_http_api_calls_an_allowed_local_server_when_private_hosts_are_allowed(server: str, tmp_path: Path) -> None:
    spec_file = tmp_path / "api.json"
    spec_file.write_text(json.dumps(_spec(server)))
    api = HttpApi.from_files([str(spec_file)], allow_urls=[server], allow_private=True)
    registry = ToolRegistry([api.tool()])
    step = registry.run("http_api", {"operation": "get_item", "params": {"item_id": "42"}})
    assert step.ok, step.result
    assert json.loads(step.result)["body"] == {"id": "42", "name": "widget"}


def test_http_api_refuses_private_addresses_by_default(server: str) -> None:
    api = HttpApi(operations_of(_spec(server)), allow_urls=[server])
    step = ToolRegistry([api.tool()]).run("http_api", {"operation": "get_item", "params": {"item_id": "1"}})
    assert not step.ok and "private or loopback" in step.result


def test_http_api_refuses_a_public_name_that_resolves_to_a_private_address() -> None:
    api = HttpApi(operations_of(_spec("https://api.example.com/v1")), resolver=lambda host: ["10.0.0.7"])
    with pytest.raises(ToolError, match=r"10\.0\.0\.7"):
        api.call("get_item", {"item_id": "1"})


def test_http_api_rechecks_redirects(server: str) -> None:
    api = HttpApi(operations_of(_spec(server)), allow_urls=[server], allow_private=True)
    with pytest.raises(ToolError, match="not under an allowed base URL"):
        api.call("escape")


def test_http_api_times_out(server: str) -> None:
    api = HttpApi(operations_of(_spec(server)), allow_urls=[server], allow_private=True, timeout=0.3)
    with pytest.raises(ToolError, match="did not answer"):
        api.call("slow")


def test_http_api_writes_need_confirmation(server: str) -> None:
    api = HttpApi(operations_of(_spec(server)), allow_urls=[server], allow_private=True)
    registry = ToolRegistry([api.tool()])
    assert "did not allow" in registry.run("http_api", {"operation": "create_item", "body": {"n": 1}}).result
    allowed = registry.run("http_api", {"operation": "create_item", "body": {"n": 1}}, confirm=lambda n, a: True)
    assert json.loads(allowed.result)["status"] == 201


def test_http_api_unknown_operation_and_parameters(server: str) -> None:
    api = HttpApi(operations_of(_spec(server)), allow_urls=[server], allow_private=True)
    with pytest.raises(ToolError, match="unknown operation"):
        api.call("drop_tables")
    with pytest.raises(ToolError, match="needs parameter"):
        api.call("get_item", {})


def test_address_and_allow_list_rules() -> None:
    assert not any(
        map(
            is_public_address,
            ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "0.0.0.0"],
        )
    )
    assert is_public_address("93.184.216.34")
    assert url_allowed("https://api.example.com/v1/items", ["https://api.example.com/v1"])
    assert not url_allowed("https://api.example.com/v10/items", ["https://api.example.com/v1"])
    assert not url_allowed("http://api.example.com/v1/items", ["https://api.example.com/v1"])
    assert not url_allowed("https://api.example.com.evil.io/v1", ["https://api.example.com/v1"])


def test_pinned_url_puts_the_checked_ip_in_the_url_and_keeps_the_name_for_the_host_header() -> None:
    assert pinned_url("https://api.example.com/v1/items?q=1", "93.184.216.34") == (
        "https://93.184.216.34:443/v1/items?q=1",
        "api.example.com",
    )
    assert pinned_url("http://api.example.com:8080/v1", "2606:2800:220:1::1") == (
        "http://[2606:2800:220:1::1]:8080/v1",
        "api.example.com:8080",
    )
    assert pinned_url("http://me:pw@api.example.com/v1", "93.184.216.34") == (
        "http://me:pw@93.184.216.34:80/v1",
        "api.example.com",
    )


def test_http_api_refuses_a_host_with_no_address_and_a_bad_port() -> None:
    api = HttpApi(operations_of(_spec("https://api.example.com/v1")), resolver=lambda host: [])
    with pytest.raises(ToolError, match="resolves to no address"):
        api.call("get_item", {"item_id": "1"})
    with pytest.raises(ToolError, match="port is not a number"):
        api.check_url("https://api.example.com:99999/v1/items/1")
