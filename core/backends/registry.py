"""Model references and the backend registry: the one place that maps a name to a backend class."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import settings
from core.errors import UnknownBackendError, UnknownModelError

if TYPE_CHECKING:
    from core.backends.base import Backend

#: backend name -> "module:Class". Adding a backend = one file in core/backends/ + one line here.
BACKENDS: dict[str, str | Callable[..., Backend]] = {
    "llamacpp": "core.backends.llamacpp:LlamaCppBackend",
    "transformers": "core.backends.transformers:TransformersBackend",
    "openai": "core.backends.openai:OpenAIBackend",
}

#: reference scheme -> the backend that serves it unless one is named.
DEFAULT_BACKEND_FOR_SCHEME = {
    "bundled": "llamacpp",
    "gguf": "llamacpp",
    "hf": "transformers",
    "openai": "openai",
}

REFERENCE_FORMS = (
    "bundled:NAME, ./path/model.gguf, ./path/hf-model-folder, hf:ORG/NAME, openai:MODEL or openai:MODEL@BASE_URL"
)


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference such as `bundled:qwen2.5-coder-1.5b` or `openai:gpt-4o-mini@http://host/v1`."""

    raw: str
    scheme: str  # bundled | gguf | hf | openai
    name: str  # catalog name, file/folder path, hub id or served model name
    base_url: str | None = None

    @property
    def default_backend(self) -> str:
        return DEFAULT_BACKEND_FOR_SCHEME[self.scheme]


def parse_model_ref(ref: str | None) -> ModelRef:
    raw = (ref or settings.default_model()).strip()
    if not raw:
        raise UnknownModelError("empty model reference", f"use one of: {REFERENCE_FORMS}")
    scheme, sep, rest = raw.partition(":")
    if sep and scheme == "bundled":
        from core.models import get_bundled

        get_bundled(rest)  # fail early with the list of valid names
        return ModelRef(raw, "bundled", rest)
    if sep and scheme == "hf":
        if "/" not in rest and not Path(rest).exists():
            raise UnknownModelError(f"bad Hugging Face reference {raw!r}", "write hf:ORG/NAME or hf:/local/folder")
        return ModelRef(raw, "hf", rest)
    if sep and scheme == "openai":
        model, _, url = rest.partition("@")
        if not model:
            raise UnknownModelError(f"bad OpenAI reference {raw!r}", "write openai:MODEL or openai:MODEL@BASE_URL")
        return ModelRef(raw, "openai", model, url or None)
    path = Path(raw).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise UnknownModelError(f"GGUF file not found: {path}", "check the path")
        return ModelRef(raw, "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnknownModelError(
                f"{path} is not a Hugging Face model folder (no config.json)",
                "point at a folder saved with save_pretrained, or at a .gguf file",
            )
        return ModelRef(raw, "hf", str(path.resolve()))
    raise UnknownModelError(f"unknown model {raw!r}", f"use one of: {REFERENCE_FORMS}; `ganymede models` lists them")


def register_backend(name: str, factory: str | Callable[..., Backend]) -> None:
    """Add a backend (a class, or "module:Class" imported on first use)."""
    BACKENDS[name] = factory


def backend_class(name: str) -> Callable[..., Backend]:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise UnknownBackendError(f"unknown backend {name!r}", f"valid: {', '.join(BACKENDS)}") from None
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
        BACKENDS[name] = target
    return target


_loaded: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Backend] = {}
_load_lock = threading.Lock()


def load_backend(ref: str | ModelRef | None = None, backend: str | None = None, **options: Any) -> Backend:
    """Load (once per process) the model `ref` on `backend` (default: the reference's own backend)."""
    model_ref = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
    backend_name = backend or model_ref.default_backend
    key = (model_ref.raw, backend_name, tuple(sorted(options.items())))
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = backend_class(backend_name)(model_ref, **options)
        return _loaded[key]


def unload_all() -> None:
    with _load_lock:
        _loaded.clear()
