"""LoRA adapters at inference: reading an adapter folder written by `ganymede tune` (or any PEFT adapter), and
converting it to a GGUF LoRA file that llama.cpp applies on top of the quantized base model.

An adapter folder holds PEFT's `adapter_config.json` + `adapter_model.safetensors` (the transformers backend
loads these with peft), `ganymede_adapter.json` (base model, app, the prompt it was trained with) and
`adapter_model.gguf` (the llamacpp backend loads this with `Llama(lora_path=...)`; made on first use when absent).

The conversion maps Hugging Face tensor names to GGUF names with the `gguf` package's own tables and keeps
PEFT's A/B layout, which is the layout llama.cpp expects; alpha is stored so llama.cpp scales by alpha/rank as
peft does. It is exact for architectures whose GGUF conversion does not permute weights (Qwen2/Qwen3, the
bundled models); for others use llama.cpp's convert_lora_to_gguf.py or the transformers backend."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core.errors import BackendUnavailableError, GanymedeError

METADATA = "ganymede_adapter.json"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
GGUF_ADAPTER = "adapter_model.gguf"
#: architectures whose HF -> GGUF conversion keeps q/k weights as they are, so LoRA deltas map one to one.
GGUF_ARCHITECTURES = ("qwen2", "qwen3")


@dataclass
class AdapterInfo:
    """A LoRA adapter folder (or a GGUF LoRA file, usable on llamacpp only)."""

    path: Path
    base_model: str | None = None
    app: str | None = None
    architecture: str | None = None
    prompt: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_gguf_file(self) -> bool:
        return self.path.is_file() and self.path.suffix.lower() == ".gguf"


def read_adapter(path: str | Path) -> AdapterInfo:
    """The adapter at `path`; a missing folder or one without adapter files is an error saying what is there."""
    folder = Path(path).expanduser()
    if folder.is_file() and folder.suffix.lower() == ".gguf":
        return AdapterInfo(folder.resolve())
    if not folder.is_dir():
        raise GanymedeError(f"adapter not found: {folder}", "give the folder `ganymede tune ... -o DIR` wrote")
    if not (folder / PEFT_CONFIG).is_file():
        hint = "train one with `ganymede tune`"
        if (folder / "checkpoints").is_dir():
            hint = "training has not finished: continue it with `ganymede tune ... --resume`"
        raise GanymedeError(f"{folder} is not a LoRA adapter folder (no {PEFT_CONFIG})", hint)
    metadata: dict[str, Any] = {}
    meta_file = folder / METADATA
    if meta_file.is_file():
        try:
            metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise GanymedeError(f"{meta_file}: unreadable ({exc})", "retrain, or delete the file") from None
    return AdapterInfo(
        folder.resolve(),
        base_model=metadata.get("base_model"),
        app=metadata.get("app"),
        architecture=metadata.get("architecture"),
        prompt=dict(metadata.get("prompt") or {}),
        metadata=metadata,
    )


def _architecture(info: AdapterInfo, base_gguf: Path | None) -> str:
    if info.architecture:
        return info.architecture
    if base_gguf is not None:
        from gguf import GGUFReader

        field_ = GGUFReader(base_gguf).get_field("general.architecture")
        if field_ is not None:
            return field_.contents()
    raise GanymedeError(f"{info.path}: unknown base architecture", f"write `architecture` into {METADATA}")


def convert_to_gguf(info: AdapterInfo, target: Path, base_gguf: Path | None = None) -> Path:
    """Write the PEFT adapter in `info.path` as a GGUF LoRA file (float32 tensors) at `target`."""
    import gguf
    from safetensors.numpy import load_file

    arch = _architecture(info, base_gguf)
    if arch not in GGUF_ARCHITECTURES:
        raise BackendUnavailableError(
            f"cannot convert a LoRA adapter for {arch!r} models to GGUF here (only {', '.join(GGUF_ARCHITECTURES)})",
            "use --backend transformers, or llama.cpp's convert_lora_to_gguf.py",
        )
    config = json.loads((info.path / PEFT_CONFIG).read_text(encoding="utf-8"))
    if config.get("use_rslora") or config.get("use_dora"):
        raise BackendUnavailableError("rsLoRA/DoRA adapters have no GGUF form here", "use --backend transformers")
    alpha, rank = float(config["lora_alpha"]), int(config["r"])
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise BackendUnavailableError("per-layer ranks have no GGUF form here", "use --backend transformers")
    tensors = load_file(str(info.path / PEFT_WEIGHTS))
    names = gguf.get_tensor_name_map(_arch_enum(arch), 1000)
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight -> model.layers.0.self_attn.q_proj
        stem = key.removeprefix("base_model.model.")
        for part, label in ((".lora_A.weight", "lora_a"), (".lora_B.weight", "lora_b")):
            if stem.endswith(part):
                module = stem[: -len(part)]
                gguf_name = names.get_name(module + ".weight", try_suffixes=(".weight",))
                if gguf_name is None:
                    raise BackendUnavailableError(f"{key}: no GGUF name for {module}", "use --backend transformers")
                pairs.setdefault(gguf_name, {})[label] = value
                break
        else:
            raise BackendUnavailableError(f"{key}: not a LoRA A/B weight", "only plain LoRA adapters convert to GGUF")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name in sorted(pairs):
        pair = pairs[name]
        if set(pair) != {"lora_a", "lora_b"} or pair["lora_a"].shape[0] != rank:
            raise BackendUnavailableError(f"{info.path}: incomplete LoRA pair for {name}", "retrain the adapter")
        # PEFT's A is (rank, in) and B (out, rank): in GGUF's reversed shapes that is ne=[in, rank] and
        # [rank, out], what llama.cpp checks for (llama-adapter.cpp).
        writer.add_tensor(f"{name}.lora_a", pair["lora_a"].astype("float32"))
        writer.add_tensor(f"{name}.lora_b", pair["lora_b"].astype("float32"))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _arch_enum(arch: str) -> Any:
    import gguf

    for enum, name in gguf.MODEL_ARCH_NAMES.items():
        if name == arch:
            return enum
    raise BackendUnavailableError(f"unknown GGUF architecture {arch!r}", "use --backend transformers")


def gguf_adapter(path: str | Path, base_gguf: Path | None = None) -> Path:
    """A GGUF LoRA file for llama.cpp: the file itself, the folder's adapter_model.gguf when it is newer than
    the PEFT weights, or a fresh conversion written there."""
    info = read_adapter(path)
    if info.is_gguf_file:
        return info.path
    target = info.path / GGUF_ADAPTER
    weights = info.path / PEFT_WEIGHTS
    if not weights.is_file():
        raise GanymedeError(f"{info.path}: no {PEFT_WEIGHTS}", "the adapter folder is incomplete; retrain it")
    if target.is_file() and target.stat().st_mtime >= weights.stat().st_mtime:
        return target
    return convert_to_gguf(info, target, base_gguf)
