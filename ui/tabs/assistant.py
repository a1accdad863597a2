"""Assistant tab: upload documents into an index, ask, watch retrieval and tool calls step by step, and jump
from each [n] citation in the answer to its passage."""

from __future__ import annotations

import html
import re
from typing import Any

import gradio as gr

from ganymede.apps.assistant import assistant, index
from ganymede.apps.assistant.tools import DEFAULT_TOOLS, SELECTABLE_TOOLS, Step, build_registry
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh


def _steps_markdown(steps: list[Step]) -> str:
    if not steps:
        return "*No tool calls yet.*"
    parts = []
    for number, step in enumerate(steps, 1):
        status = "" if step.ok else " — failed"
        args = str(step.arguments).replace("`", "'")  # shown in a code span, where HTML entities would show as such
        parts.append(f"**{number}. `{step.tool}`**{status}  \n`{args}`\n\n```text\n{step.result[:1500]}\n```")
    return "\n\n".join(parts)


def _answer_html(answer: assistant.Answer) -> str:
    """The answer with [n] linked to its passage below, then the cited passages with their file and chunk."""
    text = html.escape(answer.text).replace("\n", "<br>")
    refs = {s["ref"] for s in answer.sources}
    text = re.sub(
        r"\[(\d+)\]",
        lambda m: f'<a href="#ganymede-passage-{m.group(1)}">[{m.group(1)}]</a>' if int(m.group(1)) in refs else m[0],
        text,
    )
    notes = []
    if answer.stopped:
        notes.append(f"<p><em>{html.escape(answer.stopped)}</em></p>")
    if answer.hit_step_limit:
        notes.append("<p><em>Stopped at the tool step limit.</em></p>")
    sources = "".join(
        f'<details id="ganymede-passage-{s["ref"]}" open><summary>[{s["ref"]}] {html.escape(s["citation"])}</summary>'
        f"<p>{html.escape(s['text'])}</p></details>"
        for s in answer.sources
    )
    return f"<div>{text}</div>{''.join(notes)}" + (f"<h4>Sources</h4>{sources}" if sources else "")


def build(shared: sh.Shared) -> None:
    spec = load_prompt(assistant.PROMPT)
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            index_name = gr.Dropdown(
                choices=index.list_indexes(),
                value=(index.list_indexes() or [None])[0],
                allow_custom_value=True,
                label="Document index",
                info="pick one, or type a new name and upload files",
            )
            uploads = gr.File(
                label="Add documents", file_count="multiple", file_types=list(index.SUPPORTED), type="filepath"
            )
            upload_btn = gr.Button("Index uploaded files", size="sm")
            index_note = gr.Markdown()
            tools = gr.CheckboxGroup(list(SELECTABLE_TOOLS), value=list(DEFAULT_TOOLS), label="Tools")
            k = gr.Slider(1, 10, value=4, step=1, label="Passages to retrieve (k)")
            max_steps = gr.Slider(1, 8, value=assistant.DEFAULT_STEPS, step=1, label="Tool step limit")
        with gr.Column(scale=3):
            question = gr.Textbox(label="Question", placeholder="Ask about your documents", lines=2)
            with gr.Row():
                ask_btn = gr.Button("Ask", variant="primary")
            answer_box = gr.HTML(label="Answer")
            with gr.Accordion("Retrieval and tool calls, step by step", open=True):
                steps_box = gr.Markdown("*No tool calls yet.*")

    @sh.user_errors
    def add_files(name: str | None, files: list[str] | None) -> tuple[Any, str]:
        if not name:
            raise gr.Error("Name the index first.")
        if not files:
            raise gr.Error("Choose files to upload first.")
        report = index.add_uploads(name, files)
        skipped = "".join(f"\n- skipped: {s}" for s in report.skipped)
        return gr.update(choices=index.list_indexes(), value=name), report.summary() + skipped

    @sh.user_errors
    def answer(name: str | None, text: str, chosen: list[str], k_value: float, steps_value: float, *settings: Any):
        if not text.strip():
            raise gr.Error("Type a question first.")
        doc_index = index.open_index(name, must_exist=True) if name else None
        backend = sh.backend(*settings)
        registry = build_registry(chosen, index=doc_index, backend=backend, skip_unavailable=True)
        left_out = sorted(set(chosen) - set(registry.names()))
        if left_out:
            gr.Warning(f"Not available here: {', '.join(left_out)}")
        config = sh.config(spec.config(), *settings)
        job = sh.Worker(
            lambda emit, _stopped: assistant.ask(
                backend,
                text,
                index=doc_index,
                registry=registry,
                config=config,
                k=int(k_value),
                max_steps=int(steps_value),
                confirm=None,  # the UI has no confirmation dialog yet: side-effect tools are refused
                on_step=emit,
                on_text=emit,  # answer text arrives as str deltas, tool steps as Step: one live feed
            )
        )
        steps: list[Step] = []
        live = ""
        yield "<p><em>Working…</em></p>", _steps_markdown(steps)
        for item in job:
            if isinstance(item, Step):
                steps.append(item)
            else:
                live += item
            shown = html.escape(live).replace("\n", "<br>") if live else "<em>Working…</em>"
            yield f"<p>{shown}</p>", _steps_markdown(steps)
        final = job.result
        yield _answer_html(final), _steps_markdown(final.steps)

    upload_btn.click(add_files, [index_name, uploads], [index_name, index_note])
    # Indexes made meanwhile (`ganymede index` in a shell, another browser tab) show up when the list is opened.
    index_name.focus(lambda: gr.update(choices=index.list_indexes()), None, index_name, show_progress="hidden")
    inputs = [index_name, question, tools, k, max_steps, *shared.inputs]
    ask_btn.click(answer, inputs, [answer_box, steps_box])
    question.submit(answer, inputs, [answer_box, steps_box])
