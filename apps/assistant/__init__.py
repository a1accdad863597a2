"""The assistant: questions answered from an indexed set of documents and from tools."""

from ganymede.apps.assistant.assistant import ask
from ganymede.apps.assistant.cli import add_cli, add_eval_cli
from ganymede.apps.assistant.index import DocumentIndex, open_index
from ganymede.apps.assistant.tools import build_registry

__all__ = ["DocumentIndex", "add_cli", "add_eval_cli", "ask", "build_registry", "open_index"]
