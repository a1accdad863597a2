"""The assistant: questions answered from an indexed set of documents and from tools."""

from ganymede.apps.assistant.assistant import add_cli, add_eval_cli

__all__ = ["add_cli", "add_eval_cli"]
