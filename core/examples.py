"""Few-shot example selection by meaning: the K examples of a pool most similar to the input, by cosine
similarity of bundled MiniLM embeddings (core.embeddings). Generic over the example's shape, so any app
(summarize, translate, ner) can pick its shots from a user's pool of worked examples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Example = dict[str, Any]
KeyFn = str | Callable[[Example], str]
EmbedFn = Callable[[Sequence[str]], Any]


def _text_of(example: Example, key: KeyFn) -> str:
    if callable(key):
        return key(example)
    if key not in example:
        raise KeyError(f"example has no {key!r} field (it has {', '.join(sorted(example))})")
    return str(example[key])


def _default_embed(texts: Sequence[str]) -> Any:
    from ganymede.core.embeddings import embed

    return embed(texts)


class ExampleSelector:
    """Embeds a pool once, then picks the most similar examples for each query.

    Examples whose text equals the query are never picked (a pool that contains the input would otherwise
    hand the model its own answer). The chosen examples come most similar LAST, nearest the input, where a
    small model attends most."""

    def __init__(self, pool: Sequence[Example], key: KeyFn, embed: EmbedFn | None = None) -> None:
        import numpy as np

        self.pool = list(pool)
        self.key = key
        self._embed = embed or _default_embed
        self._texts = [_text_of(example, key) for example in self.pool]
        vectors = self._embed(self._texts) if self.pool else np.zeros((0, 1), dtype="float32")
        self._vectors = np.asarray(vectors, dtype="float32")

    def __len__(self) -> int:
        return len(self.pool)

    def select(self, query: str, k: int) -> list[Example]:
        import numpy as np

        if k <= 0 or not self.pool:
            return []
        query_vector = np.asarray(self._embed([query]), dtype="float32")[0]
        similarity = self._vectors @ query_vector
        candidates = [i for i in np.argsort(-similarity, kind="stable") if self._texts[i].strip() != query.strip()]
        chosen = candidates[:k]
        return [self.pool[i] for i in reversed(chosen)]


def select_examples(
    query: str, pool: Sequence[Example], k: int, key: KeyFn = "input", embed: EmbedFn | None = None
) -> list[Example]:
    """The `k` examples of `pool` most similar to `query` (most similar last). `key` names the field (or gives
    a function) holding each example's text to compare. For many queries against one pool, use ExampleSelector,
    which embeds the pool once."""
    if k <= 0 or not pool:
        return []
    return ExampleSelector(pool, key, embed).select(query, k)
