"""NL-to-pandas: a question about a table -> pandas code from the model -> static check -> sandboxed run
-> a value, a table or a chart. On an error the error text goes back to the model (self-repair).

Shape: `build_messages` (preprocess, with the tables described by apps/tables/io.py) -> `generate_code`
(model) -> `extract_code`, `check_pandas_code` and `run_pandas_code` (postprocess: the sandbox in
apps/tables/sandbox.py is the boundary); `solve` is the repair loop, `ask` the whole pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.tables import sandbox
from ganymede.apps.tables.io import code_variable, describe_tables
from ganymede.core.calllog import call_context
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic

if TYPE_CHECKING:
    import pandas as pd

    from ganymede.core.backends.base import Backend
    from ganymede.core.generation import GenerationConfig
    from ganymede.core.messages import Message

PROMPT = "tables"


#: pandas/numpy I/O the generated code may not call: the data is already loaded, nothing else is reachable.
PANDAS_BANNED_CALLS: frozenset[str] = frozenset(
    {
        "read_csv",
        "read_table",
        "read_fwf",
        "read_excel",
        "read_json",
        "read_html",
        "read_xml",
        "read_parquet",
        "read_feather",
        "read_orc",
        "read_pickle",
        "read_hdf",
        "read_sql",
        "read_sql_query",
        "read_sql_table",
        "read_stata",
        "read_sas",
        "read_spss",
        "read_clipboard",
        "read_gbq",
        "to_pickle",
        "to_csv",
        "to_excel",
        "to_parquet",
        "to_feather",
        "to_orc",
        "to_hdf",
        "to_sql",
        "to_stata",
        "to_clipboard",
        "to_gbq",
        "savefig",
        "io",
        "ExcelWriter",
        "HDFStore",
    }
)


# -- preprocess: the prompt ----------------------------------------------------------------------------
def build_messages(question: str, tables: dict[str, pd.DataFrame], sample_rows: int = 3) -> list[Message]:
    from ganymede.core.prompts import load_prompt

    if not question.strip():
        raise GanymedeError("the question is empty", "ask something about the table, e.g. 'mean of every column'")
    return load_prompt(PROMPT).render({"schema": describe_tables(tables, sample_rows), "question": question.strip()})


# -- model call and postprocess -------------------------------------------------------------------------
CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(text: str) -> str:
    """The first fenced code block, or the whole reply when the model wrote bare code."""
    blocks = [b for b in CODE_BLOCK.findall(text or "") if b.strip()]
    code = blocks[0] if blocks else (text or "")
    return code.strip("\n").rstrip() + "\n"


def generate_code(backend: Backend, messages: list[Message], config: GenerationConfig, template: str = PROMPT) -> str:
    with call_context(app="tables", template=template):
        return backend.chat(messages, config).text


def check_pandas_code(code: str) -> list[str]:
    """The static check with pandas' file and network I/O refused too (defence in depth only)."""
    return sandbox.check_code(code, banned_calls=PANDAS_BANNED_CALLS)


def run_pandas_code(
    code: str,
    tables: dict[str, pd.DataFrame],
    limits: sandbox.Limits | None = None,
    check: bool = True,
) -> sandbox.SandboxResult:
    """Check, then run in the sandbox with the table as `df` (several tables: `dfs`). A refusal by the
    static check raises sandbox.UnsafeCodeError with the reason."""
    if check:
        problems = check_pandas_code(code)
        if problems:
            raise sandbox.UnsafeCodeError("the code was refused before running: " + "; ".join(problems[:5]))
    inputs: dict[str, Any] = {}
    if code_variable(tables) == "df":
        inputs["df"] = next(iter(tables.values()))
    elif tables:
        inputs["dfs"] = dict(tables)
    return sandbox.run_code(code, inputs, limits=limits, check=False)


@dataclass
class Attempt:
    code: str
    result: sandbox.SandboxResult | None
    error: str | None


@dataclass
class Answer:
    question: str
    code: str
    result: sandbox.SandboxResult | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None


def repair_message(error: str) -> Message:
    return {
        "role": "user",
        "content": f"Running that code failed:\n{error[:1500]}\n"
        "Fix the code. Reply with the complete corrected code in one ```python block.",
    }


def _attempt(code: str, runner: Callable[[str], sandbox.SandboxResult]) -> Attempt:
    try:
        result = runner(code)
    except sandbox.UnsafeCodeError as exc:
        return Attempt(code, None, str(exc))
    return Attempt(code, result, None if result.ok else result.error)


def solve(
    backend: Backend,
    messages: list[Message],
    config: GenerationConfig,
    runner: Callable[[str], sandbox.SandboxResult],
    retries: int = 2,
    template: str = PROMPT,
    on_attempt: Callable[[Attempt], None] | None = None,
    stop: Callable[[Attempt], bool] | None = None,
) -> list[Attempt]:
    """Generate, run, and on failure send the error back for up to `retries` more tries.

    Errors from hitting a resource limit or the sandbox refusing an operation are sent back too: the model
    learns the operation is not available, it gains no way around the sandbox."""
    conversation = list(messages)
    attempts: list[Attempt] = []
    for _ in range(retries + 1):
        reply = generate_code(backend, conversation, config, template)
        attempt = _attempt(extract_code(reply), runner)
        attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)
        if attempt.error is None or (stop is not None and stop(attempt)):
            break
        conversation += [{"role": "assistant", "content": reply}, repair_message(attempt.error)]
    return attempts


def ask(
    backend: Backend,
    question: str,
    tables: dict[str, pd.DataFrame],
    config: GenerationConfig | None = None,
    sample_rows: int = 3,
    retries: int = 2,
    run: bool = True,
    limits: sandbox.Limits | None = None,
) -> Answer:
    """Answer a question about `tables`: the code, and (with run=True) its sandboxed result."""
    from ganymede.core.prompts import load_prompt

    config = config or load_prompt(PROMPT).config()
    messages = build_messages(question, tables, sample_rows)
    if not run:
        code = extract_code(generate_code(backend, messages, config))
        problems = check_pandas_code(code)
        error = "the code was refused before running: " + "; ".join(problems[:5]) if problems else None
        return Answer(question, code, None, [Attempt(code, None, error)])
    attempts = solve(backend, messages, config, lambda code: run_pandas_code(code, tables, limits), retries)
    last = attempts[-1]
    return Answer(question, last.code, last.result, attempts)


def run_user_code(code: str, tables: dict[str, pd.DataFrame], limits: sandbox.Limits | None = None) -> Answer:
    """A user's own code (an edit of the model's): the same checks and sandbox, no model."""
    attempt = _attempt(code, lambda c: run_pandas_code(c, tables, limits))
    return Answer("", code, attempt.result, [attempt])


# -- showing results ------------------------------------------------------------------------------------
def result_to_jsonable(result: sandbox.SandboxResult | None) -> Any:
    if result is None:
        return None
    if result.kind == "dataframe":
        return result.value.head(1000).to_dict(orient="split")
    if result.kind == "series":
        return {str(k): v for k, v in result.value.head(1000).to_dict().items()}
    return result.value


def result_as_frame(result: sandbox.SandboxResult | None) -> pd.DataFrame | None:
    """The result as a table for display (scalars become a one-cell table)."""
    import pandas as pd

    if result is None or not result.ok:
        return None
    if result.kind == "dataframe":
        return result.value
    if result.kind == "series":
        return result.value.to_frame().reset_index()
    if isinstance(result.value, dict):
        return pd.DataFrame({"key": [str(k) for k in result.value], "value": [str(v) for v in result.value.values()]})
    if isinstance(result.value, list):
        return pd.DataFrame({"value": [str(v) for v in result.value]})
    return pd.DataFrame({"result": [result.value if result.kind == "scalar" else str(result.value)]})


def save_charts(result: sandbox.SandboxResult, folder: Path, stem: str = "chart") -> list[Path]:
    """Write the result's charts as PNG files (atomically)."""
    return [write_atomic(folder / f"{stem}-{i}.png", png) for i, png in enumerate(result.charts, start=1)]


def write_downloads(answer: Answer, folder: Path) -> list[Path]:
    """The result as CSV (a table) or JSON (a value), the code, and the charts as PNG, written atomically."""
    import json

    files: list[tuple[str, str]] = [("code.py", answer.code)]
    frame = result_as_frame(answer.result)
    if frame is not None and answer.result is not None and answer.result.kind in ("dataframe", "series"):
        files.append(("result.csv", frame.to_csv(index=False)))
    elif answer.ok:
        files.append(("result.json", json.dumps(result_to_jsonable(answer.result), default=str, indent=2)))
    paths = [write_atomic(folder / name, text) for name, text in files]
    if answer.result is not None:
        paths += save_charts(answer.result, folder)
    return paths
