"""`ganymede translate` and `ganymede eval translate`: arguments in, the app's functions called, results printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganymede.apps.translate import languages
from ganymede.apps.translate.files import FileResult, OutputOverwritesInputError, translate_file
from ganymede.apps.translate.glossary import load_glossary
from ganymede.apps.translate.translator import BASELINE_PROMPT, PROMPT, SourceNotDetectedError, translate_text
from ganymede.core.cliargs import (
    add_generation_args,
    add_model_args,
    config_from_args,
    generation_overrides,
    load_backend_from_args,
    print_json,
)
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic
from ganymede.core.progress import progress_bar

CANDIDATES_HELP = (
    "translate N times (greedy, plain-prompt greedy, then samples) and keep the consensus (MBR under chrF); "
    "N times slower"
)
#: the app's hints name its parameters; on the command line they name the flags that set them.
_FLAG_HINTS: dict[type[GanymedeError], str] = {
    SourceNotDetectedError: "name it with --from (e.g. --from en)",
    OutputOverwritesInputError: "choose another -o",
}


def _in_flags(exc: GanymedeError) -> GanymedeError:
    exc.hint = _FLAG_HINTS.get(type(exc), exc.hint)
    return exc


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
    parser.add_argument("--candidates", type=int, default=1, help=CANDIDATES_HELP)
    parser.add_argument(
        "--formality",
        choices=["auto", "formal", "informal"],
        default="auto",
        help="form of address held across the document (Sie/du, vous/tu, ...); auto: formal where the target "
        "language has the distinction",
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


def _languages(args: argparse.Namespace) -> tuple[str, str]:
    """(target, source) as the app takes them, both checked before any model is loaded."""
    if not args.target:
        raise GanymedeError("which language should I translate into?", "add --to, e.g. --to de")
    target = languages.resolve(args.target)
    source = args.source if languages.is_auto(args.source) else languages.resolve(args.source).code
    return target.code, source


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
    target, source = _languages(args)
    glossary = load_glossary(args.glossary)
    backend = load_backend_from_args(args)
    from ganymede.core.prompts import load_prompt

    config = config_from_args(load_prompt(PROMPT).config(), args)
    try:
        with progress_bar("translating", transient=True) as bar:
            result = translate_text(
                backend,
                text,
                target,
                source,
                glossary,
                config,
                progress=lambda done, total: bar.update(done, total),
                candidates=args.candidates,
                formality=args.formality,
            )
    except GanymedeError as exc:
        raise _in_flags(exc) from None
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

    target, source = _languages(args)
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
    for item in readable:
        with progress_bar(f"translating {Path(item).name}", transient=True) as bar:
            try:
                result = translate_file(
                    backend,
                    item,
                    target,
                    source,
                    glossary,
                    config,
                    args.output,
                    args.fmt,
                    args.field,
                    args.column,
                    many,
                    progress=lambda done, total, bar=bar: bar.update(done, total),
                    candidates=args.candidates,
                    formality=args.formality,
                )
            except GanymedeError as exc:  # one bad file is reported; the batch goes on
                result = FileResult(Path(item), error=f"{item}: {_in_flags(exc)}")
        results.append(result)
    for result in results:
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
            continue
        detected = f" (detected {result.detection.describe()})" if result.detection else ""
        print(f"{result.path} -> {result.output}: {result.summary()}{detected}", file=sys.stderr)
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
    parser.add_argument("--candidates", type=int, default=1, help=CANDIDATES_HELP)
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=run_eval_cli)


def run_eval_cli(args: argparse.Namespace) -> int:
    from ganymede.apps.translate.evaluate import read_eval_rows, run_benchmark, save_translations

    rows = read_eval_rows(args.data, args.limit)
    backend = load_backend_from_args(args)
    with progress_bar(f"translating {Path(args.data).name}", transient=True) as bar:
        result = run_benchmark(
            backend,
            rows,
            args.prompt,
            baseline=args.baseline,
            overrides=generation_overrides(args),
            candidates=args.candidates,
            progress=lambda done, total: bar.update(done, total),
        )
    scores = result.scores
    if args.save:
        save_translations(args.save, rows, result)
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
