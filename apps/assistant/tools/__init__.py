"""Tools the assistant may call: a registry, a decorator for user-defined Python tools, entry-point loading, and
`build_registry`, the one place the CLI and the UI pick the assistant's tools by name.

A tool is a Python function plus an OpenAI-style JSON schema of its parameters. The registry checks the model's
arguments against that schema before running anything, asks for confirmation before tools with side effects,
and turns every outcome (including errors) into a Step the user sees. Top-level imports stay light."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ganymede.apps.assistant.tools.grounding import Context, invented_message, invented_values
from ganymede.core.errors import GanymedeError

ENTRY_POINT_GROUP = "ganymede.tools"
DEFAULT_TOOLS = ("calculator", "current_datetime")
#: the built-in tools a user picks from; search_documents comes with an index, http_api with an API spec.
SELECTABLE_TOOLS = ("calculator", "current_datetime", "query_table")
RESULT_LIMIT = 6000  # characters of a tool result the model sees; more would crowd out the question

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


@dataclass
class Step:
    """One tool call and what came back, as shown to the user."""

    tool: str
    arguments: dict[str, Any]
    result: str
    ok: bool = True
    passages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ToolOutput:
    """What a tool may return instead of a plain value: text for the model plus passages to cite."""

    text: str
    passages: list[dict[str, Any]] = field(default_factory=list)


class ToolError(Exception):
    """A tool's own, expected failure (bad input, refused URL): its message goes back to the model."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any]
    #: True, or a function of the arguments, when a call changes something and needs the user's yes.
    side_effects: bool | Callable[[dict[str, Any]], bool] = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def needs_confirmation(self, arguments: dict[str, Any]) -> bool:
        return bool(self.side_effects(arguments) if callable(self.side_effects) else self.side_effects)


# -- schemas from Python signatures ------------------------------------------------------------------------------
def _json_type(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        return {"type": _JSON_TYPES.get(type(values[0]), "string"), "enum": values}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {}
    if origin in (list, tuple, set):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _json_type(args[0])} if args else {"type": "array"}
    if origin is dict:
        return {"type": "object"}
    return {"type": _JSON_TYPES[annotation]} if annotation in _JSON_TYPES else {}


def _param_docs(doc: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section."""
    docs: dict[str, str] = {}
    match = re.search(r"^\s*(Args|Arguments|Parameters):\s*$(.*?)(^\s*\w+:\s*$|\Z)", doc, re.M | re.S)
    for line in (match.group(2) if match else "").splitlines():
        item = re.match(r"\s*(\w+)(?:\s*\(.*?\))?:\s*(.+)", line)
        if item:
            docs[item.group(1)] = item.group(2).strip()
    return docs


def schema_from_function(func: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """(description, JSON schema of the parameters) from a function's docstring and type hints."""
    doc = inspect.getdoc(func) or ""
    description = doc.split("\n\n")[0].strip() or func.__name__.replace("_", " ")
    hints = typing.get_type_hints(func)
    docs = _param_docs(doc)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = _json_type(hints.get(name, str))
        if name in docs:
            prop["description"] = docs[name]
        if param.default is inspect.Parameter.empty:
            required.append(name)
        else:
            prop["default"] = param.default
        properties[name] = prop
    return description, {"type": "object", "properties": properties, "required": required}


#: tools defined with @tool in any imported module; default_registry adds them.
USER_TOOLS: dict[str, Tool] = {}


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
) -> Any:
    """Make a typed, documented Python function a tool the assistant can call.

        @tool
        def word_count(text: str) -> int:
            '''Count the words in a text.

            Args:
                text: the text to count
            '''
            return len(text.split())

    Packages can also expose tools under the `ganymede.tools` entry-point group."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc_description, parameters = schema_from_function(fn)
        made = Tool(name or fn.__name__, description or doc_description, parameters, fn, side_effects)
        USER_TOOLS[made.name] = made
        fn.tool = made  # type: ignore[attr-defined]
        return fn

    return wrap(func) if func is not None else wrap


def as_tool(obj: Any) -> Tool:
    if isinstance(obj, Tool):
        return obj
    if isinstance(getattr(obj, "tool", None), Tool):
        return obj.tool
    if callable(obj):
        return tool(obj).tool
    raise TypeError(f"{obj!r} is not a tool")


def entry_point_tools() -> list[Tool]:
    """Tools that installed packages expose under the `ganymede.tools` entry-point group."""
    from importlib.metadata import entry_points

    found = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(as_tool(point.load()))
        except Exception as exc:  # a broken plug-in must not stop the assistant
            import logging

            logging.getLogger("ganymede.tools").warning("skipping tool entry point %s: %s", point.name, exc)
    return found


# -- argument checks ---------------------------------------------------------------------------------------------
def _matches(value: Any, prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if "enum" in prop and value not in prop["enum"]:
        return False
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return checks.get(kind, lambda v: True)(value)


def check_arguments(parameters: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """None when `arguments` fit the schema; otherwise a message the model can act on."""
    properties = parameters.get("properties", {})
    missing = [n for n in parameters.get("required", []) if n not in arguments]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    unknown = [n for n in arguments if n not in properties]
    if unknown:
        return f"unknown argument(s): {', '.join(unknown)}; expected {', '.join(properties) or 'none'}"
    for name, value in arguments.items():
        if not _matches(value, properties[name]):
            expected = properties[name].get("enum") or properties[name].get("type")
            return f"argument {name}={value!r} should be {expected}"
    return None


def _as_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > RESULT_LIMIT:
        text = text[:RESULT_LIMIT] + f"\n[... {len(text) - RESULT_LIMIT} more characters cut]"
    return text


# -- the registry -------------------------------------------------------------------------------------------------
class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | Callable[..., Any]) -> Tool:
        made = as_tool(item)
        self._tools[made.name] = made
        return made

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self._tools.values()]

    def only(self, names: Iterable[str]) -> ToolRegistry:
        wanted = set(names)
        return ToolRegistry(t for n, t in self._tools.items() if n in wanted)

    def run(
        self,
        name: str,
        arguments: dict[str, Any],
        confirm: Callable[[str, dict[str, Any]], bool] | None = None,
        context: Context | None = None,
    ) -> Step:
        """Check and run one call. Never raises for the model's mistakes: they come back as a failed Step
        whose message tells the model what to fix. With `context` (the conversation's words), a call whose
        argument values all appear nowhere in it is not run (see apps.tools.grounding)."""
        item = self._tools.get(name)
        if item is None:
            return Step(name, arguments, f"error: no tool named {name!r}; available: {', '.join(self._tools)}", False)
        problem = check_arguments(item.parameters, arguments)
        if problem:
            return Step(name, arguments, f"error: {problem}", False)
        invented = invented_values(arguments, item.parameters, context) if context is not None else None
        if invented:
            return Step(name, arguments, invented_message(invented), False)
        if item.needs_confirmation(arguments) and not (confirm and confirm(name, arguments)):
            return Step(name, arguments, "error: the user did not allow this call (it has side effects)", False)
        try:
            value = item.func(**arguments)
        except ToolError as exc:
            return Step(name, arguments, f"error: {exc}", False)
        except Exception as exc:  # a tool's bug must not end the conversation; the user sees it as a failed step
            return Step(name, arguments, f"error: {type(exc).__name__}: {exc}", False)
        if isinstance(value, ToolOutput):
            return Step(name, arguments, _as_text(value.text), True, value.passages)
        return Step(name, arguments, _as_text(value), True)


def default_registry(
    index: Any = None,
    api_specs: Iterable[str] = (),
    allow_urls: Iterable[str] = (),
    allow_private: bool = False,
    backend: Any = None,
) -> ToolRegistry:
    """The built-in tools (search_documents when an index is given, http_api when a spec is registered,
    query_table when a backend is given and the pandas sandbox is installed), then @tool and entry-point tools."""
    from ganymede.apps.assistant.tools import calculator, clock

    registry = ToolRegistry([calculator.TOOL, clock.TOOL])
    if index is not None:
        from ganymede.apps.assistant.tools.search import search_tool

        registry.add(search_tool(index))
    from ganymede.apps.assistant.tools.table import table_tool

    table = table_tool(backend)
    if table is not None:
        registry.add(table)
    specs = list(api_specs)
    if specs:
        from ganymede.apps.assistant.tools.http_api import HttpApi

        registry.add(HttpApi.from_files(specs, allow_urls=list(allow_urls), allow_private=allow_private).tool())
    for item in [*USER_TOOLS.values(), *entry_point_tools()]:
        registry.add(item)
    return registry


def build_registry(
    names: str | Iterable[str],
    *,
    index: Any = None,
    api_specs: Iterable[str] = (),
    allow_urls: Iterable[str] = (),
    allow_private: bool = False,
    backend: Any = None,
    skip_unavailable: bool = False,
) -> ToolRegistry:
    """The tools named in `names` (a list, or comma-separated; "all" or "none" also work), plus search_documents
    when an `index` is given. A name no tool answers to here (unknown, or query_table without a backend) is an
    error, or with `skip_unavailable` is left out."""
    registry = default_registry(
        index=index, api_specs=api_specs, allow_urls=allow_urls, allow_private=allow_private, backend=backend
    )
    listed = names.split(",") if isinstance(names, str) else names
    wanted = {n.strip() for n in listed if n.strip()}
    if "all" in wanted:
        return registry
    if index is not None:
        wanted.add("search_documents")
    unknown = wanted - set(registry.names()) - {"none"}
    if unknown and not skip_unavailable:
        raise GanymedeError(
            f"unknown or unavailable tool(s): {', '.join(sorted(unknown))}",
            f"available: {', '.join(registry.names())}",
        )
    return registry.only(wanted)
