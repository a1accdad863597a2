"""Errors shown in the UI: readable, and naming an upload by its own file name, not the server's temp path."""

from __future__ import annotations

import gradio as gr
import pytest
from gradio.utils import get_upload_folder

from ganymede.core.errors import InputFileError
from ganymede.ui.shared import user_errors

pytestmark = pytest.mark.ui


def test_an_upload_error_names_the_file_not_the_temp_folder() -> None:
    uploaded = f"{get_upload_folder()}/3f9a0c2b1d/sales.csv"

    @user_errors
    def handler() -> None:
        raise InputFileError(f"{uploaded} line 3: 2 fields, expected 4", "fix the row or remove it")

    with pytest.raises(gr.Error) as caught:
        handler()
    message = str(caught.value.message)
    assert "sales.csv line 3: 2 fields, expected 4" in message and "fix the row" in message
    assert str(get_upload_folder()) not in message


def test_an_unexpected_error_is_a_message_not_a_traceback() -> None:
    @user_errors
    def handler() -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(gr.Error, match="Something went wrong"):
        handler()
