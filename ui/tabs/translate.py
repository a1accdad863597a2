"""Translate tab: source/target pickers, detected language, side-by-side text, file upload and download."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ganymede.apps.translate import languages
from ganymede.apps.translate.files import translate_file
from ganymede.apps.translate.formats import FORMATS
from ganymede.apps.translate.glossary import Glossary, parse_glossary
from ganymede.apps.translate.translator import PROMPT, translate_text
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh

AUTO = "Detect automatically"
NAMES = [lang.name for lang in languages.LANGUAGES]
FORMALITY = ["auto", "formal", "informal"]


def _source(choice: str) -> str | None:
    return None if choice == AUTO else choice


def _glossary(text: str) -> Glossary:
    return parse_glossary(text or "", "the glossary box")


def build(shared: sh.Shared) -> None:
    spec = load_prompt(PROMPT)
    with gr.Row():
        source = gr.Dropdown(choices=[AUTO, *NAMES], value=AUTO, label="From", allow_custom_value=True)
        target = gr.Dropdown(choices=NAMES, value="German", label="To", allow_custom_value=True)
        formality = gr.Radio(
            choices=FORMALITY,
            value=FORMALITY[0],
            label="Form of address",
            info="held across the text: Sie/du, vous/tu, usted/tú (auto: formal where the language has both)",
        )
    detected = gr.Markdown(elem_id="translate-detected")
    with gr.Row():
        text = gr.Textbox(label="Text", lines=10, placeholder="Paste text; paragraphs are translated one by one")
        result = gr.Textbox(label="Translation", lines=10, interactive=False, buttons=["copy"])
    with gr.Accordion("Glossary / do-not-translate list", open=False):
        glossary = gr.Textbox(
            label="One entry a line",
            lines=4,
            placeholder="Ganymede            (kept as it is)\nlaptop = Notebook   (always translated this way)",
        )
    translate_btn = gr.Button("Translate", variant="primary")
    notes = gr.Markdown()
    with gr.Accordion("Translate a file (txt, md, srt, vtt, jsonl, csv)", open=False):
        with gr.Row():
            upload = gr.File(label="File", file_types=[f".{f}" for f in FORMATS] + [".markdown", ".tsv"])
            download = gr.File(label="Translated file", interactive=False)
        with gr.Row():
            field = gr.Textbox(value="text", label="JSONL field")
            column = gr.Textbox(label="CSV column (name or number; empty = guess)")
        file_btn = gr.Button("Translate file", variant="secondary")
        file_notes = gr.Markdown()

    @sh.user_errors
    def run_text(body: str, src: str, tgt: str, gloss: str, form: str, progress=gr.Progress(), *settings: Any):  # noqa: B008 (Gradio passes it only before *settings)
        if not body.strip():
            raise gr.Error("Type or paste some text first.")
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        done = translate_text(
            backend,
            body,
            tgt,
            _source(src),
            _glossary(gloss),
            config,
            progress=lambda i, n: progress((i, n), desc="translating paragraphs"),
            formality=form or "auto",
        )
        found = f"Detected: **{done.detection.describe()}**" if done.detection else f"From **{done.source.name}**"
        missing = [f"glossary term *{e.term}* not rendered as *{e.translation}*" for e in done.glossary_missing]
        return done.text, found, "\n".join(f"- {m}" for m in missing)

    @sh.user_errors
    def run_file(
        file: str | None,
        src: str,
        tgt: str,
        gloss: str,
        form: str,
        field_name: str,
        col: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio passes it only before *settings)
        *settings: Any,
    ):
        if not file:
            raise gr.Error("Upload a file first.")
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        out_dir = Path(tempfile.mkdtemp(prefix="ganymede-translate-"))
        done = translate_file(
            backend,
            file,
            tgt,
            _source(src),
            _glossary(gloss),
            config,
            output=out_dir,
            field_name=field_name or "text",
            column=col or None,
            many=True,
            progress=lambda i, n: progress((i, n), desc="translating segments"),
            formality=form or "auto",
        )
        found = f"Detected: **{done.detection.describe()}**" if done.detection else f"From **{done.source.name}**"
        lines = [f"{done.summary()}."] + [f"- {issue}" for issue in done.issues]
        return str(done.output), found, "\n".join(lines)

    text_inputs = [text, source, target, glossary, formality, *shared.inputs]
    # a stable name for scripts (gradio_client); see the README's Web UI section
    translate_btn.click(run_text, text_inputs, [result, detected, notes], api_name="translate")
    text.submit(run_text, text_inputs, [result, detected, notes])
    file_btn.click(
        run_file,
        [upload, source, target, glossary, formality, field, column, *shared.inputs],
        [download, detected, file_notes],
    )
