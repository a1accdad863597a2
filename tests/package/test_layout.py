"""The installed shape: one top-level import package, `ganymede`, and the layers' import boundaries."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERIC_NAMES = ("core", "apps", "ui", "prompts")
NOT_PACKAGED = {"tests", "docs", "build", "dist", ".venv"}


def _python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _is_import_module_call(node: ast.AST) -> bool:
    """`importlib.import_module("literal")`: module names in strings count as imports too."""
    if not isinstance(node, ast.Call) or getattr(node.func, "attr", getattr(node.func, "id", "")) != "import_module":
        return False
    return bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's own package
                package = path.relative_to(ROOT).parent.parts[
                    : len(path.relative_to(ROOT).parent.parts) - node.level + 1
                ]
                names.append(".".join(("ganymede", *package, *(node.module or "").split("."))).rstrip("."))
            else:
                names.append(node.module or "")
        elif _is_import_module_call(node):
            names.append(node.args[0].value)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in _python_files(folder):
        for name in _imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_core_imports_no_app_and_no_ui():
    forbidden = ("ganymede.apps", "ganymede.ui", "ganymede.cli", "ganymede.bench", "ganymede.tune", *GENERIC_NAMES)
    assert _offenders("core", forbidden) == []


def test_apps_import_no_gradio_and_no_ui():
    assert _offenders("apps", ("gradio", "ganymede.ui", "ganymede.cli", "ganymede.bench", "ganymede.tune")) == []


def test_nothing_imports_the_generic_top_level_names():
    for folder in ("core", "apps", "ui", "tune", "tests"):
        assert _offenders(folder, GENERIC_NAMES) == [], folder


def test_the_boundary_check_sees_a_violation(tmp_path, monkeypatch):
    """The checks above would pass vacuously if the scan found no imports at all."""
    assert "ganymede.core.errors" in _imported_modules(ROOT / "core" / "fileio.py")
    bad = ROOT / "core" / "_boundary_probe.py"
    bad.write_text("from ganymede.apps import APPS\n", encoding="utf-8")
    try:
        assert _offenders("core", ("ganymede.apps",)) == ["core/_boundary_probe.py imports ganymede.apps"]
    finally:
        bad.unlink()


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    on_disk = {"ganymede"}
    for init in ROOT.rglob("__init__.py"):
        relative = init.parent.relative_to(ROOT)
        if relative.parts and (relative.parts[0] in NOT_PACKAGED or "__pycache__" in relative.parts):
            continue
        if relative.parts:
            on_disk.add(".".join(("ganymede", *relative.parts)))
    assert on_disk == listed


@pytest.mark.slow
def test_a_wheel_installs_one_top_level_package(tmp_path):
    """`pip install .` (not editable): only `ganymede` is importable, `core`/`apps`/`ui`/`prompts` are not."""
    # Built from a copy of the tracked files: setuptools writes build/ into the source folder, and what a user
    # installs from a clone is what git tracks.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = wheels.glob("ganymede-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
        names = archive.namelist()
    assert {t for t in top if not t.endswith(".dist-info")} == {"ganymede"}
    assert "ganymede/prompts/chat.yaml" in names
    assert "ganymede/apps/ner/models/news/meta.json" in names
    assert not any(n.startswith("ganymede/tests/") for n in names)

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}

    def run(code: str) -> subprocess.CompletedProcess[str]:
        # -S: no site-packages, so the checkout's editable install is out of sight and only the wheel is seen.
        return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)

    shown = run("import ganymede; print(ganymede.__version__, ganymede.__file__)")
    assert shown.returncode == 0, shown.stderr
    assert str(site) in shown.stdout
    prompts = run(
        "from importlib.resources import files; print(files('ganymede.prompts').joinpath('chat.yaml').is_file())"
    )
    assert prompts.returncode == 0, prompts.stderr
    assert prompts.stdout.strip() == "True", prompts.stderr
    for name in GENERIC_NAMES:
        assert "ModuleNotFoundError" in run(f"import {name}").stderr, name
