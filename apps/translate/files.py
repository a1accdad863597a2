"""Documents in, documents out: a file is cut into segments (formats.py), each segment translated (with a resume
log, so an interrupted run picks up where it stopped), and the file rebuilt in its format and written atomically."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.translate import languages
from ganymede.apps.translate.glossary import Glossary
from ganymede.apps.translate.languages import Detection, Language
from ganymede.apps.translate.translator import Translator, resolve_source
from ganymede.core.errors import InputFileError
from ganymede.core.fileio import jsonl_records, write_atomic
from ganymede.core.generation import GenerationConfig

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend


class OutputOverwritesInputError(InputFileError):
    """The output path of a translation is its input file."""


@dataclass
class FileResult:
    path: Path
    output: Path | None = None
    segments: int = 0
    reused: int = 0  # segments taken from the resume file of an interrupted run
    source: Language | None = None
    detection: Detection | None = None
    issues: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "output": str(self.output) if self.output else None,
            "segments": self.segments,
            "reused": self.reused,
            "source_lang": self.source.code if self.source else None,
            "detected": self.detection.describe() if self.detection else None,
            "issues": self.issues,
            "error": self.error,
        }


def default_output(path: Path, target: Language, out: str | Path | None, many: bool) -> Path:
    """`out` is the output file for one input, the output folder for several (`many`); without it the
    translation goes beside the input as NAME.<lang>.EXT."""
    name = f"{path.stem}.{target.code}{path.suffix}"
    if out is None:
        return path.with_name(name)
    out_path = Path(out)
    if many or out_path.is_dir():
        return out_path / name
    return out_path


class ResumeLog:
    """Translated segments of an unfinished file, appended as they are done (OUTPUT.partial.jsonl), so a
    rerun after a crash or Ctrl-C picks up where it stopped. Deleted once the output is written."""

    def __init__(self, output: Path, fingerprint: str) -> None:
        self.path = output.with_name(output.name + ".partial.jsonl")
        self.fingerprint = fingerprint
        self.done: dict[str, str] = {}
        if self.path.is_file():
            for item in self._intact_records():
                if item.get("run") == fingerprint:
                    self.done[item["key"]] = item["text"]

    def _intact_records(self) -> Iterator[dict[str, Any]]:
        """The log's records; a line an interruption cut short is skipped, not an error."""
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                yield from (record for _number, record in jsonl_records([line], self.path))
            except InputFileError:
                continue

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(self, text: str) -> str | None:
        return self.done.get(self.key(text))

    def add(self, text: str, translation: str) -> None:
        self.done[self.key(text)] = translation
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:  # appended, not rewritten: a crash loses one line
            handle.write(
                json.dumps({"run": self.fingerprint, "key": self.key(text), "text": translation}, ensure_ascii=False)
                + "\n"
            )

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def translate_file(
    backend: Backend,
    path: str | Path,
    target: str,
    source: str | None = None,
    glossary: Glossary | None = None,
    config: GenerationConfig | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    field_name: str = "text",
    column: str | None = None,
    many: bool = False,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
) -> FileResult:
    """Translate one file in its format and write the result atomically; problems inside the file (bad records,
    markup the model broke, glossary terms missed) are listed in `issues`, the file carries on."""
    from ganymede.apps.translate.formats import read_document, restore_inline

    file = Path(path)
    result = FileResult(file)
    document, _kind = read_document(file, fmt, field_name, column)
    result.issues.extend(document.skipped)
    segments = document.segments
    result.segments = len(segments)
    target_lang = languages.resolve(target)
    sample = "\n".join(s.text for s in segments)[:2000]
    result.source, result.detection = resolve_source(source, sample or "?")
    translator = Translator(backend, result.source, target_lang, glossary, config, candidates=candidates)
    result.output = default_output(file, target_lang, output, many)
    if result.output.resolve() == file.resolve():
        raise OutputOverwritesInputError(f"{file}: the output would overwrite the input", "choose another output")
    fingerprint = ResumeLog.key(
        json.dumps(
            [
                backend.ref.raw,
                result.source.code,
                target_lang.code,
                translator.spec.name,
                [(e.term, e.translation) for e in translator.glossary.entries],
            ]
        )
    )
    resume = ResumeLog(result.output, fingerprint)
    translations: list[str] = []
    for i, segment in enumerate(segments, start=1):
        cached = resume.get(segment.text)
        if cached is not None:
            translated = cached
            result.reused += 1
        else:
            translated = translator.translate(segment.text)
            resume.add(segment.text, translated)
        if segment.protected:
            restored = restore_inline(translated, segment.protected)
            if restored is None:
                result.issues.append(f"{segment.where}: the model changed inline markup; kept the original text")
                restored = restore_inline(segment.text, segment.protected) or segment.text
            translated = restored
        for entry in translator.missing_terms(segment.text, translated):
            result.issues.append(f"{segment.where}: glossary term {entry.term!r} not rendered as {entry.translation!r}")
        translations.append(translated)
        if progress:
            progress(i, len(segments))
    write_atomic(result.output, document.rebuild(translations))
    resume.finish()
    return result
