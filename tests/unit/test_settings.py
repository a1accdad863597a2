"""Settings: GANYMEDE_* variables, the TOML file, which wins, one-line errors, and where user data lives.
Every test runs in a temporary home with no GANYMEDE_* variable set: the real home is never read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganymede import cli
from ganymede.core import settings
from ganymede.core.errors import GanymedeError, InvalidSettingsError


@pytest.fixture(autouse=True)
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for name in list(os.environ):
        if name.upper().startswith(settings.ENV_PREFIX):
            monkeypatch.delenv(name)
    return home


def config_toml(user_home: Path, text: str) -> Path:
    path = user_home / ".config" / "ganymede" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(**env: str) -> str:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with pytest.raises(InvalidSettingsError) as err:
            settings.load()
    message = str(err.value)
    assert "\n" not in message
    return message


def test_defaults(user_home: Path) -> None:
    loaded = settings.load()
    assert loaded.home == user_home / ".cache" / "ganymede"
    assert loaded.data_dir == user_home / ".local" / "share" / "ganymede"
    assert loaded.model == settings.DEFAULT_MODEL
    assert loaded.context_window == 8192
    assert loaded.threads == (os.cpu_count() or 2)
    assert loaded.log is True
    assert loaded.data == settings.repo_root().parent / "shared" / "data"
    assert loaded.config_file == user_home / ".config" / "ganymede" / "config.toml"
    assert settings.default_model() == settings.DEFAULT_MODEL
    assert settings.shared_data_dir() == loaded.data


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GANYMEDE_MODEL", settings.SMALL_MODEL)
    monkeypatch.setenv("GANYMEDE_CONTEXT_WINDOW", "2048")
    monkeypatch.setenv("GANYMEDE_THREADS", "3")
    monkeypatch.setenv("GANYMEDE_DATA", str(tmp_path / "eval"))
    monkeypatch.setenv("GANYMEDE_LOG", "0")
    assert settings.home() == tmp_path / "cache"
    assert (tmp_path / "cache").is_dir()
    assert settings.default_model() == settings.SMALL_MODEL
    assert settings.default_context_window() == 2048
    assert settings.default_threads() == 3
    assert settings.shared_data_dir() == tmp_path / "eval"
    assert settings.log_enabled() is False
    monkeypatch.setenv("GANYMEDE_LOG", "1")
    assert settings.log_enabled() is True


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANYMEDE_MODEL", "")
    monkeypatch.setenv("GANYMEDE_THREADS", "")
    assert settings.default_model() == settings.DEFAULT_MODEL
    assert settings.default_threads() == (os.cpu_count() or 2)


def test_the_config_file_in_the_user_config_folder(user_home: Path) -> None:
    path = config_toml(user_home, 'model = "openai:m@http://h:1/v1"\nthreads = 5\nlog = false\nhome = "cache"\n')
    assert settings.config_file() == path
    loaded = settings.load()
    assert (loaded.model, loaded.threads, loaded.log) == ("openai:m@http://h:1/v1", 5, False)
    assert loaded.home == path.parent / "cache"  # relative paths in the file are relative to its folder


def test_ganymede_config_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('data_dir = "~/notes"\ncontext_window = 4096\n', encoding="utf-8")
    monkeypatch.setenv("GANYMEDE_CONFIG", str(path))
    assert settings.config_file() == path
    assert settings.default_context_window() == 4096
    assert settings.load().data_dir == Path.home() / "notes"


def test_the_environment_wins_over_the_file(user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_toml(user_home, 'threads = 5\nmodel = "from-file"\n')
    monkeypatch.setenv("GANYMEDE_THREADS", "7")
    assert settings.default_threads() == 7
    assert settings.default_model() == "from-file"


@pytest.mark.parametrize(
    ("variable", "value", "accepts"),
    [
        ("GANYMEDE_THREADS", "abc", "a whole number, at least 1"),
        ("GANYMEDE_THREADS", "0", "a whole number, at least 1"),
        ("GANYMEDE_CONTEXT_WINDOW", "-3", "a whole number of tokens"),
        ("GANYMEDE_LOG", "maybe", "true/false"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it_and_what_it_accepts(variable: str, value: str, accepts: str) -> None:
    message = one_line_error(**{variable: value})
    assert f"{variable}={value!r}" in message
    assert accepts in message


def test_every_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    message = one_line_error(GANYMEDE_THREADS="many", GANYMEDE_CONTEXT_WINDOW="big")
    assert "GANYMEDE_THREADS" in message and "GANYMEDE_CONTEXT_WINDOW" in message


def test_a_bad_value_in_the_file_names_the_file_and_key(user_home: Path) -> None:
    path = config_toml(user_home, "context_window = -3\n")
    message = one_line_error()
    assert f"{path}: context_window=-3" in message
    assert "at least 1" in message


def test_a_toml_syntax_error_names_the_file_and_line(user_home: Path) -> None:
    path = config_toml(user_home, 'model = "x"\nthreads = = 4\n')
    message = one_line_error()
    assert str(path) in message and "not valid TOML" in message and "line 2" in message


def test_an_unknown_key_in_the_file_is_named_with_the_known_ones(user_home: Path) -> None:
    path = config_toml(user_home, "thread = 4\n")
    message = one_line_error()
    assert str(path) in message and "'thread'" in message and "threads" in message


def test_a_missing_file_named_by_ganymede_config_is_an_error(tmp_path: Path) -> None:
    message = one_line_error(GANYMEDE_CONFIG=str(tmp_path / "nope.toml"))
    assert "GANYMEDE_CONFIG" in message and "nope.toml" in message


def test_the_cli_prints_one_error_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GANYMEDE_THREADS", "abc")
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: GANYMEDE_THREADS='abc'")


def test_settings_errors_are_ganymede_errors() -> None:
    assert issubclass(InvalidSettingsError, GanymedeError)


# Where user data lives


def test_user_data_stays_under_an_explicit_ganymede_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "fresh"))
    assert settings.data_dir() == tmp_path / "fresh"


def test_ganymede_data_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "fresh"))
    monkeypatch.setenv("GANYMEDE_DATA_DIR", str(tmp_path / "mine"))
    assert settings.data_dir() == tmp_path / "mine"
    assert (tmp_path / "mine").is_dir()
    assert settings.home() == tmp_path / "fresh"


def test_an_explicit_home_in_the_environment_wins_over_the_file_data_dir(
    user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_toml(user_home, f'data_dir = "{tmp_path / "from-file"}"\n')
    assert settings.load().data_dir == tmp_path / "from-file"
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "fresh"))  # a fresh GANYMEDE_HOME isolates everything
    assert settings.load().data_dir == tmp_path / "fresh"


def test_a_home_in_the_file_keeps_user_data_under_it(user_home: Path, tmp_path: Path) -> None:
    config_toml(user_home, f'home = "{tmp_path / "cache"}"\n')
    assert settings.load().data_dir == tmp_path / "cache"


def old_location(user_home: Path) -> Path:
    return user_home / ".cache" / "ganymede"


def new_location(user_home: Path) -> Path:
    return user_home / ".local" / "share" / "ganymede"


@pytest.mark.parametrize("kept", ["conversations.db", "indexes/notes.db", "documents/notes/a.txt"])
def test_user_data_in_the_old_location_is_used_where_it_is(user_home: Path, kept: str) -> None:
    path = old_location(user_home) / kept
    path.parent.mkdir(parents=True)
    path.write_text("data", encoding="utf-8")
    assert settings.data_dir() == old_location(user_home)


def test_the_old_location_with_only_caches_or_empty_folders_is_not_reused(user_home: Path) -> None:
    for folder in ("models", "hf", "indexes"):
        (old_location(user_home) / folder).mkdir(parents=True)
    (old_location(user_home) / "logs.db").write_text("log", encoding="utf-8")
    assert settings.data_dir() == new_location(user_home)


def test_the_new_location_wins_once_it_has_data(user_home: Path) -> None:
    for location in (old_location(user_home), new_location(user_home)):
        location.mkdir(parents=True)
        (location / "conversations.db").write_text("data", encoding="utf-8")
    assert settings.data_dir() == new_location(user_home)


def test_importing_settings_leaves_pydantic_settings_for_later() -> None:
    code = "import sys, ganymede.core.settings; print('pydantic_settings' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_each_app_can_have_its_own_model(user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_toml(user_home, 'model = "bundled:qwen2.5-coder-1.5b"\n[models]\nner = "bundled:qwen2.5-coder-0.5b"\n')
    assert settings.app_model("ner") == "bundled:qwen2.5-coder-0.5b"
    assert settings.app_model("chat") == "bundled:qwen2.5-coder-1.5b"  # the file's general model
    assert settings.app_model(None) == "bundled:qwen2.5-coder-1.5b"
    monkeypatch.setenv("GANYMEDE_MODEL", "openai:big@http://h:1/v1")  # the environment wins over the file
    assert settings.app_model("ner") == "openai:big@http://h:1/v1"
    monkeypatch.setenv("GANYMEDE_MODEL_CHAT", "bundled:qwen2.5-coder-0.5b")  # and the app's own over the general
    assert settings.app_model("chat") == "bundled:qwen2.5-coder-0.5b"
    assert settings.app_model("tables") == "openai:big@http://h:1/v1"


def test_a_bad_per_app_model_names_the_key(user_home: Path) -> None:
    path = config_toml(user_home, "[models]\nner = 3\n")
    message = one_line_error()
    assert message.startswith(f"{path}: models.ner=3 is not valid")


def test_the_commands_use_their_apps_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganymede.cli import build_parser
    from ganymede.core.cliargs import model_for

    monkeypatch.setenv("GANYMEDE_MODEL_TABLES", "bundled:qwen2.5-coder-0.5b")
    parser = build_parser()
    assert model_for(parser.parse_args(["pandas", "--data", "t.csv", "q"])) == "bundled:qwen2.5-coder-0.5b"
    assert model_for(parser.parse_args(["eval", "tables", "--data", "x.jsonl"])) == "bundled:qwen2.5-coder-0.5b"
    assert model_for(parser.parse_args(["chat", "-m", "hi"])) == settings.DEFAULT_MODEL
    assert model_for(parser.parse_args(["chat", "-m", "hi", "--model", "x.gguf"])) == "x.gguf"
