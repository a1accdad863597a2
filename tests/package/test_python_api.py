"""The Python API: every public name resolves, and the README's example runs as written on a bundled model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ganymede
from tests.package.test_backend_plugin import readme_block


def test_every_public_name_resolves():
    assert ganymede.__version__
    for name in ganymede.__all__:
        assert getattr(ganymede, name) is not None, name
    with pytest.raises(AttributeError):
        ganymede.no_such_thing  # noqa: B018


def test_import_ganymede_loads_no_app():
    code = "import sys, ganymede; print(sorted(m for m in sys.modules if m.startswith('ganymede.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_flag(capsys):
    from ganymede.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"ganymede {ganymede.__version__}"


@pytest.mark.model
@pytest.mark.slow
def test_the_readme_example_runs(tmp_path):
    """The example as a user runs it, in a fresh process, on the default model it names."""
    script = tmp_path / "example.py"
    script.write_text(readme_block("python-api-example"), encoding="utf-8")
    env = os.environ | {"GANYMEDE_HOME": os.environ["GANYMEDE_HOME"]}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == ganymede.__version__
    assert "Alan Greenspan PER" in lines and "Federal Reserve ORG" in lines
    assert lines[1].strip() and lines[2].strip(), lines  # a summary and a translation
    table = out.stdout.split(lines[2], 1)[1].split("Alan Greenspan", 1)[0]
    assert "4.0" in table and "2.0" in table, table  # the mean tip per day, computed in the sandbox
    assert lines[-1].strip(), lines  # the assistant answered (how well: tests/integration/test_assistant.py)
