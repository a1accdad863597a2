"""Ganymede: task-oriented LLM apps that run on a laptop with no API key, and on any OpenAI-compatible server.

The Python API, imported lazily so `import ganymede` stays instant (README, "From Python"):

    import ganymede

    backend = ganymede.load_backend("bundled:qwen2.5-coder-1.5b")
    ganymede.summarize(backend, "#Person1#: Hi ...\n#Person2#: ...").summary
    ganymede.translate(backend, "Good morning", target="de").text
    ganymede.ask_table(backend, "What is the mean tip?", {"df": frame}).result
    ganymede.extract_entities("Alan Greenspan spoke in London.")
    ganymede.ask(backend, "What is 2480 * 0.175?", registry=ganymede.tool_registry("calculator")).text
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: public name -> "module:attribute", resolved on first use.
_API = {
    "load_backend": "ganymede.core.backends:load_backend",
    "parse_model_ref": "ganymede.core.backends:parse_model_ref",
    "Backend": "ganymede.core.backends:Backend",
    "ModelRef": "ganymede.core.backends:ModelRef",
    "GenerationConfig": "ganymede.core.generation:GenerationConfig",
    "GanymedeError": "ganymede.core.errors:GanymedeError",
    "Summarizer": "ganymede.apps.summarize:Summarizer",
    "summarize": "ganymede.apps.summarize:summarize_text",
    "Translator": "ganymede.apps.translate:Translator",
    "translate": "ganymede.apps.translate:translate_text",
    "ask_table": "ganymede.apps.tables:ask",
    "load_tables": "ganymede.apps.tables:load_tables",
    "load_engine": "ganymede.apps.ner:load_engine",
    "extract_entities": "ganymede.apps.ner:extract_entities",
    "ask": "ganymede.apps.assistant:ask",
    "tool_registry": "ganymede.apps.assistant:build_registry",
    "open_index": "ganymede.apps.assistant:open_index",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    try:
        module_name, _, attribute = _API[name].partition(":")
    except KeyError:
        raise AttributeError(f"module 'ganymede' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
