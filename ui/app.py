"""One Gradio app with a tab per app, chat first, and a settings panel shared by every tab."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ganymede.core import settings
from ganymede.core.errors import GanymedeError

#: (tab label, module). Adding an app's tab = one module in ui/ + one line here.
TABS: tuple[tuple[str, str], ...] = (
    ("Chat", "ganymede.ui.tabs.chat"),
    ("Assistant", "ganymede.ui.tabs.assistant"),
    ("Entities", "ganymede.ui.tabs.ner"),
    ("Translate", "ganymede.ui.tabs.translate"),
    ("Summarize", "ganymede.ui.tabs.summarize"),
    ("Tables", "ganymede.ui.tabs.tables"),
)

UPLOAD_LIMIT = "50mb"


def build_app(model: str | None = None, backend: str | None = None):  # -> gr.Blocks
    import gradio as gr
    from ganymede.ui.shared import build_settings_panel

    with gr.Blocks(title="Ganymede", analytics_enabled=False) as demo:
        gr.Markdown("# Ganymede\nTask-oriented LLM apps on your laptop, or on any OpenAI-compatible server.")
        shared = build_settings_panel(model or settings.default_model(), backend)
        for label, module_name in TABS:
            with gr.Tab(label):
                importlib.import_module(module_name).build(shared)
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
