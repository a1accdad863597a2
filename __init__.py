"""Ganymede: task-oriented LLM apps that run on a laptop with no API key, and on any OpenAI-compatible server.

The Python API, imported lazily so `import ganymede` stays instant:

    import ganymede

    backend = ganymede.load_backend("bundled:qwen2.5-coder-1.5b")
    ganymede.summarize("#Person1#: Hi ...\\n#Person2#: ...", backend=backend)
    ganymede.translate("Good morning", target="de", backend=backend)
    ganymede.ask_table("What is the mean tip?", {"tips": frame}, backend=backend)
    ganymede.extract_entities("Alan Greenspan spoke in London.")
    ganymede.ask("What is 17.5% of 2480?", backend=backend, tools=["calculator"])
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
    "Summarizer": "ganymede.apps.summarize.summarizer:Summarizer",
    "summarize": "ganymede.apps.summarize.summarizer:summarize_text",
    "Translator": "ganymede.apps.translate.translator:Translator",
    "translate": "ganymede.apps.translate.translator:translate_text",
    "ask_table": "ganymede.apps.tables.pandas_code:ask",
    "load_engine": "ganymede.apps.ner.engines:load_engine",
    "extract_entities": "ganymede.apps.ner.engines:extract_entities",
    "ask": "ganymede.apps.assistant.assistant:ask",
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
