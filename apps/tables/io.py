"""Tables in: files read into DataFrames by name, and the description of them the model sees (shape,
dtypes, a few sample rows, clipped so that a hostile cell or column name cannot flood the prompt).

The name does not shadow the standard library's `io` for the sandbox child that re-runs sandbox.py from
this folder: it starts with `python -I`, which keeps the script's folder off sys.path."""

from __future__ import annotations

import builtins
import keyword
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ganymede.apps.tables.safe_files import check_zip_bounded, read_parquet_bounded
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
            check_zip_bounded(path)  # an .xlsx is a zip: refuse a decompression bomb before unpacking it
            frame = pd.read_excel(path)
        elif kind == "Parquet":
            frame = read_parquet_bounded(path)  # its decoded size is checked first (decompression bombs)
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


#: names a table may not take: they would shadow what the code already has (pd, np, plt, df, dfs, result).
RESERVED_NAMES = frozenset({"pd", "np", "plt", "df", "dfs", "result", "math", "re"})


def table_name(path: str | Path, taken: set[str]) -> str:
    """A Python identifier from the file's stem, unique among `taken`: the variable the code sees the table as."""
    base = re.sub(r"\W+", "_", Path(path).stem, flags=re.ASCII).strip("_").lower() or "table"
    base = base if base[0].isalpha() else f"t_{base}"
    if keyword.iskeyword(base) or base in RESERVED_NAMES or hasattr(builtins, base):
        base = f"{base}_table"
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


#: a text column with at most this many distinct values has them listed (the model then filters on real
#: values: 'usa', not 'USA' or 'United States').
DISTINCT_SHOWN = 12


def _number(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def column_facts(series: pd.Series) -> str:
    """What the model needs to filter and group correctly: the range of a numeric or date column (so
    '1982' can be matched to a year stored as 82), the values of a low-cardinality text column, and how
    many cells are missing."""
    import pandas as pd

    facts: list[str] = []
    values = series.dropna()
    try:
        if pd.api.types.is_bool_dtype(series) or values.empty:
            pass
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            facts.append(f"range {_number(values.min())} to {_number(values.max())}")
        else:
            distinct = values.astype(str).unique()
            if len(distinct) <= DISTINCT_SHOWN:
                shown = ", ".join(_clip(repr(v), 30) for v in distinct)
                facts.append(f"{len(distinct)} values: {shown}")
            else:
                facts.append(f"{len(distinct)} distinct values")
    except (TypeError, ValueError):  # mixed object columns cannot always be compared or hashed
        pass
    missing = int(series.isna().sum())
    if missing:
        facts.append(f"{missing} missing")
    return "; ".join(facts)


def describe_table(variable: str, frame: pd.DataFrame, sample_rows: int = 3, cell_chars: int = 40) -> str:
    """Shape, columns with dtypes and facts (range, the values of low-cardinality text, missing cells) and
    the first `sample_rows` rows; with 0 sample rows (private data) no cell value is shown at all. Clipped so
    a hostile cell or column name cannot flood the prompt."""
    lines = [f"{variable}: {len(frame)} rows x {frame.shape[1]} columns", "columns (name: dtype, facts):"]
    columns = list(frame.columns)
    for i, column in enumerate(columns[:60]):
        series = frame.iloc[:, i]
        facts = column_facts(series) if sample_rows > 0 else ""
        if sample_rows <= 0 and series.isna().any():
            facts = f"{int(series.isna().sum())} missing"
        lines.append(f"  {_clip(repr(column), 80)}: {series.dtype}" + (f", {_clip(facts, 300)}" if facts else ""))
    if len(columns) > 60:
        lines.append(f"  ... and {len(columns) - 60} more columns")
    if sample_rows > 0 and len(frame):
        sample = frame.head(sample_rows).iloc[:, :20].copy()
        sample.columns = [_clip(str(c), 30) for c in sample.columns]
        sample = sample.map(lambda v: _clip(v, cell_chars) if isinstance(v, str) else v)
        lines.append("first rows:")
        lines += ["  " + row for row in sample.to_string(index=False).split("\n")]
    return "\n".join(lines)


def code_inputs(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame | dict[str, pd.DataFrame]]:
    """The variables the code gets: `df` is the first (or only) table; with several tables each is also a
    variable of its own name, and `dfs` is the dict of all of them by name."""
    if not tables:
        return {}
    inputs: dict[str, pd.DataFrame | dict[str, pd.DataFrame]] = {"df": next(iter(tables.values()))}
    if len(tables) > 1:
        inputs.update(tables)
        inputs["dfs"] = dict(tables)
    return inputs


def describe_tables(tables: dict[str, pd.DataFrame], sample_rows: int = 3) -> str:
    """The schema part of the prompt, naming each table as the code sees it (`df`, or its own name)."""
    if len(tables) == 1:
        return describe_table("df", next(iter(tables.values())), sample_rows)
    names = list(tables)
    parts = [
        f"There are {len(tables)} tables, each a DataFrame variable of its own name: {', '.join(names)} "
        f"(`df` is {names[0]}; `dfs` is a dict of all of them by name). Join them with pd.merge on a shared column."
    ]
    parts += [describe_table(name, frame, sample_rows) for name, frame in tables.items()]
    parts.append(shared_columns(tables))
    return "\n\n".join(p for p in parts if p)


def shared_columns(tables: dict[str, pd.DataFrame]) -> str:
    """The columns two tables have in common: the likely join keys, said outright for a small model."""
    names = list(tables)
    lines = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = [str(c) for c in tables[a].columns if c in set(tables[b].columns)]
            if common:
                lines.append(f"  {a} and {b} share: {', '.join(_clip(repr(c), 40) for c in common[:8])}")
    return "columns in common (join keys):\n" + "\n".join(lines) if lines else ""
