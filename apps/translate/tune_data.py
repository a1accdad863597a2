"""Training data for `ganymede tune translate`: an evaluation-format record -> the app's prompt and the
reference translation."""

from __future__ import annotations

from typing import Any

from ganymede.core.tuning import DataAdapter, RecordError


def translate_example(record: dict[str, Any], name: str, options: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """Translate's evaluation format {source, reference, source_lang, target_lang}: the translate app's prompt
    (with its worked examples for the pair, as at inference) -> the reference translation."""
    from ganymede.apps.translate import languages
    from ganymede.apps.translate.translator import PROMPT, build_messages
    from ganymede.core.prompts import load_prompt

    missing = [k for k in ("source", "reference", "source_lang", "target_lang") if not isinstance(record.get(k), str)]
    if missing:
        raise RecordError(f"missing {', '.join(missing)}")
    source, target = languages.resolve(record["source_lang"]), languages.resolve(record["target_lang"])
    return build_messages(load_prompt(PROMPT), record["source"], source, target), record["reference"].strip()


def translate_prompt(options: dict[str, Any]) -> dict[str, Any]:
    from ganymede.apps.translate.translator import PROMPT

    return {"name": PROMPT}


tune_data = DataAdapter(
    "translate", "source + reference + source_lang + target_lang", translate_example, translate_prompt
)
