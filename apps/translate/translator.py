"""Translation: text and files between named languages, with source-language detection and a glossary.

preprocess (resolve languages, detect the source, split into segments that fit the context window)
-> model call (one prompt per chunk, few-shot examples in the target language) -> postprocess (strip
chatter the model adds, check glossary terms). File formats live in apps/translate_formats.py."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganymede.apps.translate import languages
from ganymede.apps.translate.languages import Detection, Language
from ganymede.core.calllog import call_context
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.fileio import jsonl_records, write_atomic
from ganymede.core.generation import GenerationConfig

if TYPE_CHECKING:
    from ganymede.core.backends.base import Backend
    from ganymede.core.prompts import PromptSpec

PROMPT = "translate"
BASELINE_PROMPT = "translate_baseline"
#: replies may be this many times longer (in tokens) than the source, plus a margin: German runs long.
LENGTH_FACTOR = 2.5
LENGTH_MARGIN = 32
CANDIDATES_HELP = (
    "translate N times (greedy, plain-prompt greedy, then samples) and keep the consensus (MBR under chrF); "
    "N times slower"
)


# -- glossary ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    translation: str  # equal to term for a do-not-translate entry

    @property
    def keep(self) -> bool:
        return self.term == self.translation


@dataclass
class Glossary:
    entries: list[GlossaryEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def relevant(self, text: str) -> list[GlossaryEntry]:
        """Entries whose term occurs in `text` (whole words, case-insensitive): only those go into a prompt."""
        return [e for e in self.entries if _find_term(e.term, text)]

    def notes(self, text: str) -> str:
        """Prompt lines for the entries this text uses ("" when none)."""
        lines = []
        for entry in self.relevant(text):
            if entry.keep:
                lines.append(f'- keep "{entry.term}" exactly as it is (do not translate it)')
            else:
                lines.append(f'- translate "{entry.term}" as "{entry.translation}"')
        return "\nUse this glossary:\n" + "\n".join(lines) if lines else ""

    def missing(self, source: str, translation: str) -> list[GlossaryEntry]:
        """Entries used in the source whose required rendering is absent from the translation."""
        return [e for e in self.relevant(source) if not _find_term(e.translation, translation)]


def _find_term(term: str, text: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(term) + r"(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def parse_glossary(text: str, name: str = "glossary") -> Glossary:
    """One entry a line: `term` (keep as is), `term = translation`, `term => translation`, or `term<TAB>translation`
    (also CSV with two columns). Blank lines and lines starting with # are ignored."""
    entries: list[GlossaryEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for separator in ("=>", "\t", "=", ","):
            if separator in line:
                term, _, translation = (part.strip() for part in line.partition(separator))
                break
        else:
            term, translation = line, line
        if separator == "," and term.startswith('"'):  # quoted CSV cells
            term, translation = next(csv.reader([line]))[:2]
        if not term or not translation:
            raise InputFileError(
                f"{name} line {number}: empty term or translation in {raw!r}", "write `term`, or `term = translation`"
            )
        entries.append(GlossaryEntry(term.strip(), translation.strip()))
    return Glossary(entries)


def load_glossary(path: str | Path | None) -> Glossary:
    if not path:
        return Glossary()
    file = Path(path)
    try:
        return parse_glossary(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read glossary {file}: {exc}", "give a UTF-8 text file") from None


# -- preprocess ----------------------------------------------------------------------------------------
def resolve_source(source: str | None, text: str) -> tuple[Language, Detection | None]:
    """The named source language, or the detected one (with the detection, to show the user)."""
    if not languages.is_auto(source):
        return languages.resolve(source or ""), None
    detection = languages.detect(text)
    if detection.language is None:
        raise GanymedeError("could not detect the source language", "name it with --from (e.g. --from en)")
    return detection.language, detection


# A sentence ends at . ! ? … (and closing quotes) before a space and a word that does not start in lower case,
# or right after a CJK full stop.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[^a-z\s])|[。！？]")


def split_sentences(text: str) -> list[str]:
    """Sentence pieces of a paragraph (for paragraphs too long for one prompt); joined by spaces they give
    the paragraph back up to whitespace."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p] or [text]


def input_budget(backend: Backend, spec: PromptSpec, config: GenerationConfig) -> int:
    """Tokens of source text one prompt can carry: the window minus the prompt's fixed part, and room for a
    reply about LENGTH_FACTOR times as long as the text."""
    fixed = backend.count_tokens(build_messages(spec, "", languages.resolve("en"), languages.resolve("de")))
    room = backend.context_window - fixed - LENGTH_MARGIN
    return max(16, min(int(room / (1 + LENGTH_FACTOR)), config.max_new_tokens))


def chunk_segment(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """A segment as one chunk, or split on sentence boundaries when it is over the budget."""
    from ganymede.core.chunking import pack

    if count_tokens(text) <= budget:
        return [text]
    return pack(split_sentences(text), count_tokens, budget, separator=" ", split_oversized=None)


def examples_for(spec: PromptSpec, target: Language, source: Language) -> list[dict[str, str]]:
    """Worked examples into the target language (from English, the examples' source); none for other pairs,
    where showing a different language would pull the reply towards it."""
    return [e for e in spec.examples if e["target"] == target.name and e["source"] == source.name]


def build_messages(
    spec: PromptSpec,
    text: str,
    source: Language,
    target: Language,
    glossary: Glossary | None = None,
    shots: int | None = None,
) -> list[dict[str, str]]:
    variables = {"source": source.name, "target": target.name, "text": text, "notes": ""}
    if glossary:
        variables["notes"] = glossary.notes(text)
    return spec.render(variables, shots=shots, examples=examples_for(spec, target, source))


# -- postprocess --------------------------------------------------------------------------------------
_LABEL = re.compile(
    r"^\s*(?:here is the translation[^:\n]*:|translation(?: \([^)]*\))?\s*:|\w+ translation\s*:)\s*", re.IGNORECASE
)
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("«", "»"), ("„", "“"), ("```", "```")]
_NOTE = re.compile(r"\n\s*(?:\(?note|notes|explanation|\*\*note)\b.*$", re.IGNORECASE | re.DOTALL)


def clean_reply(reply: str, source_text: str) -> str:
    """The translation alone: drop labels ("Translation:"), trailing notes, quotes or code fences the model
    wrapped around it, and extra paragraphs when the source had none."""
    text = reply.strip()
    text = _LABEL.sub("", text, count=1)
    if not _NOTE.search("\n" + source_text):  # a source line of its own starting 'Note' is content
        text = _NOTE.sub("", text).strip()
    if "\n\n" not in source_text.strip() and "\n\n" in text:
        text = text.split("\n\n", 1)[0].strip()
    for opening, closing in _QUOTES:
        wrapped = text.startswith(opening) and text.endswith(closing) and len(text) > len(opening) + len(closing)
        if wrapped and not source_text.strip().startswith(opening[0]):
            inner = text[len(opening) : len(text) - len(closing)]
            if opening == "```":
                inner = inner.split("\n", 1)[1] if "\n" in inner else inner
            text = inner.strip()
    return text


# -- model call ----------------------------------------------------------------------------------------
@dataclass
class Translation:
    text: str
    source: Language
    target: Language
    detection: Detection | None = None
    glossary_missing: list[GlossaryEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source_lang": self.source.code,
            "target_lang": self.target.code,
            "detected": self.detection.describe() if self.detection else None,
            "glossary_missing": [e.term for e in self.glossary_missing],
        }


class Translator:
    """Translates strings for one backend, language pair, prompt and glossary (reusable across segments)."""

    def __init__(
        self,
        backend: Backend,
        source: Language,
        target: Language,
        glossary: Glossary | None = None,
        config: GenerationConfig | None = None,
        prompt: str = PROMPT,
        clean: bool | None = None,
        candidates: int = 1,
    ) -> None:
        """`candidates` > 1: several translations, and the one that agrees most with the others
        (minimum-Bayes-risk selection under chrF) wins; costs `candidates` times the generation time. The
        pool is the greedy translation, the greedy translation under the plain one-line prompt (a second
        prompt makes errors less correlated than sampling alone does: multi-prompt MBR), then samples."""
        from ganymede.core.prompts import load_prompt

        self.backend = backend
        self.source = source
        self.target = target
        self.glossary = glossary or Glossary()
        self.spec = load_prompt(prompt)
        self.config = config or self.spec.config()
        self.clean = prompt != BASELINE_PROMPT if clean is None else clean
        self.budget = input_budget(backend, self.spec, self.config)
        if candidates < 1:
            raise GanymedeError(f"candidates must be at least 1, not {candidates}")
        self.candidates = candidates
        self.second_prompt = load_prompt(BASELINE_PROMPT) if candidates > 1 and prompt != BASELINE_PROMPT else None

    def _requests(self, text: str) -> list[tuple[list[dict[str, str]], GenerationConfig]]:
        """(messages, settings) for each candidate, greedy first."""
        messages = build_messages(self.spec, text, self.source, self.target, self.glossary)
        limit = int(self.backend.count_tokens(text) * LENGTH_FACTOR) + LENGTH_MARGIN
        config = self.config.merged(max_new_tokens=min(self.config.max_new_tokens, limit))
        requests = [(messages, config)]
        if self.second_prompt is not None:
            second = build_messages(self.second_prompt, text, self.source, self.target, self.glossary)
            requests.append((second, config))
        seed = config.seed or 0
        while len(requests) < self.candidates:
            seed += 1
            sampled = config.merged(greedy=False, temperature=0.7, top_p=0.95, top_k=40, seed=seed)
            requests.append((messages, sampled))
        return requests

    def _one(self, text: str) -> str:
        from ganymede.apps.evaluation.mt import consensus_index

        replies = []
        with call_context(app="translate", template=self.spec.name):
            for messages, config in self._requests(text):
                reply = self.backend.chat(messages, config).text
                replies.append(clean_reply(reply, text) if self.clean else reply.strip())
        # A glossary is a hard constraint: candidates that break it only vote when none keeps it.
        keeping = [r for r in replies if not self.missing_terms(text, r)] or replies
        return keeping[consensus_index(keeping)]

    def translate(self, text: str) -> str:
        """One segment (a paragraph, a subtitle cue, a cell): blank or symbol-only text passes through, and a
        segment over the budget is translated sentence group by sentence group."""
        if not any(ch.isalpha() for ch in text):
            return text
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        chunks = chunk_segment(text.strip(), self.backend.count_tokens, self.budget)
        return lead + " ".join(self._one(chunk) for chunk in chunks) + trail

    def missing_terms(self, source_text: str, translation: str) -> list[GlossaryEntry]:
        return self.glossary.missing(source_text, translation) if self.glossary else []


_PARAGRAPH_BREAK = re.compile(r"(\n\s*\n)")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs and the blank-line separators between them, alternating, so "".join() gives `text` back."""
    return _PARAGRAPH_BREAK.split(text)


def translate_text(
    backend: Backend,
    text: str,
    target: str,
    source: str | None = None,
    glossary: Glossary | None = None,
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
) -> Translation:
    """Translate plain text paragraph by paragraph (blank lines kept)."""
    if not text.strip():
        raise GanymedeError("nothing to translate: the text is empty")
    target_lang = languages.resolve(target)
    source_lang, detection = resolve_source(source, text)
    translator = Translator(backend, source_lang, target_lang, glossary, config, candidates=candidates)
    parts = split_paragraphs(text)
    paragraphs = len(parts[::2])
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(translator.translate(part) if i % 2 == 0 else part)  # odd parts are the blank lines between
        if progress and i % 2 == 0:
            progress(i // 2 + 1, paragraphs)
    result = "".join(out)
    return Translation(result, source_lang, target_lang, detection, translator.missing_terms(text, result))


# -- evaluation ---------------------------------------------------------------------------------------
def read_eval_rows(path: str | Path, limit: int | None = None) -> list[dict[str, str]]:
    """Rows with source, reference, source_lang, target_lang; a bad line is an error naming the line."""
    file = Path(path)
    if not file.is_file():
        raise InputFileError(
            f"evaluation data not found: {file}", "give a JSONL file (e.g. ../shared/data/ntrex128/eng-deu.dev.jsonl)"
        )
    rows: list[dict[str, str]] = []
    with file.open(encoding="utf-8") as handle:
        for number, row in jsonl_records(handle, file):
            missing = {"source", "reference", "source_lang", "target_lang"} - set(row)
            if missing:
                raise InputFileError(f"{file} line {number}: missing {', '.join(sorted(missing))}")
            rows.append(row)
            if limit and len(rows) >= limit:
                break
    return rows


def evaluate(
    backend: Backend,
    rows: Sequence[dict[str, str]],
    prompt: str = PROMPT,
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    candidates: int = 1,
) -> tuple[dict[str, Any], list[str]]:
    """Corpus BLEU/chrF of the translations of `rows` (one language pair), and the translations."""
    from ganymede.apps.evaluation.mt import corpus_scores

    if not rows:
        raise GanymedeError("no evaluation rows to score")
    source = languages.resolve(rows[0]["source_lang"])
    target = languages.resolve(rows[0]["target_lang"])
    if any(
        languages.resolve(r["target_lang"]) != target or languages.resolve(r["source_lang"]) != source for r in rows
    ):
        raise GanymedeError("evaluation rows mix language pairs", "evaluate one pair per file")
    translator = Translator(backend, source, target, config=config, prompt=prompt, candidates=candidates)
    hypotheses = []
    for i, row in enumerate(rows, start=1):
        hypotheses.append(translator.translate(row["source"]))
        if progress:
            progress(i, len(rows))
    scores = corpus_scores(hypotheses, [r["reference"] for r in rows], target.code)
    info = {
        "pair": f"{source.code}-{target.code}",
        "prompt": prompt,
        "model": backend.ref.raw,
        "candidates": candidates,
    }
    return {**scores, **info}, hypotheses


# -- files ---------------------------------------------------------------------------------------------
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
    """`-o FILE` for one input, `-o DIR` for several, else NAME.<lang>.EXT beside the input."""
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
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by the interruption
                    continue
                if isinstance(item, dict) and item.get("run") == fingerprint:
                    self.done[item["key"]] = item["text"]

    @staticmethod
    def key(text: str) -> str:
        import hashlib

        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(self, text: str) -> str | None:
        return self.done.get(self.key(text))

    def add(self, text: str, translation: str) -> None:
        self.done[self.key(text)] = translation
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
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
        raise InputFileError(f"{file}: the output would overwrite the input", "choose another -o")
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


# -- CLI -----------------------------------------------------------------------------------------------
def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "translate",
        help="translate text or files (txt, md, srt, vtt, jsonl, csv) keeping their format",
        description="Translate TEXT, or files whose structure (subtitle timings, Markdown code and links, "
        "other JSON fields and CSV columns) is kept. Languages by ISO code or English name.",
    )
    parser.add_argument("inputs", nargs="*", metavar="TEXT|PATH", help="text to translate, or files (default: stdin)")
    parser.add_argument("--to", dest="target", help="target language (code or name), e.g. de, fra, Spanish")
    parser.add_argument("--from", dest="source", default="auto", help="source language (default: auto-detect)")
    parser.add_argument("-o", "--output", help="output file (one input) or folder (several)")
    parser.add_argument("--glossary", help="glossary file: `term` (keep) or `term = translation` per line")
    parser.add_argument(
        "--format", dest="fmt", help="file format when the extension does not say: txt, md, srt, vtt, jsonl, csv"
    )
    parser.add_argument("--field", default="text", help="JSONL field to translate (default: text)")
    parser.add_argument("--column", help="CSV column to translate, by name or 1-based number")
    parser.add_argument("--detect", action="store_true", help="only detect the language of the input and print it")
    parser.add_argument("--list-languages", action="store_true", help="list the known languages and exit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--candidates",
        type=int,
        default=1,
        help=CANDIDATES_HELP,
    )
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_cli)


def _looks_like_path(item: str) -> bool:
    """A single word ending in a supported file extension (or with a slash) is meant as a file, not text."""
    from ganymede.apps.translate.formats import SUFFIXES

    if "\n" in item or " " in item.strip() or len(item) > 260:
        return False
    return "/" in item or Path(item).suffix.lower() in SUFFIXES


def _progress_bar(label: str):  # -> rich Progress on stderr
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def run_cli(args: argparse.Namespace) -> int:
    if args.list_languages:
        rows = [{"code": lang.code, "iso3": lang.iso3, "name": lang.name} for lang in languages.LANGUAGES]
        if args.json:
            print_json(rows)
        for row in [] if args.json else rows:
            print(f"{row['code']:<4}{row['iso3']:<5}{row['name']}")
        return 0
    files = [item for item in args.inputs if Path(item).is_file()]
    missing = [item for item in args.inputs if item not in files and _looks_like_path(item)]
    texts = [item for item in args.inputs if item not in files and item not in missing]
    if files or missing:
        if texts:
            raise GanymedeError("give either text or files, not both", f"{texts[0][:40]!r} is not a file")
        return _run_files(args, files, missing)
    text = " ".join(texts) if texts else ("" if sys.stdin.isatty() else sys.stdin.read())
    if not text.strip():
        raise GanymedeError("nothing to translate", "give TEXT, file paths, or pipe text on stdin")
    if args.detect:
        detection = languages.detect(text)
        print_json(
            {
                "language": detection.language.code if detection.language else None,
                "name": detection.language.name if detection.language else None,
                "confidence": detection.confidence,
            }
        ) if args.json else print(detection.describe())
        return 0
    if not args.target:
        raise GanymedeError("which language should I translate into?", "add --to, e.g. --to de")
    target = languages.resolve(args.target)
    source = args.source if languages.is_auto(args.source) else languages.resolve(args.source).code
    glossary = load_glossary(args.glossary)
    backend = load_backend_from_args(args)
    from ganymede.core.prompts import load_prompt

    config = config_from_args(load_prompt(PROMPT).config(), args)
    with _progress_bar("translating") as bar:
        task = bar.add_task("", total=None)
        result = translate_text(
            backend,
            text,
            target.code,
            source,
            glossary,
            config,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            candidates=args.candidates,
        )
    if result.detection:
        print(f"detected source language: {result.detection.describe()}", file=sys.stderr)
    for entry in result.glossary_missing:
        print(f"warning: glossary term {entry.term!r} not rendered as {entry.translation!r}", file=sys.stderr)
    if args.output:
        write_atomic(Path(args.output), result.text + "\n")
    if args.json:
        print_json({**result.to_dict(), "model": backend.ref.raw})
    elif not args.output:
        print(result.text)
    return 0


def _run_files(args: argparse.Namespace, files: list[str], missing: list[str]) -> int:
    from ganymede.apps.translate.formats import read_document

    if not args.target:
        raise GanymedeError("which language should I translate into?", "add --to, e.g. --to de")
    languages.resolve(args.target)
    source = args.source if languages.is_auto(args.source) else languages.resolve(args.source).code
    glossary = load_glossary(args.glossary)
    many = len(files) + len(missing) > 1
    results = [FileResult(Path(item), error=f"{item}: no such file") for item in missing]
    readable = []
    for item in files:  # check every file before loading a model, so a batch of bad paths costs nothing
        try:
            read_document(item, args.fmt, args.field, args.column)
            readable.append(item)
        except GanymedeError as exc:
            results.append(FileResult(Path(item), error=str(exc)))
    backend = load_backend_from_args(args) if readable else None
    from ganymede.core.prompts import load_prompt

    config = config_from_args(load_prompt(PROMPT).config(), args)
    with _progress_bar("translating") as bar:
        for item in readable:
            task = bar.add_task(Path(item).name, total=None)
            try:
                result = translate_file(
                    backend,
                    item,
                    args.target,
                    source,
                    glossary,
                    config,
                    args.output,
                    args.fmt,
                    args.field,
                    args.column,
                    many,
                    progress=lambda done, total, t=task: bar.update(t, completed=done, total=total),
                    candidates=args.candidates,
                )
            except GanymedeError as exc:  # one bad file is reported; the batch goes on
                result = FileResult(Path(item), error=f"{item}: {exc}")
            results.append(result)
            bar.remove_task(task)
    for result in results:
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
            continue
        detected = f" (detected {result.detection.describe()})" if result.detection else ""
        reused = f", {result.reused} resumed" if result.reused else ""
        print(f"{result.path} -> {result.output}: {result.segments} segments{reused}{detected}", file=sys.stderr)
        for issue in result.issues:
            print(f"  warning: {issue}", file=sys.stderr)
    if args.json:
        print_json({"files": [r.to_dict() for r in results], "model": backend.ref.raw if backend else None})
    return 1 if any(r.error for r in results) else 0


def add_eval_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("translate", help="BLEU/chrF of translations against references (JSONL)")
    parser.add_argument("--data", required=True, help="JSONL with source, reference, source_lang, target_lang")
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument(
        "--prompt", default=PROMPT, help=f"prompt file (default {PROMPT}; {BASELINE_PROMPT} = plain one-line prompt)"
    )
    parser.add_argument("--save", help="write the translations (JSONL: id, source, reference, hypothesis) here")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help=f"also score the plain one-line prompt ({BASELINE_PROMPT}) in the same run, on the same model",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object (last line)")
    parser.add_argument(
        "--candidates",
        type=int,
        default=1,
        help=CANDIDATES_HELP,
    )
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_eval_cli)


def run_eval_cli(args: argparse.Namespace) -> int:
    import time

    from ganymede.core.prompts import load_prompt

    rows = read_eval_rows(args.data, args.limit)
    backend = load_backend_from_args(args)
    prompts = [args.prompt] + ([BASELINE_PROMPT] if args.baseline and args.prompt != BASELINE_PROMPT else [])
    results: dict[str, tuple[dict[str, Any], list[str]]] = {}
    with _progress_bar(f"translating {Path(args.data).name}") as bar:
        for prompt in prompts:
            config = config_from_args(load_prompt(prompt).config(), args)
            task = bar.add_task(prompt, total=len(rows))
            start = time.perf_counter()
            scores, hypotheses = evaluate(
                backend,
                rows,
                prompt,
                config,
                progress=lambda done, total, task=task: bar.update(task, completed=done),
                candidates=args.candidates if prompt == args.prompt else 1,
            )
            scores["seconds"] = round(time.perf_counter() - start, 1)
            results[prompt] = scores, hypotheses
    scores, hypotheses = results[args.prompt]
    if BASELINE_PROMPT in results and args.prompt != BASELINE_PROMPT:
        baseline = results[BASELINE_PROMPT][0]
        scores["baseline"] = {key: baseline[key] for key in ("prompt", "bleu", "chrf", "seconds")}
        scores["chrf_vs_baseline"] = round(scores["chrf"] - baseline["chrf"], 2)
    if args.save:
        baseline_hypotheses = results[BASELINE_PROMPT][1] if "baseline" in scores else [None] * len(rows)
        lines = [
            json.dumps(
                {"id": r.get("id"), "source": r["source"], "reference": r["reference"], "hypothesis": h}
                | ({"baseline": b} if b is not None else {}),
                ensure_ascii=False,
            )
            for r, h, b in zip(rows, hypotheses, baseline_hypotheses, strict=True)
        ]
        write_atomic(Path(args.save), "\n".join(lines) + "\n")
    if args.json:
        print_json(scores)
    else:
        print(
            f"{scores['pair']} {scores['prompt']} on {scores['n']} sentences with {scores['model']}: "
            f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  ({scores['seconds']} s)"
        )
        if "baseline" in scores:
            base = scores["baseline"]
            print(f"{'':>{len(scores['pair'])}} {base['prompt']}: BLEU {base['bleu']:.2f}  chrF {base['chrf']:.2f}")
    return 0
