"""query_table: a question over a CSV file, answered by pandas code that runs in the pandas app's sandbox.

The sandbox and the question-to-code step belong to apps.sandbox / apps.pandas_code (another app); this tool
only exists when they can be imported, so the assistant never runs model-written code outside the sandbox."""

from __future__ import annotations

import importlib
from typing import Any

from apps.tools import Tool


def _pandas_app() -> Any | None:
    try:
        return importlib.import_module("apps.pandas_code")
    except ImportError:
        return None


def table_tool() -> Tool | None:
    """The query_table tool, or None while apps.pandas_code (with its sandbox) is not installed."""
    module = _pandas_app()
    answer = getattr(module, "answer_question", None) if module else None
    if answer is None:
        return None

    def query_table(path: str, question: str) -> Any:
        return answer(path, question)

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
