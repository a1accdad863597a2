"""Tables in: files read into DataFrames by name, and the description of them the model sees (shape,
dtypes, a few sample rows, clipped so that a hostile cell or column name cannot flood the prompt).

The name does not shadow the standard library's `io` for the sandbox child that re-runs sandbox.py from
this folder: it starts with `python -I`, which keeps the script's folder off sys.path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ganymede.core.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd

#: file suffix -> the format it is read as.
READERS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".tab": "TSV",
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".xls": "Excel",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    ".json": "JSON",
    ".jsonl": "JSON lines",
}


def load_table(path: str | Path) -> pd.DataFrame:
    """One table from CSV, TSV, Excel, Parquet or JSON; unreadable files name the file and the reason."""
    import pandas as pd

    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(
            f"{path}: unsupported table format {path.suffix or '(no extension)'!r}",
            f"use one of {', '.join(sorted(READERS))}",
        )
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        if kind == "CSV":
            frame = pd.read_csv(path)
        elif kind == "TSV":
            frame = pd.read_csv(path, sep="\t")
        elif kind == "Excel":
            frame = pd.read_excel(path)
        elif kind == "Parquet":
            frame = pd.read_parquet(path)
        elif kind == "JSON lines":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_json(path)
    except ImportError as exc:
        raise InputFileError(f"{path}: reading {kind} needs a package that is missing ({exc.name})") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = f" near line {where.group(1)}" if where else ""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot read as {kind}{line}: {reason}") from None
    except Exception as exc:  # parsers raise many types (zipfile.BadZipFile for a broken .xlsx, ...)
        raise InputFileError(f"{path}: cannot read as {kind}: {type(exc).__name__}: {exc}") from None
    if frame.columns.size == 0:
        raise InputFileError(f"{path}: the {kind} file has no columns")
    return frame


def table_name(path: str | Path, taken: set[str]) -> str:
    """A Python-identifier-like name from the file's stem, unique among `taken`."""
    base = re.sub(r"\W+", "_", Path(path).stem).strip("_").lower() or "table"
    base = base if base[0].isalpha() else f"t_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def load_tables(paths: list[str | Path]) -> dict[str, pd.DataFrame]:
    """Tables by name (the file's stem), in the order given."""
    tables: dict[str, pd.DataFrame] = {}
    for path in paths:
        tables[table_name(path, set(tables))] = load_table(path)
    return tables


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_table(variable: str, frame: pd.DataFrame, sample_rows: int = 3, cell_chars: int = 40) -> str:
    """Shape, columns with dtypes and the first `sample_rows` rows (0 for private data), clipped so a
    hostile cell or column name cannot flood the prompt."""
    lines = [f"{variable}: {len(frame)} rows x {frame.shape[1]} columns", "columns (name: dtype):"]
    columns = list(frame.columns)
    for column in columns[:60]:
        lines.append(f"  {_clip(repr(column), 80)}: {frame[column].dtype}")
    if len(columns) > 60:
        lines.append(f"  ... and {len(columns) - 60} more columns")
    if sample_rows > 0 and len(frame):
        sample = frame.head(sample_rows).iloc[:, :20].copy()
        sample.columns = [_clip(str(c), 30) for c in sample.columns]
        sample = sample.map(lambda v: _clip(v, cell_chars) if isinstance(v, str) else v)
        lines.append("first rows:")
        lines += ["  " + row for row in sample.to_string(index=False).split("\n")]
    return "\n".join(lines)


def code_variable(tables: dict[str, pd.DataFrame]) -> str:
    """The variable the code sees the tables as: `df` for one table, the dict `dfs` (by name) for several."""
    return "df" if len(tables) == 1 else "dfs"


def describe_tables(tables: dict[str, pd.DataFrame], sample_rows: int = 3) -> str:
    """The schema part of the prompt, naming each table as the code sees it (`df`, or `dfs[name]`)."""
    if code_variable(tables) == "df":
        return describe_table("df", next(iter(tables.values())), sample_rows)
    parts = ["The tables are in the dict `dfs`:"]
    parts += [describe_table(f"dfs[{name!r}]", frame, sample_rows) for name, frame in tables.items()]
    return "\n\n".join(parts)
