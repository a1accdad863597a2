"""NER tab: paste or upload an article, pick an engine, see highlighted entities, a table, counts, and download."""

from __future__ import annotations

import tempfile
from typing import Any

import gradio as gr

from ganymede.apps.ner import io as ner_io
from ganymede.apps.ner.engines import annotate_text, load_engine
from ganymede.apps.ner.labels import parse_labels
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh

LABEL_CHOICES = [("engine's own labels", ""), ("CoNLL (PER, LOC, ORG, MISC)", "conll"), ("OntoNotes (18)", "ontonotes")]


def build(shared: sh.Shared) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(label="Article", lines=12, placeholder="Paste a news article, or upload a file below")
            upload = gr.File(label="Upload .txt, .html or .jsonl", file_types=[".txt", ".html", ".htm", ".jsonl"])
            with gr.Row():
                engine = gr.Radio(
                    choices=[
                        ("spaCy (fast, 18 labels)", "spacy"),
                        ("news (CoNLL-trained)", "news"),
                        ("LLM (few-shot)", "llm"),
                    ],
                    value="news",
                    label="Engine",
                )
                labels = gr.Dropdown(choices=LABEL_CHOICES, value="", label="Labels")
            extract = gr.Button("Extract entities", variant="primary")
        with gr.Column(scale=3):
            highlighted = gr.HighlightedText(label="Entities", combine_adjacent=False, show_legend=True)
            counts = gr.Dataframe(headers=["label", "count"], label="Counts per label", interactive=False)
            table = gr.Dataframe(
                headers=["text", "label", "start", "end", "engine"], label="Entities", interactive=False, wrap=True
            )
            with gr.Row():
                fmt = gr.Dropdown(choices=list(ner_io.OUTPUT_FORMATS), value="json", label="Download format")
                download = gr.File(label="Download", interactive=False)
    doc_state = gr.State(None)

    @sh.user_errors
    def load_file(path: str | None) -> Any:
        return gr.update() if not path else ner_io.text_from_file(path)

    @sh.user_errors
    def run(article: str, engine_name: str, label_choice: str, out_fmt: str, progress=gr.Progress(), *settings: Any):  # noqa: B008 (Gradio passes it only before *settings)
        choice = parse_labels(label_choice or None)
        progress(0, desc=f"running the {engine_name} engine")
        backend = sh.backend(*settings) if engine_name == "llm" else None
        config = sh.config(load_prompt("ner").config(), *settings) if engine_name == "llm" else None
        engine_obj = load_engine(engine_name, choice, config=config, backend_obj=backend)
        doc = annotate_text(article, engine_obj, choice)
        stats = getattr(engine_obj, "stats", None)
        if stats is not None and stats.invented_spans:
            gr.Warning(f"{stats.invented_spans} name(s) the model gave are not in the text and were dropped.")
        path = ner_io.export(doc, out_fmt, tempfile.mkdtemp(prefix="ganymede-ner-"))
        return ner_io.highlighted(doc), ner_io.count_rows(doc), ner_io.entity_rows(doc), str(path), doc

    @sh.user_errors
    def redownload(doc: Any, out_fmt: str) -> Any:
        if doc is None:
            return None
        return str(ner_io.export(doc, out_fmt, tempfile.mkdtemp(prefix="ganymede-ner-")))

    upload.upload(load_file, upload, text)
    extract.click(run, [text, engine, labels, fmt, *shared.inputs], [highlighted, counts, table, download, doc_state])
    fmt.change(redownload, [doc_state, fmt], download)
