"""The server under test, the browser settings, and page helpers shared by the browser tests: find a
component by its label, set the shared settings, read toasts, save the README screenshots."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ganymede.core import settings

CHROMIUM = os.environ.get("GANYMEDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOTS = settings.repo_root() / "docs" / "screenshots"
#: How long a model-backed action may take to show its result (ms); generous for a busy 2-core machine.
MODEL_TIMEOUT = int(float(os.environ.get("GANYMEDE_UI_TIMEOUT", "300")) * 1000)


def missing(what: str) -> None:
    """Skip on a developer machine, fail in CI: there `make test` must really run the browser tests."""
    message = f"{what}; `.ci/run` installs it (apt-get install chromium; pip install playwright)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UIServer:
    """`ganymede ui` in a subprocess; `restart()` stops it and starts it again on the same home and port."""

    def __init__(self, home: Path, extra_args: list[str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.extra_args = extra_args or []
        self.log = home / f"ui-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> UIServer:
        env = {
            **os.environ,
            "GANYMEDE_HOME": str(self.home),
            "GANYMEDE_MODEL": settings.SMALL_MODEL,
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_TEMP_DIR": str(self.home / "gradio-uploads"),
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "ganymede.cli", "ui", "--port", str(self.port), *self.extra_args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.repo_root(), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"`ganymede ui` exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url, timeout=2).status_code in (200, 401):
                    return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"`ganymede ui` did not answer on {self.url} in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"


def block(page: Any, label: str) -> Any:
    """The innermost component block whose label starts with `label` (labels are unique per tab)."""
    label_locator = page.locator("[data-testid=block-label], [data-testid=block-info]").filter(has_text=label)
    return page.locator(".block").filter(has=label_locator).last


def open_tab(page: Any, name: str) -> Any:
    """Select the tab; returns its panel (the only tab panel in the accessibility tree)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    page.wait_for_function("el => el.getAttribute('aria-selected') === 'true'", arg=tab.element_handle())
    return page.get_by_role("tabpanel")


def use_settings(page: Any, max_new_tokens: int | None = None, greedy: bool = True) -> None:
    """Tick 'override' in the shared panel (greedy, short answers keep the tests fast), then fold it again."""
    page.get_by_text("Model and generation settings").click()
    page.get_by_label("Override each app's own settings with these").check()
    if greedy:
        page.get_by_label("Greedy (deterministic)").check()
    if max_new_tokens is not None:
        number = page.get_by_label("number input for Max new tokens")
        number.fill(str(max_new_tokens))
        number.press("Enter")
    page.get_by_text("Model and generation settings").click()


def choose_model(page: Any, model: str) -> None:
    """Pick the model in the shared settings panel (the dropdown takes any model reference)."""
    page.get_by_text("Model and generation settings").click()
    field = page.get_by_label("Model", exact=True)
    field.fill(model)
    field.press("Enter")
    page.get_by_text("Model and generation settings").click()


def toasts(page: Any) -> list[str]:
    return [t.inner_text() for t in page.get_by_test_id("toast-body").all()]


def error_badges(page: Any) -> int:
    """Components showing Gradio's red "Error" badge (an event that ended in an error)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=status-tracker]')]"
        ".filter(e => !e.classList.contains('hide') && e.innerText.includes('Error')).length"
    )


def wait_for_toast(page: Any, timeout: float = 30_000) -> str:
    page.get_by_test_id("toast-body").first.wait_for(timeout=timeout)
    return "\n".join(toasts(page))


def fail_on_error(page: Any) -> None:
    if error_badges(page):
        raise AssertionError(f"the page shows an error: {toasts(page) or '(no message)'}")


def wait_for_result(page: Any, ready: Callable[[], bool], what: str, timeout: float = MODEL_TIMEOUT) -> None:
    """Poll until `ready()`; fail at once, with the page's message, when an event ends in an error."""
    deadline = time.monotonic() + timeout / 1000
    while not ready():
        fail_on_error(page)
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout / 1000:.0f} s")
        page.wait_for_timeout(250)


def shown(locator: Any) -> Callable[[], bool]:
    return lambda: locator.first.is_visible()


def wait_until_idle(page: Any, timeout: float = MODEL_TIMEOUT) -> None:
    """Wait until no component shows Gradio's progress overlay (every event has finished), or one shows an error."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=status-tracker]')].every(e =>
            e.classList.contains('hide') || e.innerText.includes('Error'))""",
        timeout=timeout,
    )
    fail_on_error(page)


def screenshot(page: Any, name: str) -> None:
    """docs/screenshots/<name>.png for the README: what a user sees once the result is shown."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover effects in the picture
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")
