"""NL-to-pandas: a question about a table -> pandas code from the model -> static check -> sandboxed run
-> a value, a table or a chart, and a plain-language answer checked against it. On an error (or a result that
cannot be the answer: None, NaN, empty, a plot object) the error, the failing line and a hint go back to the
model (self-repair, apps/tables/repair.py); code that already failed is never run again.

Shape: `build_messages` (preprocess, with the tables described by apps/tables/io.py) -> `generate_code`
(model) -> `extract_code`, `check_pandas_code` and `run_pandas_code` (postprocess: the sandbox in
apps/tables/sandbox.py is the boundary); `solve` is the repair loop, `ask` the whole pipeline, and
apps/tables/answer.py phrases and checks the sentence.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.tables import answer as phrasing
from ganymede.apps.tables import sandbox
from ganymede.apps.tables.io import code_inputs, describe_tables
from ganymede.apps.tables.repair import (
    Review,
    hint_for,
    is_plot_object,
    program_key,
    repair_message,
    repeated_message,
    reviewer,
)
from ganymede.core.backends.prompt_cache import fixed_messages
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
def build_messages(
    question: str, tables: dict[str, pd.DataFrame], sample_rows: int = 3, schema: str | None = None
) -> list[Message]:
    """The prompt; `schema` is describe_tables(tables, sample_rows) when the caller already has it."""
    from ganymede.core.prompts import load_prompt

    if not question.strip():
        raise GanymedeError("the question is empty", "ask something about the table, e.g. 'mean of every column'")
    schema = describe_tables(tables, sample_rows) if schema is None else schema
    return load_prompt(PROMPT).render({"schema": schema, "question": question.strip()})


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


def same_prompt_for_every_question(messages: list[Message], schema: str = "") -> contextlib.AbstractContextManager:
    """The instructions and worked examples before the question (~1,000 tokens: most of a question's wait), and
    the schema that starts the question message, are the same for every question about the same tables: their
    KV state is kept in the prompt cache, so a new process evaluates only the question."""
    return fixed_messages(len(messages) - 1, schema)


def check_pandas_code(code: str) -> list[str]:
    """The static check with pandas' file and network I/O refused too (defence in depth only)."""
    return sandbox.check_code(code, banned_calls=PANDAS_BANNED_CALLS)


#: code that draws through pandas (df.plot, Series.hist) without naming plt still makes a chart; the sandbox
#: collects charts only from code that mentions plt, so such code gets this comment appended (after the last
#: line, so the line numbers in errors stay right).
PLOTS = re.compile(r"\.(?:plot|hist|boxplot|bar|barh|scatter|pie)\b|\bplt\b|seaborn|\bsns\.")
CHART_MARK = "\n# charts: plt\n"


def run_pandas_code(
    code: str,
    tables: dict[str, pd.DataFrame],
    limits: sandbox.Limits | None = None,
    check: bool = True,
) -> sandbox.SandboxResult:
    """Check, then run in the sandbox with the first table as `df` (several tables: each also by its name,
    and the dict `dfs`). A refusal by the static check raises sandbox.UnsafeCodeError with the reason. A
    chart whose `result` is the plotting module or an Axes comes back as kind "chart" with no value."""
    if check:
        problems = check_pandas_code(code)
        if problems:
            raise sandbox.UnsafeCodeError("the code was refused before running: " + "; ".join(problems[:5]))
    program = code + CHART_MARK if PLOTS.search(code) and "plt" not in code else code
    result = sandbox.run_code(program, code_inputs(tables), limits=limits, check=False)
    if result.ok and result.charts and (result.kind == "none" or is_plot_object(result.value)):
        result.kind, result.value = "chart", None
    return result


@dataclass
class Attempt:
    code: str
    result: sandbox.SandboxResult | None
    error: str | None
    #: why a run that succeeded still cannot be the answer (None, NaN, empty, a plot object): repaired too.
    warning: str | None = None


@dataclass
class Answer:
    question: str
    code: str
    result: sandbox.SandboxResult | None
    attempts: list[Attempt] = field(default_factory=list)
    #: the plain-language answer, checked against the result (None when none was asked for or it failed).
    sentence: str | None = None
    #: why there is no sentence (it stated a number the result lacks, ...), for --json and the tab.
    sentence_note: str | None = None
    #: one line saying what the chart shows, when the code drew one.
    chart_description: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def error(self) -> str | None:
        if self.ok:
            return None
        return self.attempts[-1].error if self.attempts else None


def _attempt(code: str, runner: Callable[[str], sandbox.SandboxResult], review: Review | None = None) -> Attempt:
    try:
        result = runner(code)
    except sandbox.UnsafeCodeError as exc:
        return Attempt(code, None, str(exc))
    if not result.ok:
        return Attempt(code, result, result.error)
    return Attempt(code, result, None, review(code, result) if review else None)


#: retries when the model repeats code that already failed: a different instruction, then also sampling.
REPEAT_RETRIES = 2
REPEAT_TEMPERATURE = 0.8


def _fresh_reply(
    backend: Backend,
    conversation: list[Message],
    config: GenerationConfig,
    template: str,
    failed: dict[str, str],
) -> tuple[str, str] | None:
    """(reply, code) whose code has not failed before; a repeat is never run: the model is asked again with
    a different instruction (then sampling as well). None when every retry repeated failed code."""
    reply = generate_code(backend, conversation, config, template)
    code = extract_code(reply)
    for i in range(REPEAT_RETRIES):
        key = program_key(code)
        if key not in failed:
            return reply, code
        nudged = [*conversation, {"role": "assistant", "content": reply}, repeated_message(failed[key])]
        # First the different instruction alone (greedy reuses the cached prompt prefix), then sampling too.
        # No seed: on llama.cpp a seeded call starts from an empty KV cache, which re-reads the whole prompt.
        retry = config if i == 0 else config.merged(greedy=False, temperature=REPEAT_TEMPERATURE)
        reply = generate_code(backend, nudged, retry, template)
        code = extract_code(reply)
    return (reply, code) if program_key(code) not in failed else None


def solve(
    backend: Backend,
    messages: list[Message],
    config: GenerationConfig,
    runner: Callable[[str], sandbox.SandboxResult],
    retries: int = 2,
    template: str = PROMPT,
    on_attempt: Callable[[Attempt], None] | None = None,
    stop: Callable[[Attempt], bool] | None = None,
    review: Review | None = None,
    columns: set[str] | None = None,
    schema: str = "",
) -> list[Attempt]:
    """Generate, run, and on failure send the error back (with the failing line and a hint) for up to
    `retries` more tries. `review` flags a result that ran but cannot be the answer, which is repaired the
    same way; `columns` (the tables' column names) sharpen the hints. A reply that repeats failed code is
    not run again: the model is asked again with a different instruction, then sampling as well.

    Errors from hitting a resource limit or the sandbox refusing an operation are sent back too: the model
    learns the operation is not available, it gains no way around the sandbox. `schema`, the start of the
    question message, is kept in the prompt cache with the instructions (see same_prompt_for_every_question)."""
    conversation = list(messages)
    attempts: list[Attempt] = []
    failed: dict[str, str] = {}  # program_key -> the error it gave
    for _ in range(retries + 1):
        with same_prompt_for_every_question(messages, schema):
            fresh = _fresh_reply(backend, conversation, config, template, failed)
        if fresh is None:
            break
        reply, code = fresh
        attempt = _attempt(code, runner, review)
        attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)
        problem = attempt.error or attempt.warning
        if problem is None or (stop is not None and stop(attempt)):
            break
        failed[program_key(code)] = problem
        hint = hint_for(problem, code, columns or ())
        conversation += [
            {"role": "assistant", "content": reply},
            repair_message(problem, code, hint, ran=attempt.error is None),
        ]
    return attempts


def best_attempt(attempts: list[Attempt]) -> Attempt:
    """The last clean run; else the last run that worked but looked doubtful (an empty answer can be the
    answer); else the last attempt."""
    for usable in (lambda a: a.error is None and a.warning is None, lambda a: a.error is None):
        chosen = [a for a in attempts if usable(a)]
        if chosen:
            return chosen[-1]
    return attempts[-1]


def ask(
    backend: Backend,
    question: str,
    tables: dict[str, pd.DataFrame],
    config: GenerationConfig | None = None,
    sample_rows: int = 3,
    retries: int = 2,
    run: bool = True,
    limits: sandbox.Limits | None = None,
    explain: bool = False,
) -> Answer:
    """Answer a question about `tables`: the code, and (with run=True) its sandboxed result; with
    explain=True also a plain-language sentence written from the result and checked against it."""
    from ganymede.core.prompts import load_prompt

    config = config or load_prompt(PROMPT).config()
    schema = describe_tables(tables, sample_rows)
    messages = build_messages(question, tables, sample_rows, schema)
    if not run:
        with same_prompt_for_every_question(messages, schema):
            code = extract_code(generate_code(backend, messages, config))
        problems = check_pandas_code(code)
        error = "the code was refused before running: " + "; ".join(problems[:5]) if problems else None
        return Answer(question, code, None, [Attempt(code, None, error)])
    columns = {str(c) for frame in tables.values() for c in frame.columns}
    attempts = solve(
        backend,
        messages,
        config,
        lambda code: run_pandas_code(code, tables, limits),
        retries,
        review=reviewer(tables, question),
        columns=columns,
        schema=schema,
    )
    chosen = best_attempt(attempts)
    answer = Answer(question, chosen.code, chosen.result, attempts)
    if answer.ok and answer.result is not None and answer.result.charts:
        answer.chart_description = phrasing.describe_chart(chosen.code, tables, len(answer.result.charts))
    if explain and answer.ok and answer.result is not None:
        answer.sentence, answer.sentence_note = phrasing.explain(backend, question, answer.result)
    return answer


def run_user_code(code: str, tables: dict[str, pd.DataFrame], limits: sandbox.Limits | None = None) -> Answer:
    """A user's own code (an edit of the model's): the same checks and sandbox, no model."""
    attempt = _attempt(code, lambda c: run_pandas_code(c, tables, limits))
    answer = Answer("", code, attempt.result, [attempt])
    if answer.ok and attempt.result is not None and attempt.result.charts:
        answer.chart_description = phrasing.describe_chart(code, tables, len(attempt.result.charts))
    return answer


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

    if result is None or not result.ok or result.kind == "chart":
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
