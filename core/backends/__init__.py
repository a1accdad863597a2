"""Model backends: one protocol (base.py), model references (refs.py), one file per backend, one registry."""

from ganymede.core.backends.base import Backend, Stream
from ganymede.core.backends.refs import ModelRef, parse_model_ref
from ganymede.core.backends.registry import load_backend, register_backend

__all__ = ["Backend", "ModelRef", "Stream", "load_backend", "parse_model_ref", "register_backend"]
