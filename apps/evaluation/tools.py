"""Function-calling metrics in the Berkeley Function Calling Leaderboard's way (BFCL v4 "AST" checker).

A predicted call is right when its function name matches, every required parameter is given, no unknown
parameter is given, each value has the declared type and is one of the acceptable values in the answer file
(strings compared after BFCL's normalisation), and every parameter left out is marked optional ("" among its
acceptable values). Parallel categories match calls to answers in any order; `irrelevance` items are right when
no function is called. Pure functions: no model, no I/O besides reading the data files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records

# BFCL's own type names -> JSON schema, so chat templates show the model standard schemas.
_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass
class BfclItem:
    id: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def category(self) -> str:
        return category_of(self.id)


def category_of(item_id: str) -> str:
    """`simple_python_3` -> simple_python, `live_multiple_1-0-1` -> live_multiple."""
    return re.sub(r"_\d[\d-]*$", "", item_id)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each record of a JSONL file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", "check the data and answers paths") from None
    return list(jsonl_records(lines, path))


def load_bfcl(data: Path, answers: Path | None = None) -> list[BfclItem]:
    """Items from a BFCL question file and (except for irrelevance) its answers file, joined by id."""
    truths = {row["id"]: row["ground_truth"] for _, row in _read_jsonl(answers)} if answers else {}
    items = []
    for number, row in _read_jsonl(data):
        try:
            turns = row["question"]
            messages = turns[0] if turns and isinstance(turns[0], list) else turns
            item = BfclItem(row["id"], messages, row["function"], truths.get(row["id"], []))
        except (KeyError, TypeError, IndexError):
            raise InputFileError(
                f"{data} line {number}: expected keys id, question (messages) and function (schemas)",
                "use the Berkeley Function Calling Leaderboard format",
            ) from None
        if answers and not item.ground_truth and item.category != "irrelevance":
            raise InputFileError(f"{answers}: no ground truth for {item.id}", "pass the answers file for this data")
        items.append(item)
    return items


# -- schemas ---------------------------------------------------------------------------------------------
def to_json_schema(schema: Any) -> Any:
    """A BFCL parameter schema with its type names made standard (dict -> object, float -> number, ...)."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            mapped = _JSON_TYPES.get(value, value)
            if mapped is not None:
                out[key] = mapped
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: to_json_schema(prop) for name, prop in value.items()}
        else:
            out[key] = to_json_schema(value)
    return out


def openai_tools(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function docs as OpenAI tool schemas (what Backend.chat(tools=...) takes)."""
    return [
        {
            "type": "function",
            "function": {
                "name": f["name"],
                "description": f.get("description", ""),
                "parameters": to_json_schema(f.get("parameters", {"type": "object", "properties": {}})),
            },
        }
        for f in functions
    ]


# -- the AST checker -----------------------------------------------------------------------------------------
def normalize_string(value: str) -> str:
    """BFCL's string normalisation: case and the characters ` ,./-_*^` do not matter."""
    return _STRIP.sub("", value).lower().replace("'", '"')


def _type_ok(value: Any, declared: str | None) -> bool:
    if declared in (None, "any"):
        return True
    if declared == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if declared in ("float", "number"):
        # BFCL accepts an int where a float is declared (Python would promote it).
        return isinstance(value, int | float) and not isinstance(value, bool)
    if declared == "string":
        return isinstance(value, str)
    if declared == "boolean":
        return isinstance(value, bool)
    if declared in ("array", "tuple"):
        return isinstance(value, list | tuple)
    if declared in ("dict", "object"):
        return isinstance(value, dict)
    return True


def _same(value: Any, expected: Any) -> bool:
    """One value against one acceptable value, strings normalised, containers compared item by item."""
    if isinstance(expected, str):
        return isinstance(value, str) and normalize_string(value) == normalize_string(expected)
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, int | float):
        return isinstance(value, int | float) and float(value) == float(expected)
    if isinstance(expected, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(expected)
            and all(_same(v, e) for v, e in zip(value, expected, strict=True))
        )
    if isinstance(expected, dict):
        return _dict_ok(value, expected) if _is_acceptable_map(expected) else value == expected
    return value == expected


def _is_acceptable_map(expected: dict[str, Any]) -> bool:
    # Nested dict answers list acceptable values per key, like the top level does.
    return all(isinstance(v, list) for v in expected.values())


def _dict_ok(value: Any, expected: dict[str, list[Any]]) -> bool:
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if key not in expected or not any(_same(item, option) for option in expected[key] if option != ""):
            return False
    return all("" in options for key, options in expected.items() if key not in value)


def check_call(
    call: dict[str, Any], expected_name: str, acceptable: dict[str, list[Any]], function: dict[str, Any]
) -> str | None:
    """None when `call` ({"name", "arguments"}) matches the answer; otherwise why it does not."""
    if call.get("name") != expected_name:
        return f"wrong function {call.get('name')!r}, expected {expected_name!r}"
    params = function.get("parameters", {})
    properties = params.get("properties", {})
    arguments = call.get("arguments") or {}
    for name in params.get("required", []):
        if name not in arguments:
            return f"missing required parameter {name!r}"
    for name, value in arguments.items():
        if name not in properties or name not in acceptable:
            return f"unexpected parameter {name!r}"
        declared = properties[name].get("type")
        if not _type_ok(value, declared):
            return f"parameter {name!r} has type {type(value).__name__}, expected {declared}"
        options = [o for o in acceptable[name] if o != ""]
        if not any(_same(value, option) for option in options):
            return f"parameter {name!r} = {value!r} is not one of {options!r}"
    for name, options in acceptable.items():
        if name not in arguments and "" not in options:
            return f"missing parameter {name!r}"
    return None


def check_item(item: BfclItem, calls: list[dict[str, Any]]) -> tuple[bool, str]:
    """(correct, reason) for one item's predicted calls."""
    if item.category == "irrelevance" or not item.ground_truth:
        return (not calls, "called a function although none fits" if calls else "")
    if len(calls) != len(item.ground_truth):
        return False, f"{len(calls)} call(s), expected {len(item.ground_truth)}"
    functions = {f["name"]: f for f in item.functions}
    unmatched = list(range(len(calls)))
    for answer in item.ground_truth:
        (name, acceptable), *_ = answer.items()
        function = functions.get(name)
        if function is None:
            return False, f"answer names unknown function {name!r}"
        reasons = []
        for index in unmatched:
            reason = check_call(calls[index], name, acceptable, function)
            if reason is None:
                unmatched.remove(index)
                break
            reasons.append(reason)
        else:
            return False, reasons[0] if reasons else f"no call to {name!r}"
    return True, ""


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy overall and per category from per-item {"id", "correct"} rows."""
    by_category: dict[str, list[bool]] = {}
    for row in results:
        by_category.setdefault(category_of(row["id"]), []).append(bool(row["correct"]))
    n = len(results)
    return {
        "n": n,
        "accuracy": round(sum(bool(r["correct"]) for r in results) / n, 4) if n else 0.0,
        "by_category": {
            c: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for c, v in sorted(by_category.items())
        },
    }
