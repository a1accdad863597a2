"""Summarize tab: paste a dialogue or upload files, pick zero/one/few-shot and settings, see the summary;
compare zero-shot with few-shot (ROUGE when a reference is given); download batch results."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ganymede.apps.summarize.dialogue_io import FORMATS
from ganymede.apps.summarize.evaluate import compare_shots
from ganymede.apps.summarize.outputs import OUTPUT_FORMATS
from ganymede.apps.summarize.summarizer import (
    DEFAULT_MAX_WORDS,
    PROMPT,
    STRATEGIES,
    build_summarizer,
    collect,
    load_examples,
    run_batch,
    summarize_text,
)
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh

SAMPLE = """#Person1#: Hi, I'd like to return these shoes. They're too small.
#Person2#: Do you have the receipt?
#Person1#: Yes, here it is. Could I get a bigger size instead?
#Person2#: Sure, we have a size 9 in stock. I'll get them for you."""


def build(shared: sh.Shared) -> None:
    spec = load_prompt(PROMPT)
    with gr.Row():
        with gr.Column(scale=3):
            dialogue = gr.Textbox(label="Dialogue (Speaker: text lines)", lines=12, value=SAMPLE)
            reference = gr.Textbox(label="Reference summary (optional, for ROUGE in the compare view)", lines=2)
            uploads = gr.File(
                label="Or upload dialogues (.txt, .json, .jsonl, .csv, .srt, .vtt)",
                file_count="multiple",
                file_types=[f".{fmt}" for fmt in FORMATS],
            )
        with gr.Column(scale=2):
            shots = gr.Slider(0, 8, value=len(spec.examples), step=1, label="Shots (0 = zero-shot)")
            pool = gr.File(label="Examples pool (JSONL: dialogue, summary), optional", file_types=[".jsonl", ".json"])
            strategy = gr.Dropdown(list(STRATEGIES), value="auto", label="Long dialogues")
            max_words = gr.Slider(5, 120, value=DEFAULT_MAX_WORDS, step=1, label="Target length (words)")
            out_fmt = gr.Radio(list(OUTPUT_FORMATS), value="jsonl", label="Download format (files)")
    with gr.Row():
        run_btn = gr.Button("Summarize", variant="primary")
        compare_btn = gr.Button("Compare zero-shot vs few-shot")
        files_btn = gr.Button("Summarize uploaded files")
    summary = gr.Textbox(label="Summary", lines=3, interactive=False)
    info = gr.Markdown()
    with gr.Row():
        zero_box = gr.Textbox(label="Zero-shot", lines=3, interactive=False)
        few_box = gr.Textbox(label="Few-shot", lines=3, interactive=False)
    scores = gr.Markdown()
    table = gr.Dataframe(headers=["source", "summary"], label="Results", interactive=False, wrap=True)
    download = gr.File(label="Download", interactive=False)

    def pool_examples(pool_file: Any) -> list[dict[str, str]] | None:
        return load_examples(pool_file) if pool_file else None

    @sh.user_errors
    def run(text: str, k: int, pool_file: Any, strat: str, words: int, *settings: Any) -> tuple[str, str]:
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        result = summarize_text(backend, text, int(k), pool_examples(pool_file), config, strat, int(words))
        note = (
            f"{result.strategy}, {result.chunks} chunk(s), {result.prompt_tokens} prompt tokens, {result.seconds:.1f} s"
        )
        return result.summary, note

    @sh.user_errors
    def compare(text: str, ref: str, k: int, pool_file: Any, words: int, *settings: Any) -> tuple[str, str, str]:
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        k = max(int(k), 1)
        results = compare_shots(backend, text, k, pool_examples(pool_file), config, int(words), ref)
        zero, few = results["zero-shot"], results[f"{k}-shot"]
        if "rouge" not in zero:
            return zero["summary"], few["summary"], "*Give a reference summary to see ROUGE.*"
        rows = "\n".join(
            f"| {label} | " + " | ".join(f"{r['rouge'][key]:.3f}" for key in ("rouge1", "rouge2", "rougeL")) + " |"
            for label, r in results.items()
        )
        return zero["summary"], few["summary"], "| prompt | ROUGE-1 | ROUGE-2 | ROUGE-L |\n|---|---|---|---|\n" + rows

    @sh.user_errors
    def run_files(
        files: list[Any] | None,
        k: int,
        pool_file: Any,
        strat: str,
        words: int,
        fmt: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio passes it only before *settings)
        *settings: Any,
    ) -> tuple[list[list[str]], str | None, str]:
        if not files:
            raise gr.Error("Upload one or more dialogue files first.")
        dialogues, problems = collect([str(f) for f in files])
        if not dialogues:
            raise gr.Error("No readable dialogues: " + "; ".join(reason for _, reason in problems))
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        summarizer, _ = build_summarizer(
            backend, config=config, shots=int(k), examples_path=pool_file or None, strategy=strat, max_words=int(words)
        )
        out = Path(tempfile.mkdtemp(prefix="ganymede-summaries-")) / f"summaries.{fmt}"
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress(done[0] / len(dialogues), desc=f"{done[0]}/{len(dialogues)} dialogues")

        report = run_batch(summarizer, dialogues, str(out), fmt, resume=False, advance=advance)
        rows = [[Path(r["source"]).name, r["summary"]] for r in report.records]
        failed = [*problems, *report.failed]
        note = f"{len(report.done)} done, {len(failed)} failed" + "".join(
            f"\n- {Path(source).name}: {reason}" for source, reason in failed
        )
        return rows, str(out) if report.records else None, note

    run_btn.click(
        run, [dialogue, shots, pool, strategy, max_words, *shared.inputs], [summary, info], api_name="summarize"
    )
    compare_btn.click(
        compare, [dialogue, reference, shots, pool, max_words, *shared.inputs], [zero_box, few_box, scores]
    )
    files_btn.click(
        run_files, [uploads, shots, pool, strategy, max_words, out_fmt, *shared.inputs], [table, download, info]
    )
