"""Model backends: one protocol (base.py), one file per backend, one registry (registry.py)."""

from core.backends.base import Backend, Stream
from core.backends.registry import ModelRef, load_backend, parse_model_ref, register_backend

__all__ = ["Backend", "ModelRef", "Stream", "load_backend", "parse_model_ref", "register_backend"]
