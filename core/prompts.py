"""Prompt templates are data: prompts/<app>.yaml holds the system prompt, the user template, zero/one/few-shot
examples and the app's default generation settings. Rendered with LangChain prompt templates."""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ganymede.core.errors import PromptFileError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Message


def template_variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


class PromptSpec(BaseModel):
    """One prompt file. `examples` are dicts with the template's variables plus `output`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    system: str = ""
    template: str = "{input}"
    examples: list[dict[str, str]] = Field(default_factory=list)
    generation: dict[str, Any] = Field(default_factory=dict)
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> PromptSpec:
        needed = template_variables(self.template)
        for i, example in enumerate(self.examples):
            missing = (needed | {"output"}) - example.keys()
            if missing:
                raise ValueError(f"examples[{i}] lacks {', '.join(sorted(missing))}")
        GenerationConfig.build(**self.generation)  # fail at load, not at the first call
        return self

    @property
    def variables(self) -> set[str]:
        return template_variables(self.template)

    def config(self, **overrides: Any) -> GenerationConfig:
        """This prompt's generation settings, with the caller's (CLI/UI) overrides on top."""
        return GenerationConfig.build(**self.generation).merged(**overrides)

    def render(
        self,
        variables: dict[str, Any],
        shots: int | None = None,
        examples: list[dict[str, str]] | None = None,
        system: str | None = None,
    ) -> list[Message]:
        """Messages for one request: system prompt, `shots` worked examples as prior turns, then the input.

        `examples` replaces the file's own examples (e.g. the most similar ones from a user's pool);
        `shots=None` uses all of them, 0 makes the prompt zero-shot."""
        from langchain_core.prompts import ChatPromptTemplate, FewShotChatMessagePromptTemplate

        missing = self.variables - variables.keys()
        if missing:
            raise PromptFileError(f"prompt {self.name!r} needs {', '.join(sorted(missing))}", f"see {self.source}")
        pool = self.examples if examples is None else examples
        chosen = pool if shots is None else pool[:shots]
        parts: list[Any] = []
        system_text = self.system if system is None else system
        if system_text:
            parts.append(("system", "{__system}"))
        if chosen:
            example_prompt = ChatPromptTemplate.from_messages([("human", self.template), ("ai", "{output}")])
            parts.append(FewShotChatMessagePromptTemplate(examples=chosen, example_prompt=example_prompt))
        parts.append(("human", self.template))
        prompt = ChatPromptTemplate.from_messages(parts)
        values = {k: variables[k] for k in self.variables}
        if system_text:
            values["__system"] = system_text
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        return [{"role": roles[m.type], "content": str(m.content)} for m in prompt.format_messages(**values)]


def prompts_dir() -> Path:
    return Path(str(resources.files("ganymede.prompts")))


def available() -> list[str]:
    return sorted(p.stem for p in prompts_dir().glob("*.yaml"))


@lru_cache(maxsize=64)
def load_prompt(name_or_path: str) -> PromptSpec:
    """Load `prompts/<name>.yaml`, or a user's YAML file by path. Errors name the file and the key."""
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = prompts_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise PromptFileError(f"prompt file not found: {path}", f"available prompts: {', '.join(available())}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PromptFileError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise PromptFileError(f"{path}: expected a mapping of keys (name, system, template, ...)")
    data.setdefault("name", path.stem)
    try:
        return PromptSpec(**data, source=str(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "file"
        raise PromptFileError(f"{path}: {key}: {err['msg']}") from None
    except Exception as exc:  # InvalidSettingsError from the generation block
        raise PromptFileError(f"{path}: generation: {exc}") from None
