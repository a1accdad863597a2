"""The settings panel shared by every tab (model, backend, generation settings) and the glue every tab
uses to turn widget values into a backend and a GenerationConfig, with user-facing errors."""

from __future__ import annotations

import functools
import inspect
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import gradio as gr

from ganymede.core.backends import load_backend
from ganymede.core.backends.base import Backend
from ganymede.core.backends.registry import backend_names
from ganymede.core.catalog import CATALOG
from ganymede.core.errors import GanymedeError
from ganymede.core.generation import GenerationConfig

log = logging.getLogger("ganymede.ui")

T = TypeVar("T")
R = TypeVar("R")
_END = object()


class Worker(Generic[T, R]):
    """The one bridge from a model call to a streaming tab: `run(emit, stopped)` runs on a thread of its own,
    iterating the worker yields what it emits as it emits it, and `.result` is what it returned.

    Gradio advances a generator on whichever worker thread is free and may close it from another (its event
    loop, on a cancel or reset), but a local backend holds its lock (an RLock, owned by one thread) across a
    stream's yields: closed from another thread, the lock is never released and the next model call from any
    other thread hangs. Here the model work runs and ends on one thread; closing the iteration (a Stop)
    sets `stopped`, which `run` checks."""

    def __init__(self, run: Callable[[Callable[[T], None], threading.Event], R]) -> None:
        self._events: queue.Queue[Any] = queue.Queue()
        self._outcome: dict[str, Any] = {}
        self.stopped = threading.Event()

        def work() -> None:
            try:
                self._outcome["value"] = run(self._events.put, self.stopped)
            except Exception as exc:  # re-raised in the consumer, where user_errors shows it
                self._outcome["error"] = exc
            finally:
                self._events.put(_END)

        threading.Thread(target=work, daemon=True, name="ganymede-worker").start()

    def __iter__(self) -> Iterator[T]:
        try:
            while (item := self._events.get()) is not _END:
                yield item
        finally:
            self.stopped.set()
        if "error" in self._outcome:
            raise self._outcome["error"]

    @property
    def result(self) -> R:
        """What `run` returned (read after iterating to the end)."""
        return self._outcome.get("value")


def on_own_thread(items: Iterator[T]) -> Iterator[T]:
    """Iterate `items` (a model stream) on a worker thread and pass the items on; see `Worker`."""

    def run(emit: Callable[[T], None], stopped: threading.Event) -> None:
        try:
            for item in items:
                emit(item)
                if stopped.is_set():
                    break
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    yield from Worker(run)


@dataclass
class Shared:
    """Widgets of the shared settings panel. Pass `shared.inputs` to an event and unpack the values
    (in the same order) with `shared.backend(...)` and `shared.config(...)`."""

    model: gr.Dropdown
    backend_name: gr.Dropdown
    override: gr.Checkbox
    max_new_tokens: gr.Slider
    greedy: gr.Checkbox
    temperature: gr.Slider
    top_k: gr.Slider
    top_p: gr.Slider
    repetition_penalty: gr.Slider

    @property
    def inputs(self) -> list[Any]:
        return [
            self.model,
            self.backend_name,
            self.override,
            self.max_new_tokens,
            self.greedy,
            self.temperature,
            self.top_k,
            self.top_p,
            self.repetition_penalty,
        ]

    @property
    def generation(self) -> list[Any]:
        """The generation settings' widgets, in the order `panel_values` gives their values."""
        return [self.max_new_tokens, self.greedy, self.temperature, self.top_k, self.top_p, self.repetition_penalty]

    def show_when_selected(self, tab: gr.Tab, app_settings: GenerationConfig) -> None:
        """Selecting `tab` shows its app's own settings (those of its prompt file) in the panel: the values it
        uses while 'override' is off, and the starting point for overriding them."""
        values = panel_values(app_settings)
        tab.select(lambda: values, None, self.generation, queue=False, show_progress="hidden", api_visibility="private")


def panel_values(settings: GenerationConfig) -> list[Any]:
    """What the panel's generation widgets show for `settings` (the order of `Shared.generation`)."""
    return [
        settings.max_new_tokens,
        settings.greedy,
        settings.temperature,
        settings.top_k,
        settings.top_p,
        settings.repetition_penalty,
    ]


def model_choices() -> list[str]:
    """The models `ganymede models` lists that can be used: bundled, pulled, the HF cache, Ollama, LM Studio."""
    from ganymede.core.discovery import discover

    bundled = [f"bundled:{name}" for name in CATALOG]
    found = [m.name for m in discover(include_bundled=False, read_info=False) if m.ok]
    return bundled + [name for name in found if name not in bundled]


def build_settings_panel(
    default_model: str, default_backend: str | None, start: GenerationConfig | None = None
) -> Shared:
    """The panel, its generation widgets showing `start` (the first tab's app settings; else the defaults)."""
    base = start or GenerationConfig()
    with gr.Accordion("Model and generation settings (shared by all tabs)", open=False):
        with gr.Row():
            model = gr.Dropdown(
                choices=model_choices(),
                value=default_model,
                allow_custom_value=True,
                label="Model",
                info="what `ganymede models` lists, a .gguf path, hf:ORG/NAME or openai:MODEL@URL",
            )
            # Models pulled or installed meanwhile (`ganymede models pull`, Ollama) show up when the list is opened.
            model.focus(lambda: gr.update(choices=model_choices()), None, model, show_progress="hidden")
            backend_name = gr.Dropdown(
                choices=["auto", *backend_names()], value=default_backend or "auto", label="Backend"
            )
        override = gr.Checkbox(
            value=False,
            label="Override each app's own settings with these",
            info="Off: every app uses the settings tuned in its prompt file",
        )
        with gr.Row():
            max_new_tokens = gr.Slider(16, 4096, value=base.max_new_tokens, step=16, label="Max new tokens")
            greedy = gr.Checkbox(value=base.greedy, label="Greedy (deterministic)")
            temperature = gr.Slider(0.0, 2.0, value=base.temperature, step=0.05, label="Temperature")
        with gr.Row():
            top_k = gr.Slider(0, 200, value=base.top_k, step=1, label="Top-k (0 = off)")
            top_p = gr.Slider(0.05, 1.0, value=base.top_p, step=0.01, label="Top-p")
            repetition_penalty = gr.Slider(
                0.5, 2.0, value=base.repetition_penalty, step=0.05, label="Repetition penalty"
            )
    return Shared(model, backend_name, override, max_new_tokens, greedy, temperature, top_k, top_p, repetition_penalty)


def backend(model: str, backend_name: str, *_: Any) -> Backend:
    """Load (once) the model the panel names; the first load of a model takes seconds."""
    return load_backend(model or None, backend=None if backend_name in {None, "", "auto"} else backend_name)


def config(base: GenerationConfig, *values: Any) -> GenerationConfig:
    """The app's settings, or the panel's when 'override' is ticked. `values` = shared.inputs' values."""
    _, _, override, max_new_tokens, greedy, temperature, top_k, top_p, repetition_penalty = values
    if not override:
        return base
    panel = {
        "max_new_tokens": int(max_new_tokens),
        "greedy": bool(greedy),
        "temperature": float(temperature),
        "top_k": int(top_k),
        "top_p": float(top_p),
        "repetition_penalty": float(repetition_penalty),
    }
    # Only what the user changed counts as given: the panel shows the app's own values, and a slider left
    # there while greedy is ticked is not a setting greedy decoding ignores. (The result is the same.)
    changed = {name: value for name, value in panel.items() if value != getattr(base, name)}
    merged = base.merged(**changed)
    warning = merged.ignored_sampling_warning(changed)
    if warning:
        gr.Warning(warning)  # the server's stderr has it too, once, from merged()
    return merged


def without_upload_folder(message: str) -> str:
    """Uploads are copied into Gradio's temp folder (`/tmp/gradio/<hash>/name.csv`); users know them by the
    name they uploaded, and the server's paths are nobody else's business."""
    from gradio.utils import get_upload_folder

    return re.sub(re.escape(str(get_upload_folder()).rstrip("/")) + r"/[^/\s]+/", "", message)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show errors as readable messages in the UI, never as tracebacks (generators included)."""

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, GanymedeError):
            return gr.Error(without_upload_folder(str(exc)))
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}). Details are in the server log.")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None

    return wrapper
