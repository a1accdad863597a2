"""Tables: natural-language questions about tables, answered by pandas code run in a sandbox.

Modules: io (tables in, and their description for the prompt), pandas_code (question -> code -> check ->
sandbox -> repair), sandbox (the isolated runner), evaluate (PandasEval, DABench), cli."""

from ganymede.apps.tables.cli import add_cli, add_eval_cli
from ganymede.apps.tables.io import load_table, load_tables
from ganymede.apps.tables.pandas_code import Answer, ask, result_to_jsonable, run_user_code

__all__ = [
    "Answer",
    "add_cli",
    "add_eval_cli",
    "ask",
    "load_table",
    "load_tables",
    "result_to_jsonable",
    "run_user_code",
]
