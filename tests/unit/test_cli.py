import json
import subprocess
import sys

import pytest

from ganymede import cli

HEAVY = ("torch", "transformers", "gradio", "spacy", "langchain_core", "llama_cpp", "pandas")


def test_building_the_parser_imports_nothing_heavy():
    code = (
        "import sys; from ganymede.cli import build_parser; build_parser(); print([m for m in %r if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code % (HEAVY,)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_app_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("chat", "eval", "models", "logs", "serve", "ui"):
        assert command in out


def test_unknown_model_is_one_clear_line_and_exit_2(capsys):
    assert cli.main(["chat", "-m", "hi", "--model", "bundled:nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: unknown bundled model 'nope'")


def test_invalid_setting_names_value_and_range(capsys):
    assert cli.main(["chat", "-m", "hi", "--temperature", "7"]) == 2
    err = capsys.readouterr().err
    assert "temperature=7.0" in err and "le 2.0" in err


def test_models_lists_bundled_models_and_each_apps_model(capsys, monkeypatch):
    monkeypatch.setenv("GANYMEDE_MODEL_NER", "bundled:qwen2.5-coder-0.5b")
    assert cli.main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    bundled = {row["name"]: row for row in listing["models"] if row["store"] == "bundled"}
    assert set(bundled) == {"bundled:qwen2.5-coder-1.5b", "bundled:qwen2.5-coder-0.5b"}
    for row in bundled.values():  # usable, or a problem that says what is missing
        assert row["problem"] is None or "shard packages" in row["problem"]
    assert listing["apps"]["ner"] == "bundled:qwen2.5-coder-0.5b"
    assert listing["apps"]["chat"] == "bundled:qwen2.5-coder-1.5b"


def test_unreachable_openai_endpoint_is_a_clear_error(capsys):
    assert cli.main(["chat", "-m", "hi", "--model", "openai:m@http://127.0.0.1:9/v1"]) == 2
    assert "cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1" in capsys.readouterr().err


def test_ui_refuses_public_bind_without_auth(capsys):
    assert cli.main(["ui", "--host", "0.0.0.0"]) == 2
    assert "without authentication" in capsys.readouterr().err
