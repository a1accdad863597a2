"""The README's gradio_client example, run as written against the live server (only the URL changes)."""

from __future__ import annotations

import re

import pytest

from ganymede.core import settings
from tests.ui.helpers import UIServer

pytestmark = [pytest.mark.ui, pytest.mark.model]

README_URL = "http://127.0.0.1:7860/"


def readme_example() -> str:
    readme = (settings.repo_root() / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Web UI\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "gradio_client" in b]
    assert len(blocks) == 1, "the README's Web UI section has one gradio_client example"
    return blocks[0]


def test_the_readme_gradio_client_example_works(ui_server: UIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = readme_example()
    assert README_URL in code
    namespace: dict[str, object] = {}
    exec(compile(code.replace(README_URL, ui_server.url), "README.md", "exec"), namespace)
    translation = str(namespace["translation"])
    assert translation.strip() and translation != "Good morning, my friend."
    assert "English" in str(namespace["detected"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == translation.strip()  # after "Loaded as API: ..."
