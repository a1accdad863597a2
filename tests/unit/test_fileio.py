from __future__ import annotations

from pathlib import Path

import pytest

from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records, write_atomic


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.json"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]  # no temp files left behind


def test_write_atomic_writes_bytes(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "chart.png", b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG"


def test_jsonl_records_skip_blank_lines_and_keep_line_numbers() -> None:
    assert list(jsonl_records(['{"a": 1}', "", '{"b": 2}'], "x.jsonl")) == [(1, {"a": 1}), (3, {"b": 2})]


@pytest.mark.parametrize(("line", "message"), [("{oops", "not valid JSON"), ("[1, 2]", "expected a JSON object")])
def test_jsonl_records_name_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(InputFileError, match=rf"data.jsonl line 2: {message}"):
        list(jsonl_records(['{"ok": true}', line], "data.jsonl"))


def test_jsonl_records_can_report_bad_lines_and_go_on():
    problems: list[tuple[int, str]] = []
    lines = ['{"a": 1}', "not json", "", "[1, 2]", '{"b": 2}']
    records = list(jsonl_records(lines, "in.jsonl", on_error=lambda n, why: problems.append((n, why))))
    assert records == [(1, {"a": 1}), (5, {"b": 2})]
    assert [n for n, _ in problems] == [2, 4]
    assert problems[0][1].startswith("not valid JSON") and problems[1][1] == "expected a JSON object"
