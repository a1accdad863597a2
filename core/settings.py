"""Where Ganymede keeps its files and which model it uses when none is named.

One validated settings object, `load()`, read from `GANYMEDE_*` environment variables and an optional TOML file
(`config_file()`: the file `GANYMEDE_CONFIG` names, else config.toml in the user's config folder). The
environment wins over the file. The file's keys are the variables' names without the prefix, in lower case:

    model = "bundled:qwen2.5-coder-0.5b"
    threads = 4
    data_dir = "~/ganymede-data"

A bad value raises InvalidSettingsError, one line naming the variable (or the file and key) and what it accepts.

Two folders: `home()` is a cache (model copies, the call log, converted weights: cleaners may delete it and
Ganymede rebuilds it); `data_dir()` holds what users made (conversations, document indexes), which must survive.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganymede.core.errors import InvalidSettingsError

DEFAULT_MODEL = "bundled:qwen2.5-coder-1.5b"
SMALL_MODEL = "bundled:qwen2.5-coder-0.5b"
DEFAULT_CONTEXT_WINDOW = 8192

APP_NAME = "ganymede"
ENV_PREFIX = "GANYMEDE_"
CONFIG_VARIABLE = "GANYMEDE_CONFIG"

#: Every setting (a field of `Settings`, a key of the file, GANYMEDE_<NAME> in the environment) and what it accepts.
ACCEPTS: dict[str, str] = {
    "home": "a folder path",
    "data_dir": "a folder path",
    "model": "a model reference: bundled:NAME, a .gguf path, hf:ORG/NAME or openai:MODEL@URL",
    "context_window": "a whole number of tokens, at least 1",
    "threads": "a whole number, at least 1",
    "data": "a folder path",
    "log": "1/0, true/false, yes/no or on/off",
    "api_key": "a non-empty string (the Bearer token `ganymede serve` requires)",
    "models": 'a table of app = model reference, e.g. [models] then chat = "bundled:qwen2.5-coder-1.5b"',
}
PATH_SETTINGS = ("home", "data_dir", "data")

#: Files in a data folder that mean a user has data there (see `data_dir`).
USER_DATA = ("conversations.db", "indexes", "documents")


@dataclass(frozen=True)
class Settings:
    """Ganymede's settings, validated, with the defaults filled in."""

    home: Path  # the cache: model copies, the call log, converted weights
    data_dir: Path  # user data: conversations, document indexes and their documents
    model: str  # the model used when none is named
    context_window: int  # tokens local backends allocate; the KV cache grows with it, so keep it laptop-sized
    threads: int  # CPU threads local backends use
    data: Path  # the shared evaluation data (benchmarks), beside the checkout by default
    log: bool  # record every model call in home()/logs.db
    api_key: str | None  # the key `ganymede serve` requires as a Bearer token (None: no key)
    app_models: dict[str, str]  # the config file's [models] table: app name -> model reference
    config_file: Path  # the TOML file read (or that would be read: it need not exist)


def load() -> Settings:
    """The settings as the environment and the config file say now. Built on each call (well under a
    millisecond): tests and long-lived processes that change the environment see the change."""
    path = config_file()
    from_file = _read_config_file(path)
    raw = _validate(from_file, path)
    home_folder = raw.home.expanduser() if raw.home is not None else default_home()
    return Settings(
        home=home_folder,
        data_dir=_user_data_folder(raw, home_folder, from_file),
        model=raw.model or DEFAULT_MODEL,
        context_window=raw.context_window or DEFAULT_CONTEXT_WINDOW,
        threads=raw.threads or os.cpu_count() or 2,
        data=raw.data.expanduser() if raw.data is not None else repo_root().parent / "shared" / "data",
        log=raw.log if raw.log is not None else True,
        api_key=raw.api_key,
        app_models=dict(raw.models or {}),
        config_file=path,
    )


def home() -> Path:
    """The cache folder (model copies, the call log, converted weights); created if missing."""
    folder = load().home
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def data_dir() -> Path:
    """The folder for user data (conversations, document indexes); created if missing. See `_user_data_folder`
    for where it is."""
    folder = load().data_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_model() -> str:
    return load().model


def app_model(app: str | None) -> str:
    """The model an app uses when none is named. The environment wins over the file, and the app's own
    setting over the general one: GANYMEDE_MODEL_<APP>, GANYMEDE_MODEL, the file's [models] <app>, its
    `model`, then the bundled default."""
    if app:
        named = _environment_value(f"MODEL_{app.upper()}")
        if named:
            return named
    if _environment_value("MODEL"):
        return default_model()
    current = load()
    return current.app_models.get(app or "", current.model)


def default_context_window() -> int:
    """Context length local backends allocate; the KV cache grows with it, so keep it laptop-sized."""
    return load().context_window


def default_threads() -> int:
    return load().threads


def log_enabled() -> bool:
    """Whether model calls are recorded in the call log (GANYMEDE_LOG=0 turns it off)."""
    return load().log


def api_key() -> str | None:
    """The key `ganymede serve` requires (GANYMEDE_API_KEY, or `api_key` in the config file)."""
    return load().api_key


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """Evaluation data lives beside the checkout, never inside it."""
    return load().data


def default_home() -> Path:
    """The cache folder when none is set; also where user data lived before `data_dir` existed."""
    return Path.home() / ".cache" / APP_NAME


def config_file() -> Path:
    """The TOML file settings are read from: GANYMEDE_CONFIG, else config.toml in the user's config folder."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        return Path(named).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _user_data_folder(raw: Any, home_folder: Path, from_file: dict[str, Any]) -> Path:
    """Where user data lives. A source that names data_dir or home decides, the environment before the file:
    data_dir if it names it, else under home (so a fresh GANYMEDE_HOME isolates everything, as tests and
    scripted runs rely on). With neither, the platform's user data folder, except that data already kept in
    the old place (the cache folder, before data_dir existed) is used where it is until the new folder has some."""
    for source_names in (_from_environment, from_file.__contains__):
        if source_names("data_dir"):
            return raw.data_dir.expanduser()
        if source_names("home"):
            return home_folder
    import platformdirs

    new, old = Path(platformdirs.user_data_dir(APP_NAME)), default_home()
    return old if _holds_user_data(old) and not _holds_user_data(new) else new


def _holds_user_data(folder: Path) -> bool:
    for name in USER_DATA:
        path = folder / name
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            return True
    return False


def _from_environment(name: str) -> bool:
    return bool(_environment_value(name))


def _environment_value(name: str) -> str | None:
    """GANYMEDE_<NAME>'s value; pydantic-settings matches the names case-insensitively, and so does this."""
    wanted = (ENV_PREFIX + name).upper()
    return next((value for key, value in os.environ.items() if key.upper() == wanted), None)


def _read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings ({} when there is no file); relative paths in it are relative to its folder."""
    import tomllib

    if not path.exists():
        if os.environ.get(CONFIG_VARIABLE):
            hint = "name a TOML file, or unset it"
            raise InvalidSettingsError(f"{CONFIG_VARIABLE}={str(path)!r}: no such file", hint)
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSettingsError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSettingsError(f"{path}: cannot read the settings file ({exc})") from None
    unknown = sorted(set(values) - set(ACCEPTS))
    if unknown:
        raise InvalidSettingsError(
            f"{path}: unknown setting {', '.join(map(repr, unknown))}", f"known settings: {', '.join(ACCEPTS)}"
        )
    for name in PATH_SETTINGS:
        if isinstance(values.get(name), str):
            folder = Path(values[name]).expanduser()
            values[name] = folder if folder.is_absolute() else path.parent / folder
    return values


def _validate(from_file: dict[str, Any], path: Path) -> Any:
    """The raw settings (None where not given), checked by pydantic-settings; errors become one line."""
    from pydantic import ValidationError

    try:
        return _schema()(**from_file)
    except ValidationError as exc:
        raise InvalidSettingsError("; ".join(_describe(error, path) for error in exc.errors())) from None


def _describe(error: Any, path: Path) -> str:
    name = str(error["loc"][0]) if error["loc"] else "settings"
    value = error.get("input")
    environment_value = _environment_value(name)
    key = ".".join(str(part) for part in error["loc"]) or name  # a table's entry: models.ner
    where = f"{ENV_PREFIX}{name.upper()}" if environment_value else f"{path}: {key}"
    reason = error["msg"][:1].lower() + error["msg"][1:]
    accepts = ACCEPTS.get(name)
    return f"{where}={value!r} is not valid: {reason}" + (f" (accepts {accepts})" if accepts else "")


@functools.cache
def _schema() -> type:
    """The pydantic-settings model that reads GANYMEDE_* and checks every value (None: not given). Built on
    first use: importing pydantic-settings costs tens of milliseconds that `ganymede --help` need not pay."""
    from typing import Annotated

    from pydantic import Field
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class RawSettings(BaseSettings):
        # Empty variables count as unset (`GANYMEDE_MODEL= ganymede chat` uses the default model).
        model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid")

        home: Path | None = None
        data_dir: Path | None = None
        model: str | None = Field(None, min_length=1)
        context_window: int | None = Field(None, ge=1)
        threads: int | None = Field(None, ge=1)
        data: Path | None = None
        log: bool | None = None
        api_key: str | None = Field(None, min_length=1)
        models: dict[str, Annotated[str, Field(min_length=1)]] | None = None

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # The file's values come in as init arguments; the environment, listed first, wins over them.
            # No .env or secrets files: settings come from these two places only.
            return env_settings, init_settings

    return RawSettings
