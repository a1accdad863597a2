"""A prompt cache that outlives the process: the KV state of a long fixed prompt prefix (a few-shot prompt, a
system prompt with tool schemas) saved on disk and loaded by the next process instead of evaluated again.

One file per prefix, `<key>.kv` under `$GANYMEDE_HOME/prompt-cache`: a magic line, a JSON header (what the
state belongs to: the model file's identity, the llama.cpp build and cache layout, the exact prefix tokens, the
payload's size and sha256) and the payload (llama.cpp's state of one sequence). Nothing in a file is trusted
before the header matches the model loaded now and the payload its checksum: a corrupt, truncated or foreign
file is deleted and the prefix evaluated (and saved) again. The folder is bounded (least recently used files go
first) and written atomically, so concurrent processes never read half a file.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import hashlib
import json
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ganymede.core.fileio import write_atomic

MAGIC = b"GANYMEDE-KV 1\n"
#: Prefixes shorter than this are evaluated faster than a file is read and checked.
MIN_PREFIX_TOKENS = 128
#: Total size of the cache folder; GANYMEDE_PROMPT_CACHE_MB changes it (0 turns the cache off).
DEFAULT_MAX_MB = 1024

_fixed: contextvars.ContextVar[tuple[int, str]] = contextvars.ContextVar("ganymede_fixed_messages", default=(0, ""))


@contextlib.contextmanager
def fixed_messages(count: int, leading_text: str = "") -> Iterator[None]:
    """Declare that the first `count` messages of the calls inside are fixed (a system prompt and few-shot
    examples the next call and the next process will send again), so their KV state is worth keeping on disk.
    Without it only the leading system messages (and tool schemas) count as fixed: a conversation's history
    changes every turn and would fill the cache with prefixes never seen again.

    `leading_text` is the start of the next message that is fixed too, at a second level: a table's schema
    before the question asked about it. The state up to it is kept as well, so the next question about the
    same table evaluates only the question."""
    token = _fixed.set((count, leading_text))
    try:
        yield
    finally:
        _fixed.reset(token)


def fixed_message_count(messages: Sequence[dict[str, Any]]) -> int:
    declared = _fixed.get()[0]
    if declared:
        return min(declared, len(messages))
    count = 0
    for message in messages:
        if message.get("role") != "system":
            break
        count += 1
    return count


def fixed_leading_text() -> str:
    """The declared fixed start of the message after the fixed ones ("" when none is declared)."""
    return _fixed.get()[1]


def default_folder() -> Path:
    """$GANYMEDE_HOME/prompt-cache (a cache: deleting it only costs the next run its head start);
    GANYMEDE_PROMPT_CACHE_DIR puts it elsewhere (benchmarks start from an empty one)."""
    from ganymede.core import settings

    named = os.environ.get("GANYMEDE_PROMPT_CACHE_DIR", "").strip()
    return Path(named).expanduser() if named else settings.home() / "prompt-cache"


def max_bytes() -> int:
    value = os.environ.get("GANYMEDE_PROMPT_CACHE_MB", "").strip()
    try:
        return int(float(value) * (1 << 20)) if value else DEFAULT_MAX_MB << 20
    except ValueError:
        return DEFAULT_MAX_MB << 20


def file_identity(path: Path) -> dict[str, Any]:
    """What makes a KV state belong to a model file: its path, size, modification time and a hash of its first
    megabyte (the GGUF header: architecture, dimensions, tokenizer), so a replaced file is a different model."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return {"model": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head": head}


class PromptCache:
    """Sequence-0 KV states of one `Llama` context, keyed by the model's identity and the prefix tokens."""

    def __init__(self, folder: Path, identity: dict[str, Any], limit: int | None = None) -> None:
        self.folder = folder
        self.identity = identity
        self.limit = max_bytes() if limit is None else limit
        self.enabled = self.limit > 0

    def path(self, tokens: Sequence[int]) -> Path:
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode())
        digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return self.folder / f"{digest.hexdigest()[:40]}.kv"

    # -- the file format -------------------------------------------------------------------------------
    def encode(self, tokens: Sequence[int], payload: bytes) -> bytes:
        header = {
            "identity": self.identity,
            "tokens": list(tokens),
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        raw = json.dumps(header, sort_keys=True).encode()
        return MAGIC + struct.pack("<Q", len(raw)) + raw + payload

    def decode(self, data: bytes, tokens: Sequence[int]) -> bytes | None:
        """The payload when `data` is a whole, intact state of exactly these tokens for this model; else None."""
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
            return None
        (length,) = struct.unpack_from("<Q", data, len(MAGIC))
        start = len(MAGIC) + 8
        try:
            header = json.loads(data[start : start + length])
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict):
            return None
        payload = data[start + length :]
        if (
            header.get("identity") != self.identity
            or header.get("tokens") != list(tokens)
            or header.get("payload_bytes") != len(payload)
            or header.get("payload_sha256") != hashlib.sha256(payload).hexdigest()
        ):
            return None
        return payload

    # -- reading and writing -------------------------------------------------------------------------------
    def read(self, tokens: Sequence[int]) -> bytes | None:
        """The stored payload for these tokens; a file that fails any check is deleted (it will be rebuilt)."""
        if not self.enabled:
            return None
        path = self.path(tokens)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = self.decode(data, tokens)
        if payload is None:
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return payload

    def write(self, tokens: Sequence[int], payload: bytes) -> Path | None:
        if not self.enabled or len(payload) > self.limit:
            return None
        path = write_atomic(self.path(tokens), self.encode(tokens, payload))
        self.evict(keep=path)
        return path

    def evict(self, keep: Path | None = None) -> None:
        """Delete least recently used files until the folder fits the limit."""
        entries = []
        for entry in self.folder.glob("*.kv"):
            with contextlib.suppress(OSError):
                stat = entry.stat()
                entries.append((stat.st_mtime_ns, stat.st_size, entry))
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= self.limit:
                break
            if entry != keep:
                entry.unlink(missing_ok=True)
                total -= size

    # -- llama.cpp -------------------------------------------------------------------------------------------
    def load_into(self, llm: Any, tokens: Sequence[int]) -> bool:
        """Put the stored state of `tokens` in sequence 0 of `llm`'s context; False (context emptied) if absent,
        invalid, or refused by llama.cpp."""
        import llama_cpp

        payload = self.read(tokens)
        if payload is None:
            return False
        mem = llama_cpp.llama_get_memory(llm.ctx)
        llama_cpp.llama_memory_seq_rm(mem, 0, -1, -1)
        llm.n_tokens = 0
        buffer = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
        read = llama_cpp.llama_state_seq_set_data(llm.ctx, buffer, len(payload), 0)
        if read != len(payload) or llama_cpp.llama_memory_seq_pos_max(mem, 0) != len(tokens) - 1:
            llama_cpp.llama_memory_seq_rm(mem, 0, -1, -1)
            self.path(tokens).unlink(missing_ok=True)
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return True

    def save_from(self, llm: Any, tokens: Sequence[int]) -> Path | None:
        """Store sequence 0 of `llm`'s context, which must hold exactly `tokens`."""
        import llama_cpp

        if not self.enabled:
            return None
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, buffer, size, 0)
        return self.write(tokens, ctypes.string_at(buffer, written))
