"""`ganymede bench translate`: a 3 KB Markdown page (bench_page.md: fenced code, inline code, a cog comment block,
a table, nested lists, a quote) translated into German by the path this app had before markdown-it and by
today's, alternating in one process on one loaded model.

The baseline is the old path as it was, not a straw man: the hand-written block scanner (legacy_md.py, a frozen
copy), every segment it found sent on its own with `backend.chat`, in order, under the same sentence prompt (the
llama.cpp backend reuses the cached system-and-examples prefix for it as it does for any call). Today's path is
`translate_file`: prose only, repeated segments once, short segments several to a request, requests through
`chat_batch`, every translation checked."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend

PAGE = Path(__file__).with_name("bench_page.md")


def baseline_translate(backend: Backend, text: str, target: str = "de") -> tuple[str, int]:
    """The old path: (translated page, segments sent), one `chat` per segment of the old reader."""
    from ganymede.apps.translate import languages
    from ganymede.apps.translate.legacy_md import read_md, restore_inline
    from ganymede.apps.translate.translator import Translator

    document = read_md(text)
    translator = Translator(backend, languages.resolve("en"), languages.resolve(target))  # no formality: as before
    out = []
    for segment in document.segments:
        translated = translator.translate(segment.text)
        restored = restore_inline(translated, segment.protected) if segment.protected else translated
        out.append(restored if restored is not None else segment.text)
    return document.rebuild(out), len(document.segments)


def bench_translate(
    model: str | None,
    runs: int,
    alternate: Callable[..., dict[str, list[float]]],
    page: str | None = None,
    target: str = "de",
    backend: Backend | None = None,
) -> dict[str, Any]:
    """`alternate` is bench.py's (apps import nothing above them): it runs the variants in turn, `runs` rounds.
    `backend` (a test's scripted one) replaces loading `model`."""
    from ganymede.apps.translate.files import translate_file
    from ganymede.apps.translate.markdown import skeleton
    from ganymede.core.backends import load_backend

    path = Path(page) if page else PAGE
    text = path.read_text(encoding="utf-8")
    backend = backend or load_backend(model)
    seen: dict[str, Any] = {}

    def old() -> float:
        start = time.perf_counter()
        out, sent = baseline_translate(backend, text, target)
        seen["baseline_segments"] = sent
        seen["baseline_structure_kept"] = skeleton(out) == skeleton(text)
        return time.perf_counter() - start

    def new() -> float:
        with tempfile.TemporaryDirectory(prefix="ganymede-bench-") as folder:
            start = time.perf_counter()
            result = translate_file(backend, path, target, "en", output=Path(folder) / path.name)
            elapsed = time.perf_counter() - start
            out = (Path(folder) / path.name).read_text(encoding="utf-8")
        seen.update(
            segments=result.segments,
            repeated=result.repeated,
            retried=result.retried,
            kept=result.kept,
            structure_kept=skeleton(out) == skeleton(text),
        )
        return elapsed

    samples = alternate(runs, baseline=old, ganymede=new)
    base, ours = statistics.median(samples["baseline"]), statistics.median(samples["ganymede"])
    return {
        "benchmark": "translate",
        "model": backend.ref.raw,
        "page": path.name,
        "page_bytes": len(text.encode("utf-8")),
        "runs": runs,
        "baseline_s": round(base, 2),
        "ganymede_s": round(ours, 2),
        "speedup": round(base / ours, 2) if ours else None,
        "baseline_segments_per_s": round(seen["baseline_segments"] / base, 2) if base else None,
        "segments_per_s": round(seen["segments"] / ours, 2) if ours else None,
        **seen,
    }
