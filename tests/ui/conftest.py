"""Fixtures of the browser tests: `ganymede ui` in a subprocess on the small bundled model, and a headless
Chromium driven by Playwright. The server is session-scoped (the model loads once); its home is the temporary
GANYMEDE_HOME the root conftest sets up, with the model caches linked in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, UIServer, missing


@pytest.fixture(scope="session")
def ui_home(_isolated_home: None) -> Path:
    """The session's temporary GANYMEDE_HOME (models/ and hf/ link to the real caches)."""
    return Path(os.environ["GANYMEDE_HOME"])


@pytest.fixture(scope="session")
def ui_server(ui_home: Path) -> Iterator[UIServer]:
    server = UIServer(ui_home).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (GANYMEDE_CHROMIUM names another)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, ui_server: UIServer) -> Iterator[Any]:
    """A fresh browser page on the app, fully loaded (the tab strip is visible)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(ui_server.url)
    page.get_by_role("tab", name="Chat").wait_for()
    yield page
    context.close()
