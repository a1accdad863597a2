"""What a GGUF file holds, read from its header alone, and whether it fits in this machine's memory.

The header is walked over a memory map: no tensor data is read. `gguf.GGUFReader` would do it too, but it
turns every vocabulary entry into a numpy view (7 s for a 150k-token vocabulary), which is too slow for a
listing of every model on the machine; the `gguf` package still supplies the type tables and names.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ganymede.core.errors import GanymedeError

#: The context length the memory estimate assumes when none is given (Ganymede's default KV-cache size).
DEFAULT_CONTEXT_WINDOW = 8192

GGUF_MAGIC = b"GGUF"
_SHARD_NAME = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)

# llama.cpp's compute buffers, the tokenizer and the runtime itself, on top of weights and KV cache.
_RUNTIME_OVERHEAD = 300 << 20
_KV_BYTES_PER_VALUE = 2  # the KV cache is f16 by default

Scalar = str | int | float | bool


class GGUFReadError(GanymedeError):
    """A file that should be a GGUF model cannot be read as one."""


@dataclass(frozen=True)
class GGUFInfo:
    """The header of one GGUF model (all its shards when it is split)."""

    path: Path
    size: int  # bytes on disk, every shard together
    architecture: str | None
    name: str | None  # general.name
    parameters: int | None  # counted from the tensor shapes of every shard found
    size_label: str | None  # general.size_label, e.g. "0.5B"
    quantization: str | None  # e.g. "Q4_K_M": general.file_type, else the type holding most tensor bytes
    context_length: int | None  # the longest context the model was trained for
    has_chat_template: bool
    shards: int
    metadata: Mapping[str, Scalar] = field(repr=False)  # every scalar key of the first shard; arrays are skipped

    def arch_value(self, key: str) -> Scalar | None:
        """`arch_value("block_count")` reads `ARCH.block_count`."""
        return self.metadata.get(f"{self.architecture}.{key}") if self.architecture else None

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "size": self.size,
            "architecture": self.architecture,
            "name": self.name,
            "parameters": self.parameters,
            "size_label": self.size_label,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "chat_template": self.has_chat_template,
            "shards": self.shards,
        }


@dataclass(frozen=True)
class RunEstimate:
    """Memory a model needs under llama.cpp (weights + KV cache + runtime) against what the machine has free."""

    needed: int
    available: int | None  # None when this system does not say

    @property
    def fits(self) -> bool | None:
        return None if self.available is None else self.needed <= self.available

    def describe(self) -> str:
        if self.available is None:
            return f"needs ~{human_size(self.needed)} (free memory unknown)"
        verdict = "fits" if self.fits else "does not fit"
        return f"needs ~{human_size(self.needed)}, {human_size(self.available)} available: {verdict}"

    def to_dict(self) -> dict[str, object]:
        return {"needed": self.needed, "available": self.available, "fits": self.fits}


def human_size(n: int) -> str:
    """1117320768 -> '1.0 GiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class _Header:
    """A cursor over the memory-mapped header; every read is bounds-checked against the file."""

    def __init__(self, buffer: mmap.mmap, path: Path) -> None:
        self.buffer, self.path, self.offset, self.order = buffer, path, 0, "<"

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(self.order + fmt)
        if self.offset + size > len(self.buffer):
            raise GGUFReadError(f"{self.path} is truncated (the header ends early)", "download or copy it again")
        values = struct.unpack_from(self.order + fmt, self.buffer, self.offset)
        self.offset += size
        return values

    def skip(self, size: int) -> None:
        if size < 0 or self.offset + size > len(self.buffer):
            raise GGUFReadError(f"{self.path} is truncated (the header ends early)", "download or copy it again")
        self.offset += size

    def skip_strings(self, count: int) -> None:
        """Step over `count` length-prefixed strings (a vocabulary: 150k of them, so no per-item calls)."""
        length_of = struct.Struct(self.order + "Q").unpack_from
        buffer, offset, end = self.buffer, self.offset, len(self.buffer)
        try:
            for _ in range(count):
                offset += 8 + length_of(buffer, offset)[0]
        except struct.error:
            offset = end + 1
        if offset > end:
            raise GGUFReadError(f"{self.path} is truncated (the header ends early)", "download or copy it again")
        self.offset = offset

    def string(self) -> str:
        (length,) = self.take("Q")
        start = self.offset
        self.skip(length)
        return bytes(self.buffer[start : self.offset]).decode("utf-8", errors="replace")


def _scalar_formats() -> dict[int, str]:
    from gguf import GGUFValueType as T

    return {
        T.UINT8: "B",
        T.INT8: "b",
        T.UINT16: "H",
        T.INT16: "h",
        T.UINT32: "I",
        T.INT32: "i",
        T.FLOAT32: "f",
        T.BOOL: "?",
        T.UINT64: "Q",
        T.INT64: "q",
        T.FLOAT64: "d",
    }


def _read_value(header: _Header, value_type: int, formats: dict[int, str]) -> Scalar | None:
    """One metadata value; arrays (the vocabulary, merges) are stepped over and read as None."""
    from gguf import GGUFValueType as T

    if value_type == T.STRING:
        return header.string()
    if value_type == T.ARRAY:
        item_type, count = header.take("I")[0], header.take("Q")[0]
        if item_type in formats:
            header.skip(count * struct.calcsize(header.order + formats[item_type]))
        elif item_type == T.STRING:
            header.skip_strings(count)
        else:
            for _ in range(count):
                _read_value(header, item_type, formats)
        return None
    if value_type not in formats:
        raise GGUFReadError(f"{header.path}: unknown GGUF value type {value_type}", "is the file a GGUF model?")
    return header.take(formats[value_type])[0]


@dataclass
class _ShardHeader:
    metadata: dict[str, Scalar]
    parameters: int
    bytes_by_type: dict[int, int]


def _read_header(path: Path) -> _ShardHeader:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        with open(path, "rb") as handle:
            if handle.read(4) != GGUF_MAGIC:
                raise GGUFReadError(f"{path} is not a GGUF file", "point at a .gguf model file")
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise GGUFReadError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from None
    with buffer:
        header = _Header(buffer, path)
        header.skip(4)
        (version,) = header.take("I")
        if version & 0xFFFF == 0:  # written on a big-endian machine
            header.order = ">"
        formats = _scalar_formats()
        tensor_count, kv_count = header.take("QQ")
        metadata: dict[str, Scalar] = {}
        for _ in range(kv_count):
            key = header.string()
            (value_type,) = header.take("I")
            value = _read_value(header, value_type, formats)
            if value is not None:
                metadata[key] = value
        parameters = 0
        bytes_by_type: dict[int, int] = {}
        for _ in range(tensor_count):
            header.string()  # tensor name
            (n_dims,) = header.take("I")
            dims = header.take("Q" * n_dims) if n_dims else ()
            tensor_type, _offset = header.take("IQ")
            elements = math.prod(dims)
            parameters += elements
            try:
                block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(tensor_type)]
                bytes_by_type[tensor_type] = bytes_by_type.get(tensor_type, 0) + elements // block * block_bytes
            except (ValueError, KeyError):  # a type newer than this gguf package: count it, name it by number
                bytes_by_type[tensor_type] = bytes_by_type.get(tensor_type, 0) + elements
    return _ShardHeader(metadata, parameters, bytes_by_type)


def shard_paths(path: Path) -> list[Path]:
    """`x-00001-of-00003.gguf` -> the three shard paths (those that exist); any other file -> [path]."""
    match = _SHARD_NAME.search(path.name)
    if not match:
        return [path]
    total = int(match.group(2))
    stem = path.name[: match.start()]
    candidates = [path.with_name(f"{stem}-{i:05d}-of-{total:05d}.gguf") for i in range(1, total + 1)]
    return [candidate for candidate in candidates if candidate.is_file()] or [path]


def _quantization_name(metadata: Mapping[str, Scalar], bytes_by_type: Mapping[int, int]) -> str | None:
    from gguf import GGMLQuantizationType, LlamaFileType

    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if not bytes_by_type:
        return None
    dominant = max(bytes_by_type, key=lambda t: bytes_by_type[t])
    try:
        return GGMLQuantizationType(dominant).name
    except ValueError:
        return f"type {dominant}"


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Read a GGUF model's header (and its other shards' headers when it is split); no tensor is loaded."""
    path = Path(path)
    first = _read_header(path)
    shards = shard_paths(path)
    split_count = first.metadata.get("split.count")
    parameters, bytes_by_type = first.parameters, dict(first.bytes_by_type)
    for shard in shards[1:]:
        other = _read_header(shard)
        parameters += other.parameters
        for tensor_type, size in other.bytes_by_type.items():
            bytes_by_type[tensor_type] = bytes_by_type.get(tensor_type, 0) + size
    metadata = first.metadata
    architecture = metadata.get("general.architecture")
    architecture = architecture if isinstance(architecture, str) else None
    context = metadata.get(f"{architecture}.context_length") if architecture else None
    name, label = metadata.get("general.name"), metadata.get("general.size_label")
    return GGUFInfo(
        path=path,
        size=sum(shard.stat().st_size for shard in shards),
        architecture=architecture,
        name=name if isinstance(name, str) else None,
        parameters=parameters or None,
        size_label=label if isinstance(label, str) else None,
        quantization=_quantization_name(metadata, bytes_by_type),
        context_length=context if isinstance(context, int) and not isinstance(context, bool) else None,
        has_chat_template=isinstance(metadata.get("tokenizer.chat_template"), str),
        shards=int(split_count) if isinstance(split_count, int) and split_count > 1 else len(shards),
        metadata=metadata,
    )


def _int_value(info: GGUFInfo, key: str) -> int | None:
    value = info.arch_value(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def kv_cache_bytes(info: GGUFInfo, context_window: int = DEFAULT_CONTEXT_WINDOW) -> int:
    """f16 keys and values for every layer over the context llama.cpp allocates (0 when the header does not say)."""
    layers, heads = _int_value(info, "block_count"), _int_value(info, "attention.head_count")
    embedding = _int_value(info, "embedding_length")
    if layers is None or heads is None or embedding is None:
        return 0
    kv_heads = _int_value(info, "attention.head_count_kv") or heads
    key_width = _int_value(info, "attention.key_length") or embedding // heads
    value_width = _int_value(info, "attention.value_length") or embedding // heads
    width = kv_heads * (key_width + value_width)
    context = min(context_window, info.context_length or context_window)
    return layers * context * width * _KV_BYTES_PER_VALUE


def memory_needed(info: GGUFInfo | None, size: int, context_window: int = DEFAULT_CONTEXT_WINDOW) -> int:
    """Weights (the file, memory-mapped) + KV cache + runtime overhead; from the size alone without a header."""
    kv = kv_cache_bytes(info, context_window) if info is not None else 0
    return size + kv + _RUNTIME_OVERHEAD


def _cgroup_free_memory() -> int | None:
    """Memory left under this container's limit (cgroup v2), which /proc/meminfo does not show."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((root / "memory.current").read_text().strip()), 0)
    except (OSError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes a new process can use without swapping: MemAvailable (or psutil), capped by a cgroup limit."""
    available: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            import psutil

            available = int(psutil.virtual_memory().available)
        except Exception:  # psutil missing or unsupported here: the estimate just says "unknown"
            available = None
    cgroup = _cgroup_free_memory()
    if cgroup is not None:
        available = cgroup if available is None else min(available, cgroup)
    return available


def estimate_run(
    info: GGUFInfo | None,
    size: int | None = None,
    *,
    context_window: int = DEFAULT_CONTEXT_WINDOW,
    available: int | None = None,
) -> RunEstimate:
    """Whether a model fits in free memory; `available` defaults to what this machine has free now."""
    if size is None:
        if info is None:
            raise ValueError("estimate_run needs a GGUFInfo or a size")
        size = info.size
    free = available if available is not None else available_memory()
    return RunEstimate(needed=memory_needed(info, size, context_window), available=free)


def is_gguf(path: str | Path) -> bool:
    """Whether the file starts with the GGUF magic (Ollama's blobs have no .gguf suffix)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == GGUF_MAGIC
    except OSError:
        return False
