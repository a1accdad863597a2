"""Ganymede's apps. Each module is preprocess -> model call -> postprocess, with no UI code and no CLI parsing
beyond `add_cli(subparsers)` (and optionally `add_eval_cli(subparsers)`).

Adding an app = one module here + one line in APPS + one prompt file + one UI tab."""

#: app modules in the order their commands and tabs appear. Top-level imports in them must stay light.
APPS: tuple[str, ...] = (
    "apps.chat",
    "apps.assistant",
    "apps.ner",
    "apps.translate",
    "apps.summarize",
    "apps.pandas_code",
)
