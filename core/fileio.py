"""Files every app reads and writes the same way: atomic writes (readers never see half a file, a crash
never leaves a truncated output) and JSONL records whose errors name the file and line."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def jsonl_records(
    lines: Iterable[str], source: str | Path, on_error: Callable[[int, str], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line. A line that is not a JSON object is an error naming
    `source` and the line; with `on_error`, a batch job's choice, it is reported as `on_error(line, reason)`
    and skipped instead."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problem, hint = f"not valid JSON ({exc.msg})", "fix or remove that line"
        else:
            if isinstance(record, dict):
                yield number, record
                continue
            problem, hint = "expected a JSON object", "write one {...} object a line"
        if on_error is None:
            raise InputFileError(f"{source} line {number}: {problem}", hint)
        on_error(number, problem)
