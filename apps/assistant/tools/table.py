"""query_table: a question over a CSV file, answered by pandas code that runs in the pandas app's sandbox.

The question-to-code step and the sandbox belong to the tables app (ganymede.apps.tables.pandas_code: its
public `load_tables`, `ask` and `result_to_jsonable`); this tool only exists when that imports, so model-written
code never runs outside that sandbox. Tables are read only from under the allowed folders (default: the working
directory)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganymede.apps.assistant.tools import Tool, ToolError

TABLE_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".xlsx", ".parquet"}


def _pandas_app() -> Any | None:
    try:
        module = importlib.import_module("ganymede.apps.tables")
    except ImportError:
        return None
    needed = ("load_tables", "ask", "result_to_jsonable")
    return module if all(hasattr(module, name) for name in needed) else None


def table_tool(backend: Any = None, roots: Iterable[Path] | None = None) -> Tool | None:
    """The query_table tool bound to `backend` (which writes the pandas code), or None when there is no
    backend or apps.pandas_code is not installed."""
    module = _pandas_app()
    if module is None or backend is None:
        return None
    allowed = [Path(r).resolve() for r in (roots or [Path.cwd()])]

    def query_table(path: str, question: str) -> dict[str, Any]:
        file = Path(path).expanduser().resolve()
        if not any(file.is_relative_to(root) for root in allowed):
            raise ToolError(f"{path} is outside the allowed folders ({', '.join(map(str, allowed))})")
        if file.suffix.lower() not in TABLE_SUFFIXES or not file.is_file():
            raise ToolError(f"{path} is not a table file ({', '.join(sorted(TABLE_SUFFIXES))})")
        answer = module.ask(backend, question, module.load_tables([file]))
        if not answer.ok:
            raise ToolError(f"the pandas code failed: {answer.error}")
        return {"code": answer.code, "result": module.result_to_jsonable(answer.result)}

    return Tool(
        name="query_table",
        description="Answer a question about a CSV table (counts, sums, averages, filters) by running pandas code "
        "in a sandbox.",
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "path of the CSV file"},
                "question": {"type": "string", "description": "the question about the table"},
            },
            "required": ["path", "question"],
        },
        func=query_table,
    )
