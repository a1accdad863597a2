"""Documents in, documents out: a file is cut into segments (formats.py), each segment translated (with a resume
log, so an interrupted run picks up where it stopped), and the file rebuilt in its format and written atomically."""

from __future__ import annotations

import hashlib
import json
import re
import time
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
    from ganymede.apps.translate.formats import Document, Segment
    from ganymede.core.backends.base import Backend


class OutputOverwritesInputError(InputFileError):
    """The output path of a translation is its input file."""


@dataclass
class FileResult:
    path: Path
    output: Path | None = None
    segments: int = 0
    reused: int = 0  # distinct segments taken from the resume file of an interrupted run
    repeated: int = 0  # segments identical to an earlier one in the file: translated once, used again
    retried: int = 0  # segments translated a second time because the first broke markup, structure or voice
    kept: int = 0  # segments left in the source language because the retry broke them too
    seconds: float = 0.0  # time spent translating (reading, checking and writing not counted)
    formality: str | None = None
    source: Language | None = None
    detection: Detection | None = None
    issues: list[str] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        """One line on what was done: segments, reuse, retries, speed, the form of address."""
        notes = []
        if self.repeated:
            notes.append(f"{self.repeated} repeated (translated once)")
        if self.reused:
            notes.append(f"{self.reused} taken from an interrupted run")
        if self.retried:
            notes.append(f"{self.retried} retried")
        if self.kept:
            notes.append(f"{self.kept} kept untranslated")
        if self.formality:
            notes.append(self.formality)
        speed = f", {self.segments_per_second} segments/s" if self.segments_per_second else ""
        extra = f" ({', '.join(notes)})" if notes else ""
        return f"{self.segments} segments{extra} in {self.seconds:.1f} s{speed}"

    @property
    def segments_per_second(self) -> float | None:
        return round(self.segments / self.seconds, 2) if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "output": str(self.output) if self.output else None,
            "segments": self.segments,
            "reused": self.reused,
            "repeated": self.repeated,
            "retried": self.retried,
            "kept": self.kept,
            "seconds": round(self.seconds, 2),
            "segments_per_second": self.segments_per_second,
            "formality": self.formality,
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


#: what a retry adds to the prompt: the usual ways a first translation breaks a segment
RETRY_NOTE = (
    " Copy every placeholder such as [[0]] exactly once, keep the text one passage without new Markdown markup"
    " (no headings, lists, backticks or pipes)."
)


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
    formality: str | None = "auto",
) -> FileResult:
    """Translate one file in its format and write the result atomically; problems inside the file (bad records,
    markup the model broke, glossary terms missed) are listed in `issues`, the file carries on.

    Identical segments are translated once. Each translation is checked (placeholders back, the segment's
    Markdown shape, the form of address); one that fails is retried once with a note saying what to keep, then
    left untranslated and reported by line. A Markdown file is then checked whole against the source's skeleton
    (markdown.skeleton) and is never written with a broken structure. `formality`: "formal", "informal" or
    "auto" (formal where the target language distinguishes them)."""
    from ganymede.apps.translate import formality as voice
    from ganymede.apps.translate.formats import read_document

    file = Path(path)
    result = FileResult(file)
    document, kind = read_document(file, fmt, field_name, column)
    result.issues.extend(document.skipped)
    segments = document.segments
    result.segments = len(segments)
    target_lang = languages.resolve(target)
    sample = "\n".join(s.text for s in segments)[:2000]
    result.source, result.detection = resolve_source(source, sample or "?")
    result.formality = voice.resolve(formality, target_lang.code)
    translator = Translator(
        backend, result.source, target_lang, glossary, config, candidates=candidates, formality=result.formality
    )
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
                result.formality,
            ]
        )
    )
    resume = ResumeLog(result.output, fingerprint)
    distinct = list(dict.fromkeys(s.text for s in segments))
    result.repeated = len(segments) - len(distinct)
    done: dict[str, str] = {}
    for text in distinct:
        cached = resume.get(text)
        if cached is not None:
            done[text] = cached
    result.reused = len(done)
    todo = [text for text in distinct if text not in done]

    def finished(i: int, translation: str, texts: list[str] = todo) -> None:
        done[texts[i]] = translation
        resume.add(texts[i], translation)
        if progress:
            progress(len(done), len(distinct))

    start = time.perf_counter()
    translator.translate_many(todo, finished)
    checker = _Checker(kind, target_lang.code, result.formality)
    failing = {s.text for s in segments if checker.problem(s, done[s.text])}
    if failing:  # one more try for each, told what to keep
        retry = sorted(failing, key=distinct.index)
        for text, translation in zip(retry, translator.translate_many(retry, notes=RETRY_NOTE), strict=True):
            done[text] = translation
            resume.add(text, translation)
        result.retried = len(retry)
    result.seconds = time.perf_counter() - start
    translations: list[str] = []
    kept: set[int] = set()
    for i, segment in enumerate(segments):
        translated = done[segment.text]
        problem = checker.problem(segment, translated)
        if problem:
            result.issues.append(f"{segment.where}: {problem}; kept the original text")
            kept.add(i)
        translations.append(checker.original(segment) if problem else checker.restored(segment, translated))
    if kind == "md":
        translations = _whole_file_check(
            file.read_text(encoding="utf-8"), document, segments, translations, kept, result
        )
    for i, (segment, translated) in enumerate(zip(segments, translations, strict=True)):
        if i in kept:
            continue
        for entry in translator.missing_terms(segment.text, translated):
            result.issues.append(f"{segment.where}: glossary term {entry.term!r} not rendered as {entry.translation!r}")
    result.kept = len(kept)
    write_atomic(result.output, document.rebuild(translations))
    resume.finish()
    return result


class _Checker:
    """The checks one translated segment must pass before it goes into the file."""

    def __init__(self, kind: str, target: str, formality: str | None) -> None:
        self.kind = kind
        self.target = target
        self.formality = formality

    @staticmethod
    def original(segment: Segment) -> str:
        from ganymede.apps.translate.formats import restore_inline

        return restore_inline(segment.text, segment.protected) or segment.text if segment.protected else segment.text

    @staticmethod
    def restored(segment: Segment, translation: str) -> str:
        from ganymede.apps.translate.formats import restore_inline

        return (restore_inline(translation, segment.protected) or "") if segment.protected else translation

    def problem(self, segment: Segment, translation: str) -> str | None:
        """What is wrong with `translation` of `segment`, in words, or None."""
        from ganymede.apps.translate import formality as voice
        from ganymede.apps.translate.formats import restore_inline
        from ganymede.apps.translate.markdown import PLACEHOLDER, fragment_skeleton

        if segment.protected and restore_inline(translation, segment.protected) is None:
            return "the model changed inline markup (code, a link or a tag)"
        if segment.kind != "text":
            original = self.original(segment)
            placed = segment.place(self.restored(segment, translation))
            if segment.kind == "cell" and _pipes(placed) != _pipes(original):
                return "the translation changed the table's cells"
            if fragment_skeleton(placed) != fragment_skeleton(original):
                return "the translation changed the Markdown structure"
        words = voice.switched(PLACEHOLDER.sub(" ", translation), self.target, self.formality)
        if words:
            other = "informal" if self.formality == "formal" else "formal"
            return f"the translation switched to the {other} form of address ({', '.join(dict.fromkeys(words))})"
        return None


def _pipes(text: str) -> int:
    return len(re.findall(r"(?<!\\)\|", text))


def _whole_file_check(
    source: str,
    document: Document,
    segments: list[Segment],
    translations: list[str],
    kept: set[int],
    result: FileResult,
) -> list[str]:
    """The translated file's skeleton against the source's. Where they differ, the segments that change it on
    their own are put back in the source language and reported; the source's own text rebuilds the source
    exactly, so the file written never has a broken structure."""
    from ganymede.apps.translate.markdown import skeleton, skeleton_diff

    want = skeleton(source)
    got = skeleton(document.rebuild(translations))
    if got == want:
        return translations
    originals = [_Checker.original(s) for s in segments]
    fixed = list(translations)
    for i, segment in enumerate(segments):
        if i in kept or translations[i] == originals[i]:
            continue
        alone = [*originals[:i], translations[i], *originals[i + 1 :]]
        differs = skeleton_diff(want, skeleton(document.rebuild(alone)))
        if differs:
            result.issues.append(f"{segment.where}: the translation changed the file's {differs[0]}; kept the original")
            fixed[i] = originals[i]
            kept.add(i)
    if skeleton(document.rebuild(fixed)) != want:  # segments that break it only together: keep the source text
        result.issues.append("the translated segments together changed the file's structure; kept the original text")
        kept.update(range(len(segments)))
        return originals
    return fixed
