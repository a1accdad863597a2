"""Token-budgeted packing shared by apps that must split long inputs (summarize, translate, ner).

Apps choose the units (dialogue turns, paragraphs, sentences); this module only packs them in order
into chunks that fit a token budget, so nothing is ever truncated silently."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ganymede.core.errors import ContextWindowExceededError


def pack(
    units: Sequence[str],
    count_tokens: Callable[[str], int],
    budget: int,
    separator: str = "\n",
    split_oversized: Callable[[str], list[str]] | None = None,
) -> list[str]:
    """Join consecutive units into chunks of at most `budget` tokens.

    A single unit over budget is handed to `split_oversized` (e.g. a sentence splitter); without one,
    or if its pieces still do not fit, a ContextWindowExceededError names the unit."""
    if budget < 1:
        raise ContextWindowExceededError("no room left for input in the context window", "use a shorter prompt")
    chunks: list[str] = []
    current: list[str] = []
    current_tokens = 0
    sep_tokens = count_tokens(separator) if separator else 0
    for unit in units:
        tokens = count_tokens(unit)
        if tokens > budget:
            if split_oversized is None:
                raise ContextWindowExceededError(
                    f"one piece of the input has {tokens} tokens, more than the {budget} that fit: {unit[:60]!r}...",
                    "split the input into smaller parts",
                )
            pieces = split_oversized(unit)
            if len(pieces) <= 1:
                raise ContextWindowExceededError(
                    f"cannot split a piece of {tokens} tokens below the budget of {budget}: {unit[:60]!r}...",
                    "split the input into smaller parts",
                )
            for chunk in pack(pieces, count_tokens, budget, separator, None):
                if current:
                    chunks.append(separator.join(current))
                    current, current_tokens = [], 0
                chunks.append(chunk)
            continue
        extra = tokens + (sep_tokens if current else 0)
        if current and current_tokens + extra > budget:
            chunks.append(separator.join(current))
            current, current_tokens, extra = [], 0, tokens
        current.append(unit)
        current_tokens += extra
    if current:
        chunks.append(separator.join(current))
    return chunks
