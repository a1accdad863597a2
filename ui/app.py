"""One Gradio app with a tab per app, chat first, and a settings panel shared by every tab."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import NamedTuple

from ganymede.core import settings
from ganymede.core.errors import GanymedeError


class Tab(NamedTuple):
    label: str
    module: str  # its `build(shared)` lays the tab out
    prompt: str  # the prompt file whose generation settings the shared panel shows on this tab


#: Adding an app's tab = one module in ui/tabs/ + one line here. The first tab is the one shown at start.
TABS: tuple[Tab, ...] = (
    Tab("Chat", "ganymede.ui.tabs.chat", "chat"),
    Tab("Assistant", "ganymede.ui.tabs.assistant", "assistant"),
    Tab("Entities", "ganymede.ui.tabs.ner", "ner"),
    Tab("Translate", "ganymede.ui.tabs.translate", "translate"),
    Tab("Summarize", "ganymede.ui.tabs.summarize", "summarize"),
    Tab("Tables", "ganymede.ui.tabs.tables", "tables"),
)

UPLOAD_LIMIT = "50mb"


def build_app(model: str | None = None, backend: str | None = None):  # -> gr.Blocks
    import gradio as gr

    from ganymede.core.prompts import load_prompt
    from ganymede.ui.shared import build_settings_panel

    # The panel shows the settings of the app on screen: the first tab's at start, then each tab's when selected.
    app_settings = {tab.prompt: load_prompt(tab.prompt).config() for tab in TABS}
    with gr.Blocks(title="Ganymede", analytics_enabled=False) as demo:
        gr.Markdown("# Ganymede\nTask-oriented LLM apps on your laptop, or on any OpenAI-compatible server.")
        shared = build_settings_panel(model or settings.default_model(), backend, app_settings[TABS[0].prompt])
        for tab in TABS:
            with gr.Tab(tab.label) as tab_block:
                importlib.import_module(tab.module).build(shared)
            shared.show_when_selected(tab_block, app_settings[tab.prompt])
    return demo


def parse_auth(auth: str | None) -> list[tuple[str, str]] | None:
    """`user:pass`, or a file with one `user:pass` per line."""
    if not auth:
        return None
    lines = Path(auth).read_text(encoding="utf-8").splitlines() if os.path.isfile(auth) else [auth]
    pairs = [tuple(line.strip().split(":", 1)) for line in lines if ":" in line]
    if not pairs:
        raise GanymedeError(f"no user:pass pairs in --auth {auth!r}", "write user:pass, or a file of such lines")
    return [(user, password) for user, password in pairs]


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    model: str | None = None,
    backend: str | None = None,
    auth: str | None = None,
) -> None:
    credentials = parse_auth(auth)
    if host not in {"127.0.0.1", "localhost", "::1"} and not credentials:
        raise GanymedeError(
            f"refusing to serve the UI on {host} without authentication",
            "add --auth user:pass (or a file of user:pass lines), or bind to 127.0.0.1",
        )
    demo = build_app(model, backend)
    demo.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        auth=credentials,
        max_file_size=UPLOAD_LIMIT,
        show_error=False,
        footer_links=["api"],
    )
