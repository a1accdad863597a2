"""`ganymede ner` and `ganymede eval ner`: flags in, library calls, results and summaries out."""

from __future__ import annotations

import argparse
import sys
import time

from ganymede.apps.ner.engines import ENGINES, Engine, annotate, load_engine
from ganymede.apps.ner.labels import LabelChoice, parse_labels
from ganymede.core.errors import GanymedeError


def _engine_from_args(args: argparse.Namespace, choice: LabelChoice) -> Engine:
    from ganymede.core.cliargs import model_for, status

    config = None
    if args.engine == "llm":
        from ganymede.core.cliargs import config_from_args
        from ganymede.core.prompts import load_prompt

        config = config_from_args(load_prompt("ner").config(), args)
    with status(f"loading the {args.engine} engine"):
        return load_engine(
            args.engine,
            choice,
            model=model_for(args) if args.engine == "llm" else None,
            backend=args.backend,
            config=config,
            processes=getattr(args, "processes", 1),
        )


def cmd_ner(args: argparse.Namespace) -> int:
    from ganymede.apps.ner import io as ner_io
    from ganymede.core.fileio import write_atomic
    from ganymede.core.progress import run_with_progress

    choice = parse_labels(args.labels)
    fmt = ner_io.format_for(args.output, args.format)
    texts = list(args.text or [])
    if not args.inputs and not texts:
        if sys.stdin.isatty():
            raise GanymedeError("nothing to read", "give files, folders or URLs, --text TEXT, or pipe text in")
        texts.append(sys.stdin.read())
    docs, problems = ner_io.collect(args.inputs, texts)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not docs:
        raise GanymedeError("no readable documents among the inputs", "see the skipped items above")
    engine = _engine_from_args(args, choice)
    started = time.perf_counter()
    run_with_progress(
        len(docs), f"ner ({engine.name})", lambda advance: annotate(docs, engine, choice, advance), unit="docs"
    )
    seconds = time.perf_counter() - started
    content = ner_io.render(docs, fmt)
    if args.output:
        write_atomic(args.output, content)
    else:
        sys.stdout.write(content)
    counts = ner_io.label_counts(docs)
    n_entities = sum(counts.values())
    summary = ", ".join(f"{label} {n}" for label, n in counts.items()) or "none"
    print(
        f"{len(docs)} document(s), {n_entities} entities ({summary}) in {seconds:.2f} s "
        f"({len(docs) / max(seconds, 1e-9):,.1f} docs/s); {len(problems)} input(s) skipped"
        + (f"; wrote {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    stats = getattr(engine, "stats", None)
    if stats is not None and (stats.invented_spans or stats.unparsed_chunks or stats.invalid_items):
        print(
            f"llm: {stats.invented_spans} name(s) not found in the text were dropped, "
            f"{stats.unparsed_chunks} chunk(s) had no JSON answer, {stats.invalid_items} invalid item(s)",
            file=sys.stderr,
        )
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    from ganymede.core.cliargs import add_generation_args, add_model_args

    parser = subparsers.add_parser(
        "ner",
        help="named entities (people, organizations, places...) from text, files, folders or URLs",
        description='Extract named entities. Inputs: .txt, .html (main text extracted), .jsonl ({"text": ...} '
        "per line), folders (searched recursively), http(s) URLs, --text, or stdin.",
    )
    parser.add_argument("inputs", nargs="*", metavar="PATH", help="files, folders or URLs")
    parser.add_argument("--text", action="append", help="literal text to analyse (repeatable)")
    parser.add_argument("--engine", choices=ENGINES, default="spacy", help="default: spacy")
    parser.add_argument(
        "--labels",
        help="conll (PER, LOC, ORG, MISC), ontonotes (spaCy's 18), or labels to keep, e.g. PER,ORG "
        "(default: the engine's own: ontonotes for spacy, conll for news and llm)",
    )
    parser.add_argument("-o", "--output", help="output file (.json, .jsonl, .csv, .conll, .html); default stdout")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="spaCy engines: CPU processes for large batches (e.g. 2 on a 2-core laptop; default 1)",
    )
    parser.add_argument("--format", choices=("json", "jsonl", "csv", "conll", "html"), help="override the format")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=cmd_ner)


def cmd_eval_ner(args: argparse.Namespace) -> int:
    from ganymede.apps.ner.conll import read_conll
    from ganymede.apps.ner.evaluate import run_evaluation
    from ganymede.core.cliargs import print_json

    sentences = read_conll(args.data, limit=args.limit)  # a bad file fails before a model is loaded
    engine = _engine_from_args(args, LabelChoice("conll"))
    result = run_evaluation(sentences, engine, data=args.data, limit=args.limit)
    if not args.json:
        f1, precision, recall = result["f1"], result["precision"], result["recall"]
        print(f"F1 {f1:.4f}  precision {precision:.4f}  recall {recall:.4f}  n {result['n']}")
        for label, s in result["per_label"].items():
            print(f"  {label:6s} F1 {s['f1']:.4f}  (support {s['support']})")
    print_json(result)
    return 0


def add_eval_cli(subparsers: argparse._SubParsersAction) -> None:
    from ganymede.core.cliargs import add_generation_args, add_model_args

    parser = subparsers.add_parser("ner", help="entity-level F1 (seqeval) on a CoNLL-2003 file (IOB1 or IOB2)")
    parser.add_argument("--data", required=True, help="CoNLL file, e.g. ../shared/data/conll2003/eng.testa")
    parser.add_argument("--engine", choices=ENGINES, default="news", help="default: news")
    parser.add_argument("--limit", type=int, help="only the first N sentences")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    add_model_args(parser)
    add_generation_args(parser)
    parser.set_defaults(func=cmd_eval_ner)
