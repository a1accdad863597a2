"""calculator: arithmetic from a Python-like expression, evaluated by walking its syntax tree (never eval).

Only numbers, + - * / // % **, parentheses, a few math functions and constants are allowed; powers and results
are bounded so an expression like 9**9**9 cannot hang the process."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from ganymede.apps.assistant.tools import Tool, ToolError

MAX_LENGTH = 500
MAX_EXPONENT = 1000
MAX_DIGITS = 1000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x),
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
    "factorial": math.factorial,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_DIGITS * 3.33:
        raise ToolError(f"the result has more than {MAX_DIGITS} digits")
    return value


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"exponents above {MAX_EXPONENT} are not allowed")
        return _check_size(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords:
            raise ToolError("functions take positional arguments only")
        args = [_eval(a) for a in node.args]
        if node.func.id == "factorial" and (not args or args[0] > 500):
            raise ToolError("factorial is limited to numbers up to 500")
        return _check_size(_FUNCTIONS[node.func.id](*args))
    allowed = ", ".join(sorted([*_FUNCTIONS, *_CONSTANTS]))
    raise ToolError(f"not allowed in an expression: {ast.unparse(node)!r} (numbers, + - * / // % **, {allowed})")


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression, e.g. '(17 + 3) * 2 ** 3' or 'sqrt(2) * pi'."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    # Percentages as people write them: "17.5% of 2480" and "80 * 15%" mean hundredths; "17 % 5" stays modulo.
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%\s*of\b", r"(\1 / 100) *", text, flags=re.I)
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%(?!\s*[\d(.])", r"(\1 / 100)", text)
    if len(text) > MAX_LENGTH:
        raise ToolError(f"expressions are limited to {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from None
    try:
        value = _eval(tree)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (OverflowError, ValueError, TypeError) as exc:
        raise ToolError(f"cannot compute {expression!r}: {exc}") from None
    if isinstance(value, float) and math.isfinite(value):
        # 12 significant digits: 2197 ** (1/3) is 13, not 12.999999999999998, and 0.1 + 0.2 is 0.3.
        value = float(f"{value:.12g}")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


TOOL = Tool(
    name="calculator",
    description="Evaluate an arithmetic expression exactly. Use it for any calculation instead of doing math "
    "in your head. Supports + - * / // % "
    "** (or ^), parentheses, sqrt, cbrt, exp, log, log10, log2, sin, cos, tan, "
    "floor, ceil, abs, round, min, max, factorial, pi, e.",
    parameters={
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "the arithmetic to evaluate, written with the numbers of the question",
            }
        },
        "required": ["expression"],
    },
    func=calculate,
)
