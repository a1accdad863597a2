"""The backend registry: the one place that maps a backend name to its class.

Ganymede's own backends are listed in BACKENDS; third-party packages add theirs through the
`ganymede.backends` entry-point group (name = "module:Class"), read once, on first lookup."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ganymede.core.backends.refs import DEFAULT_BACKEND_FOR_SCHEME, ModelRef, parse_model_ref
from ganymede.core.errors import UnknownBackendError

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend

#: backend name -> "module:Class". Adding a backend = one file in core/backends/ + one line here.
BACKENDS: dict[str, str | Callable[..., Backend]] = {
    "llamacpp": "ganymede.core.backends.llamacpp:LlamaCppBackend",
    "transformers": "ganymede.core.backends.transformers:TransformersBackend",
    "openai": "ganymede.core.backends.openai:OpenAIBackend",
}

ENTRY_POINT_GROUP = "ganymede.backends"
_entry_points_read = False


def register_backend(name: str, factory: str | Callable[..., Backend]) -> None:
    """Add a backend (a class, or "module:Class" imported on first use)."""
    BACKENDS[name] = factory


def _read_entry_points() -> None:
    """Backends that installed packages declare under `[project.entry-points."ganymede.backends"]`.

    Read once, lazily, so `ganymede --help` never scans site-packages; a built-in name is never replaced."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        BACKENDS.setdefault(entry.name, entry.value)


def backend_names() -> list[str]:
    _read_entry_points()
    return list(BACKENDS)


def backend_class(name: str) -> Callable[..., Backend]:
    if name not in BACKENDS:
        _read_entry_points()
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


def resolve_ref(ref: str | ModelRef | None) -> ModelRef:
    """A reference, where `NAME:MODEL` with NAME a registered backend (an entry point, say) is that backend's."""
    if isinstance(ref, ModelRef):
        return ref
    scheme, sep, rest = (ref or "").strip().partition(":")
    if sep and scheme not in DEFAULT_BACKEND_FOR_SCHEME and scheme in backend_names():
        return ModelRef(ref.strip(), scheme, rest)  # type: ignore[union-attr]
    return parse_model_ref(ref)


def load_backend(ref: str | ModelRef | None = None, backend: str | None = None, **options: Any) -> Backend:
    """Load (once per process) the model `ref` on `backend` (default: the reference's own backend)."""
    model_ref = resolve_ref(ref)
    backend_name = backend or model_ref.default_backend
    key = (model_ref.raw, backend_name, tuple(sorted(options.items())))
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = backend_class(backend_name)(model_ref, **options)
        return _loaded[key]


def unload_all() -> None:
    with _load_lock:
        _loaded.clear()
