"""Decoding settings, validated once so every backend can trust them."""

from __future__ import annotations

from typing import Any

from ganymede.core.errors import InvalidSettingsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class GenerationConfig(BaseModel):
    """How to decode. Greedy ignores temperature/top-k/top-p; sampling uses them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(512, ge=1, le=32768)
    greedy: bool = False
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_k: int = Field(40, ge=0, le=1000, description="0 disables top-k filtering")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, ge=0.5, le=2.0)
    seed: int | None = Field(None, ge=0)
    stop: tuple[str, ...] = ()

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
        """A copy with the non-None overrides applied (CLI flags and UI sliders win)."""
        values = self.model_dump()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationConfig.build(**values)

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
