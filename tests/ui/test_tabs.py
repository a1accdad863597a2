"""Every app tab in a real browser on the bundled models (the small one; the assistant on the default one): fill
the inputs or upload a file, run, check the visible result, and save the README screenshot. A bad upload shows a
message, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ganymede.core import settings
from tests.ui.helpers import (
    block,
    choose_model,
    open_tab,
    screenshot,
    shown,
    wait_for_result,
    wait_for_toast,
    wait_until_idle,
)

pytestmark = [pytest.mark.ui, pytest.mark.model]

DEFAULT_MODEL = settings.DEFAULT_MODEL

ARTICLE = (
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday. The two leaders discussed the future of the "
    "European Union with executives from Siemens and Airbus."
)
NOTES = """Ganymede project notes

The Ganymede project mascot is a blue heron named Juniper. Juniper was chosen by a vote of the team in 2023.
The weekly team meeting takes place on Thursday at 10 am in the Europa room.
"""
SALES = "region,amount\nnorth,120\nsouth,80\neast,50\nwest,150\n"


def upload(page: Any, label: str, *paths: Path) -> None:
    block(page, label).locator("input[type=file]").set_input_files([str(p) for p in paths])


def no_traceback(page: Any) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and 'File "' not in text


def test_assistant_indexes_an_upload_and_answers_from_it(page: Any, tmp_path: Path) -> None:
    notes = tmp_path / "project-notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    open_tab(page, "Assistant")
    # The 0.5B model answers retrieval + tool prompts with tool-call JSON; the default 1.5B model answers.
    # Picking it here also shows the shared settings panel at work.
    choose_model(page, DEFAULT_MODEL)
    index_name = page.get_by_label("Document index")
    index_name.fill("ui-test-notes")
    index_name.press("Enter")
    upload(page, "Add documents", notes)
    page.get_by_role("button", name="Index uploaded files").click()
    wait_for_result(page, shown(page.get_by_text("1 added")), "index report")  # the embedder loads on first use
    for tool in ("calculator", "current_datetime"):
        page.get_by_label(tool, exact=True).uncheck()
    page.get_by_label("Question").fill("What is the name of the project mascot?")
    page.get_by_role("button", name="Ask", exact=True).click()
    wait_for_result(page, shown(page.get_by_text("Sources")), "answer")
    wait_until_idle(page)
    panel = page.get_by_role("tabpanel").inner_text()
    answer = panel[panel.index("Ask") : panel.index("Sources")]
    assert "Juniper" in answer
    assert "project-notes.txt" in page.locator("details").first.inner_text()
    assert page.get_by_text("search_documents").count()
    screenshot(page, "assistant")


def test_entities_from_an_uploaded_article(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    open_tab(page, "Entities")
    upload(page, "Upload .txt, .html or .jsonl", article)
    text_box = page.get_by_label("Article")
    page.wait_for_function("el => el.value.includes('Merkel')", arg=text_box.element_handle())
    page.get_by_role("button", name="Extract entities").click()
    wait_for_result(page, shown(page.get_by_role("gridcell", name="Angela Merkel")), "entity table")
    wait_until_idle(page)
    rows = page.get_by_role("tabpanel").inner_text()
    for name in ("Angela Merkel", "Emmanuel Macron", "Paris", "Siemens"):
        assert name in rows
    assert "PER" in rows and "LOC" in rows
    screenshot(page, "entities")


def test_translate_to_german(page: Any) -> None:
    open_tab(page, "Translate")
    page.get_by_label("Text", exact=True).fill("Good morning, my friend. The weather is lovely today.")
    page.get_by_role("button", name="Translate", exact=True).click()
    result = block(page, "Translation").locator("textarea")
    wait_for_result(page, lambda: bool(result.input_value().strip()), "translation")
    wait_until_idle(page)
    german = result.input_value()
    assert any(word in german for word in ("Guten", "Morgen", "Wetter", "heute", "Freund")), german
    assert "English" in page.locator("#translate-detected").inner_text()
    screenshot(page, "translate")


def test_summarize_the_sample_dialogue(page: Any) -> None:
    open_tab(page, "Summarize")
    assert "#Person1#" in page.get_by_label("Dialogue (Speaker: text lines)").input_value()
    page.get_by_role("button", name="Summarize", exact=True).click()
    summary = page.get_by_label("Summary", exact=True)
    wait_for_result(page, lambda: bool(summary.input_value().strip()), "summary")
    wait_until_idle(page)
    assert len(summary.input_value().split()) >= 3
    assert page.get_by_text("chunk(s)").count()
    screenshot(page, "summarize")


def test_tables_answers_a_question_about_an_uploaded_csv(page: Any, tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text(SALES, encoding="utf-8")
    open_tab(page, "Tables")
    upload(page, "Tables (CSV", sales)
    page.get_by_text("Loaded").wait_for()
    page.get_by_label("Question").fill("What is the total of the amount column?")
    page.get_by_role("button", name="Ask", exact=True).click()
    wait_for_result(page, shown(page.get_by_text("Result (")), "sandbox result")
    wait_until_idle(page)
    assert "400" in page.get_by_role("tabpanel").inner_text()
    assert "amount" in page.locator(".cm-content").inner_text()  # the generated code is shown
    screenshot(page, "tables")


def test_a_broken_upload_shows_a_message_not_a_traceback(page: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_text("this is not a spreadsheet", encoding="utf-8")
    open_tab(page, "Tables")
    upload(page, "Tables (CSV", broken)
    message = wait_for_toast(page)
    assert "cannot read as Excel" in message
    no_traceback(page)


def test_an_upload_of_the_wrong_type_is_refused(page: Any, tmp_path: Path) -> None:
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00")
    open_tab(page, "Entities")
    upload(page, "Upload .txt, .html or .jsonl", program)
    assert "Invalid file type" in wait_for_toast(page)
    assert page.get_by_label("Article").input_value() == ""
    no_traceback(page)
