"""Host-side reading of what untrusted code or untrusted files hand us, with bounds.

Everything here runs in the host process (the CLI, the UI), so nothing may let a hostile input crash it
or exhaust it: JSON is parsed with a depth and size limit, Parquet is checked for its decoded size before
it is decoded (a small file can hold gigabytes of repeated values), zip containers (.xlsx) are checked for
their declared sizes, a work directory is removed without recursion (a deep tree is no RecursionError) and
text printed by generated code is made terminal-safe (no escape sequences reach the user's terminal).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import secrets
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.core.errors import GanymedeError

if TYPE_CHECKING:
    import pandas as pd

#: decoded size a table read on the host may have (the sandbox child has 3 GB of address space in all)
MAX_TABLE_BYTES = 1024 * 1024 * 1024
#: declared uncompressed size of the members of an Excel (.xlsx) file: its XML costs ~10x that in memory
MAX_XLSX_BYTES = 256 * 1024 * 1024
#: nesting a JSON result may have; far above any real result, far below Python's recursion limit
MAX_JSON_DEPTH = 64


class UnsafeInputError(GanymedeError):
    """A file or result exceeds what the host reads safely; the message says which limit."""


# -- JSON ----------------------------------------------------------------------------------------------
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in `text` (strings skipped), without recursing."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads_bounded(data: bytes | str, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a size and depth limit: too big or too deep raises UnsafeInputError, never
    RecursionError or MemoryError (and the value is shallow enough for any recursive code after us)."""
    if len(data) > max_bytes:
        raise UnsafeInputError(f"the result is larger than {max_bytes} bytes")
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if json_depth(text) > max_depth:
        raise UnsafeInputError(f"the result is nested deeper than {max_depth} levels")
    return json.loads(text)


# -- Parquet and Excel ---------------------------------------------------------------------------------
def parquet_decoded_bytes(source: str | Path | bytes) -> int:
    """A bound on the memory the Parquet file takes once decoded, computed without expanding it.

    Text columns are read as dictionaries (a million copies of one 1 MB string stay 1 MB), their expanded
    size is summed from the dictionary's value lengths; fixed-width columns cost rows x width."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    meta, schema = handle.metadata, handle.schema_arrow
    rows = meta.num_rows
    # before reading anything: the row count alone bounds fixed-width columns (RLE makes rows cheap to store)
    upfront = 0
    for field in schema:
        width = getattr(field.type, "bit_width", 64) if pa.types.is_primitive(field.type) else 64
        upfront += rows * max(1, width // 8)
    if upfront > MAX_TABLE_BYTES * 4:
        raise UnsafeInputError(f"the table has {rows} rows x {len(schema)} columns: too large to load")
    texts = [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
    ]
    total = 0
    if texts:  # a second handle that keeps text columns as dictionaries
        handle = pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes) else source, read_dictionary=texts)
    for group in range(meta.num_row_groups):
        table = handle.read_row_group(group)
        for column in table.columns:
            for chunk in column.chunks:
                if pa.types.is_dictionary(chunk.type):
                    lengths = pc.binary_length(chunk.dictionary)
                    expanded = pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
                    total += expanded + 8 * len(chunk)
                else:
                    total += chunk.nbytes
        del table
        if total > MAX_TABLE_BYTES:
            break
    return total


def read_parquet_bounded(source: str | Path | bytes, max_bytes: int = MAX_TABLE_BYTES) -> pd.DataFrame:
    """pd.read_parquet, only once the decoded size is known to be under `max_bytes`."""
    import pandas as pd

    size = parquet_decoded_bytes(source)
    if size > max_bytes:
        raise UnsafeInputError(
            f"the Parquet table decodes to more than {max_bytes // (1024 * 1024)} MB (a decompression bomb?)",
            "split the table or select the columns you need",
        )
    return pd.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source)


def check_zip_bounded(path: str | Path, max_bytes: int = MAX_XLSX_BYTES) -> None:
    """Refuse a zip container (.xlsx) whose members declare more than `max_bytes` uncompressed. zipfile
    never inflates a member past its declared size, so the declaration bounds the memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the reader gives its own clear error
    if declared > max_bytes:
        raise UnsafeInputError(
            f"{path}: the workbook unpacks to {declared // (1024 * 1024)} MB, over the "
            f"{max_bytes // (1024 * 1024)} MB limit",
            "save the sheet as CSV or Parquet",
        )


# -- removing a work directory -------------------------------------------------------------------------
def remove_tree(path: str | Path) -> None:
    """Remove a directory tree the sandboxed code may have made arbitrarily deep or wide.

    shutil.rmtree recurses (RecursionError past ~1000 levels) and builds ever longer paths; here every
    subdirectory is renamed up to the top level (fd-relative, so no path ever grows) and emptied there,
    with two descriptors open at most. Symlinks are removed, never followed."""
    top = os.fspath(path)
    try:
        top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(top)
        return
    prefix = f".rm-{os.getpid()}-{secrets.token_hex(4)}-"
    pending: list[str | None] = [None]  # directories still to empty; None is the top itself
    emptied: list[str] = []  # directly under the top, holding no subdirectory any more
    numbers = itertools.count()
    try:
        while pending:
            name = pending.pop()
            fd = top_fd if name is None else os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top_fd)
            try:
                with contextlib.suppress(OSError):
                    os.fchmod(fd, stat.S_IRWXU)  # the code may have left a directory unwritable
                with os.scandir(fd) as entries:
                    found = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
                for entry, is_dir in found:
                    if is_dir:
                        flat = f"{prefix}{next(numbers)}"
                        os.rename(entry, flat, src_dir_fd=fd, dst_dir_fd=top_fd)
                        pending.append(flat)
                    else:
                        os.unlink(entry, dir_fd=fd)
            finally:
                if fd != top_fd:
                    os.close(fd)
            if name is not None:
                emptied.append(name)
        for name in emptied:
            os.rmdir(name, dir_fd=top_fd)
    finally:
        os.close(top_fd)
    os.rmdir(top)


# -- terminal output -----------------------------------------------------------------------------------
_ESCAPES = re.compile(
    r"""
    \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?     # OSC ... BEL/ST (title changes, hyperlinks, clipboard)
  | \x1b[P^_X][^\x1b\x9c]*(?:\x1b\\|\x9c)?          # DCS, PM, APC, SOS strings
  | \x1b\[[0-?]*[ -/]*[@-~]?                         # CSI (colours, cursor moves, screen clear)
  | \x9b[0-?]*[ -/]*[@-~]?                           # 8-bit CSI
  | \x1b[ -/]*[0-~]?                                 # other ESC sequences (charset switches, resets)
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with every terminal control sequence removed and other control characters shown as \\xNN
    escapes; newline and tab are kept (\\r\\n becomes \\n)."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else "", text)


#: any character terminal_safe would change (ESC and C1 start every sequence; C0 but tab/newline; bidi)
_UNSAFE_CHARACTER = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


def terminal_safe_value(value: Any, depth: int = 0) -> Any:
    """A JSON-like result with terminal_safe applied to every string in it (keys included). The depth is
    bounded by loads_bounded before this runs; past MAX_JSON_DEPTH it stops descending."""
    if isinstance(value, str):
        return terminal_safe(value)
    if depth > MAX_JSON_DEPTH:
        return value
    if isinstance(value, list):
        return [terminal_safe_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {terminal_safe_value(k, depth + 1): terminal_safe_value(v, depth + 1) for k, v in value.items()}
    return value


def terminal_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with terminal_safe applied to column names and to text cells and index labels that need
    it; columns without a control character (checked vectorised) are left untouched."""
    import pandas as pd

    def clean(values: pd.Series | pd.Index) -> pd.Series | pd.Index | None:
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories if isinstance(values, pd.Series) else values.categories
            safe = [terminal_safe(c) if isinstance(c, str) else c for c in categories]
            if safe != list(categories) and len(set(safe)) == len(safe):
                return (
                    values.cat.rename_categories(safe)
                    if isinstance(values, pd.Series)
                    else values.rename_categories(safe)
                )
            return None
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            return None
        texts = pd.Series(values, copy=False).astype("string")
        if not texts.str.contains(_UNSAFE_CHARACTER, regex=True, na=False).any():
            return None
        return values.map(lambda v: terminal_safe(v) if isinstance(v, str) else v)

    frame.columns = [terminal_safe(c) if isinstance(c, str) else c for c in frame.columns]
    for position in range(frame.shape[1]):
        cleaned = clean(frame.iloc[:, position])
        if cleaned is not None:
            frame.isetitem(position, cleaned)
    if not isinstance(frame.index, pd.MultiIndex):
        cleaned_index = clean(frame.index)
        if cleaned_index is not None:
            frame.index = cleaned_index
    return frame
