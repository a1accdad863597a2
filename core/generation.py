"""Decoding settings, validated once so every backend can trust them."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganymede.core.errors import InvalidSettingsError

#: The settings only sampling uses: greedy decoding (greedy=True, or temperature 0) ignores them.
SAMPLING_SETTINGS = ("temperature", "top_k", "top_p")


class IgnoredSettingWarning(UserWarning):
    """A sampling setting was given explicitly to a config that decodes greedily, which ignores it."""


class GenerationConfig(BaseModel):
    """How to decode. Greedy ignores temperature/top-k/top-p; sampling uses them (see `merged`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(512, ge=1, le=32768)
    greedy: bool = False
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_k: int = Field(40, ge=0, le=1000, description="0 disables top-k filtering")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, ge=0.5, le=2.0)
    seed: int | None = Field(None, ge=0)
    stop: tuple[str, ...] = ()
    #: Constrain the reply to this JSON schema (llama.cpp: a grammar; OpenAI: response_format). A backend that
    #: cannot constrain decoding generates freely and the caller parses (core.toolcalls.first_json).
    json_schema: dict[str, Any] | None = None

    @classmethod
    def build(cls, **values: Any) -> GenerationConfig:
        """Validate user-facing values; errors name the setting and the allowed range."""
        if isinstance(values.get("stop"), str):
            values["stop"] = (values["stop"],)
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidSettingsError(_describe(exc)) from None

    def merged(self, **overrides: Any) -> GenerationConfig:
        """A copy with the non-None overrides applied (CLI flags and UI sliders win).

        A sampling setting (temperature, top_k, top_p) given here while the result still decodes greedily
        would change nothing; rather than ignore it silently, this warns (IgnoredSettingWarning, a Python
        warning: printed on stderr, once per call site), as transformers does for `do_sample=False` with a
        temperature. The setting is kept in the config all the same (the call log shows what was asked), and
        decoding stays greedy: greedy=False (`--sample`) is what turns sampling on."""
        given = {k: v for k, v in overrides.items() if v is not None}
        merged = GenerationConfig.build(**{**self.model_dump(), **given})
        warning = merged.ignored_sampling_warning(given)
        if warning:
            warnings.warn(warning, IgnoredSettingWarning, stacklevel=2)
        return merged

    def ignored_sampling_warning(self, given: Mapping[str, Any]) -> str | None:
        """Why the sampling settings in `given` have no effect on this config, or None when they all do (or
        none is given). Temperature 0 is itself a way to ask for greedy decoding, so it is never reported."""
        if not self.is_greedy:
            return None
        ignored = [
            f"{name}={given[name]!r}"
            for name in SAMPLING_SETTINGS
            if given.get(name) is not None and not (name == "temperature" and given[name] == 0)
        ]
        if not ignored:
            return None
        if self.greedy:
            why, fix = "greedy=True", "set greedy=False"
        else:
            why, fix = "temperature=0", "set a temperature above 0"
        plural = "s" if len(ignored) > 1 else ""
        return f"generation setting{plural} {', '.join(ignored)} ignored: decoding is greedy ({why}); {fix} to sample"

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0.0


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        ctx = err.get("ctx") or {}
        bounds = ", ".join(f"{k} {v}" for k, v in ctx.items() if k in {"ge", "gt", "le", "lt"})
        got = err.get("input")
        detail = f"invalid generation setting {field}={got!r}: {err['msg']}"
        if bounds:
            detail += f" (allowed: {bounds})"
        parts.append(detail)
    return "; ".join(parts)
