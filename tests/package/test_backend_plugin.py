"""A third-party backend registered through the `ganymede.backends` entry point: the README's own example,
installed as a package (a module plus dist-info metadata) and used by the real `ganymede` command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(re.escape(f"<!-- {marker}") + r".*?-->\s*```python\n(.*?)```", readme, re.S)
    assert match, f"README has no code block after <!-- {marker} -->"
    return match.group(1)


def install_plugin(site: Path) -> None:
    package = site / "my_echo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "backend.py").write_text(readme_block("backend-plugin-example"), encoding="utf-8")
    dist_info = site / "my_echo-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-echo\nVersion: 0.1\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[ganymede.backends]\necho = my_echo.backend:EchoBackend\n", encoding="utf-8"
    )


def ganymede(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(site), "GANYMEDE_HOME": str(home), "GANYMEDE_LOG": "0"}
    return subprocess.run(
        [sys.executable, "-m", "ganymede", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_an_entry_point_backend_answers_through_the_cli(tmp_path):
    install_plugin(tmp_path / "site")
    out = ganymede(tmp_path / "site", tmp_path / "home", "chat", "--model", "echo:any", "-m", "hello there", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["text"] == "hello there"

    forced = ganymede(tmp_path / "site", tmp_path / "home", "chat", "--backend", "echo", "-m", "ping", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["text"] == "ping"


def test_without_the_plugin_the_name_is_unknown(tmp_path):
    (tmp_path / "site").mkdir()
    out = ganymede(tmp_path / "site", tmp_path / "home", "chat", "--model", "echo:any", "-m", "hello")
    assert out.returncode == 2
    assert "unknown model 'echo:any'" in out.stderr
    assert "Traceback" not in out.stderr
