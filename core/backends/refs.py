"""Model references: parsing `bundled:NAME`, GGUF paths, model folders, `hf:ORG/NAME` and `openai:MODEL@URL`.

A reference says which model, and which backend serves it unless one is named; it loads nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ganymede.core import settings
from ganymede.core.errors import UnknownModelError

#: reference scheme -> the backend that serves it unless one is named.
DEFAULT_BACKEND_FOR_SCHEME = {
    "bundled": "llamacpp",
    "gguf": "llamacpp",
    "hf": "transformers",
    "openai": "openai",
}

REFERENCE_FORMS = (
    "bundled:NAME, ./path/model.gguf, ./path/hf-model-folder, hf:ORG/NAME, openai:MODEL or openai:MODEL@BASE_URL, "
    "or a model `ganymede models` lists (a pulled name, ollama:NAME:TAG, lmstudio:..., hf:ORG/REPO/FILE.gguf)"
)


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference such as `bundled:qwen2.5-coder-1.5b` or `openai:gpt-4o-mini@http://host/v1`."""

    raw: str
    scheme: str  # bundled | gguf | hf | openai
    name: str  # catalog name, file/folder path, hub id or served model name
    base_url: str | None = None

    @property
    def default_backend(self) -> str:
        # A scheme of its own (`echo:NAME`) names a third-party backend registered under that name.
        return DEFAULT_BACKEND_FOR_SCHEME.get(self.scheme, self.scheme)


def parse_model_ref(ref: str | None) -> ModelRef:
    raw = (ref or settings.default_model()).strip()
    if not raw:
        raise UnknownModelError("empty model reference", f"use one of: {REFERENCE_FORMS}")
    scheme, sep, rest = raw.partition(":")
    if sep and scheme == "bundled":
        from ganymede.core.catalog import get_bundled

        get_bundled(rest)  # fail early with the list of valid names
        return ModelRef(raw, "bundled", rest)
    if not (sep and scheme == "openai"):
        from ganymede.core.discovery import resolve_name

        found = resolve_name(raw)  # pulled, Ollama, LM Studio and hub-cache GGUFs, by the name `models` lists
        if found is not None:
            return ModelRef(raw, "gguf", str(found))
        if sep and scheme == "hf" and (rest.lower().endswith(".gguf") or ":" in rest):
            raise UnknownModelError(f"{raw} is not downloaded", f"run `ganymede models pull {raw}` first")
    if sep and scheme == "hf":
        if "/" not in rest and not Path(rest).exists():
            raise UnknownModelError(f"bad Hugging Face reference {raw!r}", "write hf:ORG/NAME or hf:/local/folder")
        return ModelRef(raw, "hf", rest)
    if sep and scheme == "openai":
        model, _, url = rest.partition("@")
        if not model:
            raise UnknownModelError(f"bad OpenAI reference {raw!r}", "write openai:MODEL or openai:MODEL@BASE_URL")
        return ModelRef(raw, "openai", model, url or None)
    path = Path(raw).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise UnknownModelError(f"GGUF file not found: {path}", "check the path")
        return ModelRef(raw, "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnknownModelError(
                f"{path} is not a Hugging Face model folder (no config.json)",
                "point at a folder saved with save_pretrained, or at a .gguf file",
            )
        return ModelRef(raw, "hf", str(path.resolve()))
    raise UnknownModelError(f"unknown model {raw!r}", f"use one of: {REFERENCE_FORMS}; `ganymede models` lists them")
