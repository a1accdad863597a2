"""Self-repair for NL-to-pandas: what the model is told when its code failed or gave an implausible result.

A small model that sees only an error text tends to send the same code again. So the repair message carries
the error, the failing line, and a targeted hint for the common pandas mistakes (grouping a Series by a
column name, chained assignment under copy-on-write, text vs numeric dtypes in pandas 3, ...), and the loop in
pandas_code refuses to run a program that already failed (`same_program`)."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganymede.apps.tables import sandbox
    from ganymede.core.messages import Message

#: the sandbox reports where the code failed as "... (line N)".
LINE_OF_ERROR = re.compile(r"\(line (\d+)\)\s*$")
KEY_ERROR = re.compile(r"^KeyError: (?:\"|')?(.+?)(?:\"|')?(?: \(line \d+\))?$", re.DOTALL)


def program_key(code: str) -> str:
    """The program with comments, blank lines and formatting gone: two replies with the same key run the
    same code, so a repeat of a failed one is never sent to the sandbox again."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return "\n".join(line.split("#", 1)[0].rstrip() for line in code.splitlines() if line.strip())


def failing_line(error: str, code: str) -> tuple[int, str] | None:
    """(number, text) of the line the error names, when it names one inside the code."""
    match = LINE_OF_ERROR.search(error.strip())
    if not match:
        return None
    number = int(match.group(1))
    lines = code.splitlines()
    return (number, lines[number - 1].strip()) if 0 < number <= len(lines) else None


def _missing_key(error: str) -> str | None:
    match = KEY_ERROR.match(error.strip())
    return match.group(1).strip() if match else None


def _key_error_hint(error: str, code: str, columns: set[str]) -> str | None:
    key = _missing_key(error)
    if key is None:
        return None
    if "not in index" in key or "are in the [" in key:  # df[['a', 'b']] with a missing name lists them all
        missing = [k for k in re.findall(r"'([^']+)'", key) if k not in columns and k != "str"]
        key = missing[0] if missing else key
    if key in columns and re.search(rf"groupby\(\s*\[?\s*['\"]{re.escape(key)}['\"]", code):
        return (
            f"'{key}' is a column of df, but the groupby ran on an object that no longer has it (a Series or an "
            f"aggregate has no columns). Add the computed value as a new column of df first, e.g. "
            f"df['value'] = df['a'] / df['b'], then group df itself: df.groupby('{key}')['value'].mean()."
        )
    if key in columns:
        return (
            f"'{key}' is a column of the original df but not of the object indexed on the failing line: keep "
            f"working on df (add derived columns to df) instead of on an intermediate result."
        )
    if columns and not key.isdigit():
        close = difflib.get_close_matches(key, sorted(columns), n=3, cutoff=0.5)
        extra = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(c) for c in sorted(columns)[:40])
        return f"There is no column {key!r}.{extra} The columns are: {shown}."
    if key.isdigit() or key.lstrip("-").isdigit():
        return "Row labels are not positions: use .iloc[n] for the n-th row, or select rows with a boolean mask."
    return None


#: (pattern on the error text, or on the code when it starts with "code:", hint). First match wins.
HINTS: list[tuple[str, str]] = [
    (
        r"ChainedAssignment|chained assignment|read-only|SettingWithCopy",
        "pandas 3 uses copy-on-write: chained assignment like df['a'][mask] = x changes nothing. Assign in one "
        "step with df.loc[mask, 'a'] = x, or build a new column with df['a'] = df['a'].where(...).",
    ),
    (
        r"agg function failed|could not convert string to float|Could not convert .* to numeric"
        r"|unsupported operand type\(s\).*'str'|can only concatenate str|not supported between instances of 'str'"
        r"|dtype->str|cannot perform .* with .*dtype.*str",
        "A column holds text (dtype str), not numbers. Convert it with pd.to_numeric(df['col'], errors='coerce'), "
        "or aggregate only the numeric columns: df.mean(numeric_only=True) / groupby(...).mean(numeric_only=True).",
    ),
    (
        r"Can only use \.str accessor",
        "The .str accessor works only on text columns: convert first with df['col'].astype(str).",
    ),
    (
        r"has no attribute 'append'",
        "DataFrame.append and Series.append were removed: use pd.concat([a, b]).",
    ),
    (r"has no attribute 'applymap'", "DataFrame.applymap was removed: use DataFrame.map."),
    (r"has no attribute 'iteritems'", "iteritems was removed: use .items()."),
    (
        r"'Series' object has no attribute '(?:groupby_|columns|sort_values\(by)'|'Series' object has no attribute",
        "That attribute belongs to a DataFrame, not a Series: keep a DataFrame (use df[['col']] or .to_frame()), "
        "or use the Series method.",
    ),
    (
        r"truth value of a Series is ambiguous|truth value of a DataFrame is ambiguous",
        "Combine conditions with & and | and parentheses: df[(df['a'] > 1) & (df['b'] == 'x')]; use .any() or "
        ".all() to reduce a Series to one bool.",
    ),
    (
        r"single positional indexer is out-of-bounds|index 0 is out of bounds|attempt to get argmax of an empty",
        "The selection is empty: the filter matched no rows. Compare with the values and ranges listed for each "
        "column (e.g. a year stored as 82, not 1982; text values are case-sensitive).",
    ),
    (
        r"numeric_only|Could not convert .* to numeric|DatetimeArray.*does not support",
        "Pass numeric_only=True to mean/sum/median/corr when the frame has text or date columns.",
    ),
    (
        r"MergeError|No common columns to perform merge|merge.*KeyError",
        "Join on a column both tables have: pd.merge(left, right, on='key') (or left_on= / right_on= when the "
        "names differ).",
    ),
    (
        r"NameError: name '(\w+)' is not defined",
        "Every variable must be defined in the code: only df (and the tables by name), pd and np are given; "
        "import anything else (import matplotlib.pyplot as plt).",
    ),
    (
        r"is not allowed|refused before running",
        "Use only pandas, numpy, math, statistics, datetime, re, collections, scipy and matplotlib, and never "
        "read or write files: the data is already in df.",
    ),
    (
        r"SyntaxError|IndentationError",
        "Reply with complete, valid Python in one ```python block: no prose inside the block.",
    ),
    (
        r"Length of values .* does not match length of index",
        "The new column must have one value per row of df: compute it from df's own columns (df['c'] = df['a'] * 2).",
    ),
]


def hint_for(error: str, code: str, columns: Iterable[str] = ()) -> str | None:
    """A targeted hint for the error, or None when no common mistake fits."""
    columns = {str(c) for c in columns}
    hint = _key_error_hint(error, code, columns)
    if hint:
        return hint
    for pattern, text in HINTS:
        if re.search(pattern, error, re.IGNORECASE | re.DOTALL):
            return text
    if re.search(r"\b\w+\[[^\]\n]+\]\[.+\]\s*=[^=]", code):  # chained assignment, even without a warning
        return HINTS[0][1]
    return None


def repair_message(error: str, code: str = "", hint: str | None = None, ran: bool = False) -> Message:
    """The user turn sent back after a failed (or implausible) run: the error, the failing line, a hint."""
    parts = [f"The code ran, but {error[:1500]}" if ran else f"Running that code failed:\n{error[:1500]}"]
    line = failing_line(error, code) if code else None
    if line:
        parts.append(f"The failing line {line[0]}: {line[1][:300]}")
    if hint:
        parts.append(f"Hint: {hint}")
    parts.append("Fix the code. Reply with the complete corrected code in one ```python block.")
    return {"role": "user", "content": "\n".join(parts)}


def repeated_message(error: str) -> Message:
    """Sent instead of running a reply that repeats code which already failed."""
    return {
        "role": "user",
        "content": f"That is the same code as before, and it failed with: {error[:600]}\n"
        "Do not repeat it. Solve the question a different way, step by step on df. Reply with the complete code "
        "in one ```python block.",
    }


# -- results that ran but cannot be the answer ------------------------------------------------------------
PLOT_REPR = re.compile(
    r"^<?(?:module 'matplotlib|matplotlib\.\w)"
    r"|^<?(?:Axes|AxesSubplot|Figure|BarContainer|Line2D|PathCollection|Legend|Text|Rectangle)(?:\(|:| size| object)"
)


def is_plot_object(value: Any) -> bool:
    """True for the repr of a matplotlib module/Axes/Figure (or a list of them): never an answer."""
    if isinstance(value, str):
        return bool(PLOT_REPR.match(value.strip()))
    if isinstance(value, list | tuple) and value:
        return all(is_plot_object(v) for v in value)
    return False


def result_problem(result: sandbox.SandboxResult) -> str | None:
    """Why a result that ran cannot be a useful answer (None, NaN, empty, a plot object), or None when it can."""
    import math

    if not result.ok:
        return None
    if result.kind == "chart":
        return None
    value = result.value
    if result.kind == "none":
        return "`result` was never set (it is None). Store the final answer in a variable named `result`."
    if is_plot_object(value):
        return "`result` is a matplotlib object, not data. Set `result` to the numbers that are plotted."
    if result.kind == "scalar" and (value is None or (isinstance(value, float) and math.isnan(value))):
        return (
            "the result is NaN (no value): probably a filter matched no rows. Compare with the values and ranges "
            "listed for each column (e.g. a year stored as 82, not 1982; text values are case-sensitive)."
        )
    if result.kind in ("dataframe", "series") and len(value) == 0:
        return (
            "the result is empty: the filter matched no rows. Compare with the values and ranges listed for each "
            "column (e.g. a year stored as 82, not 1982; text values are case-sensitive)."
        )
    if result.kind in ("dataframe", "series") and bool(value.isna().to_numpy().all()):
        return "every value of the result is NaN: check the column names and the filter."
    if isinstance(value, dict) and value and all(v is None for v in value.values()):
        return "every value of the result dict is None or NaN: check the column names and the filter."
    return None


#: (code, its result) -> why the result cannot be the answer, or None.
Review = Callable[[str, "sandbox.SandboxResult"], str | None]


def _column_literal(node: ast.Compare) -> tuple[str, ast.cmpop, Any] | None:
    """('col', op, value) for `X['col'] == value` (either side), else None."""
    if len(node.ops) != 1:
        return None
    left, right = node.left, node.comparators[0]
    if isinstance(right, ast.Subscript) and isinstance(left, ast.Constant):
        left, right = right, left
    if not (isinstance(left, ast.Subscript) and isinstance(right, ast.Constant)):
        return None
    key = left.slice
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        return None
    return key.value, node.ops[0], right.value


def filter_mismatches(code: str, tables: dict[str, Any]) -> list[str]:
    """Filters in the code that no row can match (`df['model_year'] == 1982` where the years are 70..82,
    `df['origin'] == 'USA'` where the values are 'usa', ...), each said with what the column does hold.
    A NaN or empty result usually comes from one of these; the generic hint alone does not get a small
    model to change its code."""
    import pandas as pd

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    columns: dict[str, pd.Series] = {}
    for frame in tables.values():
        for name in frame.columns:
            columns.setdefault(str(name), frame[name])
    found: list[str] = []
    for node in ast.walk(tree):
        parsed = _column_literal(node) if isinstance(node, ast.Compare) else None
        if parsed is None or parsed[0] not in columns or not isinstance(parsed[1], ast.Eq | ast.NotEq):
            continue
        name, _, value = parsed
        series = columns[name].dropna()
        if series.empty:
            continue
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if isinstance(value, int | float) and not isinstance(value, bool) and numeric:
            if not (series == value).any():
                said = f"no row has {name} == {value!r}: {name} ranges from {series.min():g} to {series.max():g}"
                # two-digit years are common in older tables; say the stored form outright
                if isinstance(value, int) and 1900 <= value < 2100 and (series == value % 100).any():
                    said += f", so the year {value} is stored as {value % 100}: use {name} == {value % 100}"
                found.append(said)
        elif isinstance(value, str) and not numeric:
            texts = series.astype(str)
            if not (texts == value).any():
                distinct = list(dict.fromkeys(texts))
                close = [v for v in distinct if v.lower() == value.lower()]
                close = close or difflib.get_close_matches(value, distinct[:5000], n=3, cutoff=0.6)
                shown = close or distinct[:12]
                found.append(f"no row has {name} == {value!r}; its values include {', '.join(map(repr, shown))}")
    return found[:3]


#: a question asking for one item by name ("Which state ...", "Who ...", "What is the name of ...").
ASKS_WHICH = re.compile(r"^\s*(?:which|who|whose|what\s+(?:is|was|are|were)\s+the\s+names?\b)", re.IGNORECASE)


def row_number_for_a_name(
    question: str, code: str, result: sandbox.SandboxResult, tables: dict[str, Any]
) -> str | None:
    """A "which one" question answered with idxmax's row number instead of the name (a small model's
    favourite slip): say which text column names the rows."""
    import pandas as pd

    value = result.value
    if not (ASKS_WHICH.search(question) and result.kind == "scalar" and isinstance(value, int)):
        return None
    if isinstance(value, bool) or not re.search(r"idxmax|idxmin|argmax|argmin", code):
        return None
    names = [
        str(c)
        for frame in tables.values()
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    if not names:
        return None
    return (
        f"the question asks which one, but the result {value} is a row number (idxmax/idxmin return the row "
        f"label). Return the name from a text column instead, e.g. df.loc[df['<column>'].idxmax(), "
        f"'{names[0]}']; the text columns are {', '.join(repr(n) for n in names[:8])}."
    )


def reviewer(tables: dict[str, Any], question: str = "") -> Review:
    """`result_problem`, sharpened by the filters in the code that match no row of these tables, and a row
    number given where the question asks for a name."""

    def review(code: str, result: sandbox.SandboxResult) -> str | None:
        problem = result_problem(result)
        if problem is None:
            return row_number_for_a_name(question, code, result, tables)
        mismatches = filter_mismatches(code, tables)
        if not mismatches:
            return problem
        # the precise cause alone: with the generic advice around it a small model repeated its code
        return f"the result has no value because the filter matches no row: {'; '.join(mismatches)}."

    return review
