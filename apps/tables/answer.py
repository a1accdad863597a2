"""The plain-language answer: one or two sentences written by the model FROM the sandbox's result, then
checked. Every number the sentence states must be in the result (rounding allowed) or in the question;
otherwise the sentence is dropped and the result is shown on its own. A chart gets a one-line description
read off the code (chart kind and the columns it names), never a guess.

Shape: `result_text` (preprocess: the result as the model sees it) -> `generate` (model) ->
`unsupported_numbers` (postprocess: the check)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from ganymede.core.backends.prompt_cache import fixed_messages
from ganymede.core.calllog import call_context

if TYPE_CHECKING:
    import pandas as pd

    from ganymede.apps.tables import sandbox
    from ganymede.core.backends.base import Backend
    from ganymede.core.generation import GenerationConfig

PROMPT = "tables_answer"

#: rows of a table result the model sees when phrasing the answer (the check uses all of them).
SHOWN_ROWS = 20
#: rows of a table result whose numbers the check accepts.
CHECKED_ROWS = 1000

#: a number as written in prose: 1,234.5 or -3 or 0.85 or 12% (a minus only where it is a sign).
NUMBER = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?:\s*(%|percent))?")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.4g}"
    return str(value)


def result_text(result: sandbox.SandboxResult, rows: int = SHOWN_ROWS) -> str:
    """The result as compact text for the phrasing prompt (and, with all rows, for the check)."""
    value = result.value
    if result.kind in ("dataframe", "series"):
        frame = value if result.kind == "dataframe" else value.to_frame()
        shown = frame.head(rows).map(lambda v: _format(v) if isinstance(v, float) else v)
        text = shown.to_string(max_colwidth=60)
        if len(frame) > rows:
            text += f"\n... ({len(frame)} rows in all)"
        return text
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_format(v)}" for k, v in list(value.items())[:rows])
    if isinstance(value, list):
        return ", ".join(_format(v) for v in value[:rows]) + (
            f" ... ({len(value)} in all)" if len(value) > rows else ""
        )
    return _format(value)


def numbers_in(text: str) -> list[tuple[float, int, bool]]:
    """(value, decimals written, is a percentage) for each number in `text`."""
    found = []
    for match in NUMBER.finditer(text or ""):
        digits = match.group(1).replace(",", "")
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        found.append((float(digits), decimals, bool(match.group(2))))
    return found


def _raw_numbers(value: Any, out: list[float]) -> None:
    """Every number in a result, at full precision, and its size (a count the sentence may state)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, bool):
        return
    if isinstance(value, int | float | np.number):
        if not math.isnan(float(value)):
            out.append(float(value))
    elif isinstance(value, pd.DataFrame | pd.Series):
        head = value.head(CHECKED_ROWS)
        out.append(float(len(value)))
        frame = head if isinstance(head, pd.DataFrame) else head.to_frame()
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                out.extend(float(v) for v in series.dropna())
        if not isinstance(frame.index, pd.RangeIndex):
            for label in frame.index:
                _raw_numbers(label, out)
    elif isinstance(value, dict):
        for item in value.values():
            _raw_numbers(item, out)
    elif isinstance(value, list | tuple):
        out.append(float(len(value)))
        for item in value:
            _raw_numbers(item, out)


def allowed_numbers(result: sandbox.SandboxResult, question: str) -> list[float]:
    """The numbers a sentence may state: those in the result (values, labels, its size) and the question."""
    numbers: list[float] = []
    _raw_numbers(result.value, numbers)
    numbers += [n for n, _, _ in numbers_in(result_text(result, CHECKED_ROWS))]
    numbers += [n for n, _, _ in numbers_in(question)]
    return numbers


def _supported(number: float, decimals: int, percent: bool, allowed: list[float]) -> bool:
    # Rounded to the decimals written: 27.9 and 28 both state 27.8915. Signs are said in words ("fell by
    # 5"), and a percentage may state a fraction (15% for 0.15).
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    for value in allowed:
        if abs(abs(number) - abs(value)) <= tolerance or (percent and abs(abs(number) - abs(value) * 100) <= tolerance):
            return True
    return False


def unsupported_numbers(sentence: str, result: sandbox.SandboxResult, question: str) -> list[str]:
    """The numbers in `sentence` that neither the result nor the question contains (rounding allowed)."""
    allowed = allowed_numbers(result, question)
    return [
        f"{n:g}{'%' if pct else ''}"
        for n, decimals, pct in numbers_in(sentence)
        if not _supported(n, decimals, pct, allowed)
    ]


def clean_sentence(text: str) -> str:
    """The reply as one or two plain sentences: no code fences, no markdown emphasis, no label."""
    text = re.sub(r"```.*?(```|\Z)", " ", text or "", flags=re.DOTALL)
    text = re.sub(r"^\s*(answer|a)\s*:\s*", "", text.strip(), flags=re.IGNORECASE)
    text = " ".join(text.replace("**", "").split())
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    return " ".join(sentences[:2]).strip()


def generate(
    backend: Backend, question: str, result: sandbox.SandboxResult, config: GenerationConfig | None = None
) -> str:
    from ganymede.core.prompts import load_prompt

    spec = load_prompt(PROMPT)
    messages = spec.render({"question": question.strip(), "result": result_text(result)})
    # Instructions and examples are the same for every question: kept in the prompt cache (see pandas_code).
    with call_context(app="tables", template=PROMPT), fixed_messages(len(messages) - 1):
        return backend.chat(messages, config or spec.config()).text


def explain(
    backend: Backend, question: str, result: sandbox.SandboxResult, config: GenerationConfig | None = None
) -> tuple[str | None, str | None]:
    """(sentence, None) when the model's sentence is backed by the result, else (None, why it was dropped)."""
    if not result.ok or result.kind in ("none", "text", "error", "chart"):
        return None, None
    sentence = clean_sentence(generate(backend, question, result, config))
    if not sentence:
        return None, "the model wrote no answer sentence"
    missing = unsupported_numbers(sentence, result, question)
    if missing:
        return None, f"the answer sentence was dropped: it stated {', '.join(missing[:5])}, not in the result"
    return sentence, None


# -- charts ---------------------------------------------------------------------------------------------
#: call in the code -> what the chart is, in words.
CHART_KINDS = [
    (r"kind\s*=\s*['\"]hist|\.hist\(|plt\.hist|histplot", "Histogram"),
    (r"kind\s*=\s*['\"]barh|\.barh\(", "Horizontal bar chart"),
    (r"kind\s*=\s*['\"]bar|\.bar\(|barplot|countplot", "Bar chart"),
    (r"kind\s*=\s*['\"]scatter|\.scatter\(|scatterplot", "Scatter plot"),
    (r"kind\s*=\s*['\"]pie|\.pie\(", "Pie chart"),
    (r"kind\s*=\s*['\"]box|\.boxplot\(|boxplot", "Box plot"),
    (r"kind\s*=\s*['\"](?:kde|density)|kdeplot", "Density plot"),
    (r"kind\s*=\s*['\"]area|\.area\(", "Area chart"),
    (r"heatmap|imshow", "Heatmap"),
    (r"\.plot\(|plt\.plot|lineplot", "Line chart"),
]


def describe_chart(code: str, tables: dict[str, pd.DataFrame], count: int = 1) -> str:
    """One line saying what was drawn, read off the code: the chart kind and the columns it names."""
    kind = next((name for pattern, name in CHART_KINDS if re.search(pattern, code)), "Chart")
    names = {str(c) for frame in tables.values() for c in frame.columns}
    quoted = re.findall(r"['\"]([^'\"\n]{1,80})['\"]", code)
    columns = list(dict.fromkeys(q for q in quoted if q in names))
    what = f" of {', '.join(columns[:4])}" if columns else ""
    more = f" ({count} charts)" if count > 1 else ""
    return f"{kind}{what}{more}."
