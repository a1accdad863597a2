"""Tables: natural-language questions about tables, answered by pandas code run in a sandbox."""

from ganymede.apps.tables.pandas_code import add_cli, add_eval_cli

__all__ = ["add_cli", "add_eval_cli"]
