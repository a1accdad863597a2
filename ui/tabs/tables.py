"""Pandas tab: upload tables (one or several), preview, ask in plain English, read the checked answer
sentence, edit the generated code, run it in the sandbox, see the value, table or chart, and download it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ganymede.apps.tables import io as table_io
from ganymede.apps.tables import pandas_code
from ganymede.core.prompts import load_prompt
from ganymede.ui import shared as sh


def build(shared: sh.Shared) -> None:
    spec = load_prompt(pandas_code.PROMPT)
    with gr.Row():
        with gr.Column(scale=2):
            files = gr.File(
                label="Tables (CSV, TSV, Excel, Parquet, JSON)",
                file_count="multiple",
                file_types=list(table_io.READERS),
            )
            preview = gr.Dataframe(label="Preview (first 20 rows of the first table)", interactive=False)
            tables_note = gr.Markdown()
            question = gr.Textbox(label="Question", placeholder="What is the mean of every column?", lines=2)
            with gr.Row():
                sample_rows = gr.Slider(0, 10, value=3, step=1, label="Sample rows shown to the model (0: none)")
                retries = gr.Slider(0, 4, value=2, step=1, label="Self-repair attempts")
            ask_btn = gr.Button("Ask", variant="primary")
        with gr.Column(scale=3):
            code = gr.Code(label="Code (edit it and press Run)", language="python", interactive=True)
            run_btn = gr.Button("Run code in the sandbox")
            answer_text = gr.Markdown()
            status = gr.Markdown()
            result_table = gr.Dataframe(label="Result", interactive=False)
            charts = gr.Gallery(label="Charts", columns=2, height=320)
            downloads = gr.File(label="Download", file_count="multiple", interactive=False)

    def paths_of(uploaded: list[Any] | None) -> list[str]:
        return [getattr(f, "name", f) for f in uploaded or []]

    @sh.user_errors
    def show_preview(uploaded: list[Any] | None) -> tuple[Any, str]:
        paths = paths_of(uploaded)
        if not paths:
            return None, ""
        tables = table_io.load_tables(paths)
        names = ", ".join(f"`{name}` ({len(t)} rows x {t.shape[1]} columns)" for name, t in tables.items())
        if len(tables) == 1:
            seen = "the code sees it as `df`"
        else:
            seen = f"the code sees each by its name (and `{next(iter(tables))}` also as `df`), joined with pd.merge"
        return next(iter(tables.values())).head(20), f"Loaded {names}; {seen}."

    def present(answer: pandas_code.Answer) -> tuple[str, str, str, Any, list[str], list[str]]:
        folder = Path(tempfile.mkdtemp(prefix="ganymede-pandas-"))
        files_out = [str(p) for p in pandas_code.write_downloads(answer, folder)]
        pngs = [str(p) for p in files_out if p.endswith(".png")]
        tries = f" after {len(answer.attempts)} attempts" if len(answer.attempts) > 1 else ""
        if not answer.ok:
            return answer.code, "", f"**Not run or failed{tries}:** {answer.error}", None, [], files_out
        result = answer.result
        assert result is not None
        # The sentence sits above the evidence; a dropped one says why, so the user reads the result itself.
        said = (
            f"### {answer.sentence}"
            if answer.sentence
            else (f"*{answer.sentence_note}*" if answer.sentence_note else "")
        )
        shown = "" if result.kind in ("dataframe", "series", "chart") else f" `{str(result.value)[:300]}`"
        chart = f" {answer.chart_description}" if answer.chart_description else ""
        message = f"**Result** ({result.kind}{tries}, {result.seconds:.1f} s in the sandbox):{shown}{chart}"
        return answer.code, said, message, pandas_code.result_as_frame(result), pngs, files_out

    @sh.user_errors
    def ask(uploaded: list[Any] | None, text: str, rows: float, repairs: float, *settings: Any):
        paths = paths_of(uploaded)
        if not paths:
            raise gr.Error("Upload a table first.")
        tables = table_io.load_tables(paths)
        backend = sh.backend(*settings)
        config = sh.config(spec.config(), *settings)
        yield gr.update(), "", "*Writing code…*", gr.update(), gr.update(), gr.update()
        answer = pandas_code.ask(
            backend, text, tables, config, sample_rows=int(rows), retries=int(repairs), explain=True
        )
        yield present(answer)

    @sh.user_errors
    def run(uploaded: list[Any] | None, edited: str):
        paths = paths_of(uploaded)
        if not paths:
            raise gr.Error("Upload a table first.")
        if not (edited or "").strip():
            raise gr.Error("There is no code to run.")
        return present(pandas_code.run_user_code(edited, table_io.load_tables(paths)))

    outputs = [code, answer_text, status, result_table, charts, downloads]
    files.change(show_preview, files, [preview, tables_note])
    ask_btn.click(ask, [files, question, sample_rows, retries, *shared.inputs], outputs)
    question.submit(ask, [files, question, sample_rows, retries, *shared.inputs], outputs)
    run_btn.click(run, [files, code], outputs)
