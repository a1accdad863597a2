"""Several sequences decoded together on one llama.cpp context (llama-cpp-python's low-level API).

Why: on a CPU one decode step reads every weight once whatever the number of tokens in the step, so decoding
N sequences in one `llama_decode` costs little more than decoding one, until compute rather than memory
bandwidth is the limit. `BatchEngine` keeps a fixed number of slots (sequence ids); a row (one prompt with its
own sampling settings) takes a free slot, its prompt is evaluated, and from then on every `step()` decodes one
token for every active row in a single batch. A row that finishes leaves its slot at once and the next queued row
(or, in the server, the next request) takes it: continuous batching.

The KV cache is not unified: each slot has a stream of its own, so a row's cells sit exactly where they sit when
the row is generated alone, and greedy output is the same token for token as `Llama.create_completion`. The
prompt prefix that all rows share (a few-shot prompt, the same prompt for N candidates) is evaluated once into a
spare sequence and copied to each slot's stream before that row's own tokens are evaluated.
"""

from __future__ import annotations

import contextlib
import ctypes
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganymede.core.errors import GanymedeError
from ganymede.core.generation import GenerationConfig

#: Shorter shared prefixes are not worth a separate evaluation and a stream copy.
MIN_SHARED_PREFIX = 16
#: llama-cpp-python's default `last_n_tokens_size`: the window the repetition penalty looks at.
PENALTY_LAST_N = 64


def shared_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix every row starts with, leaving each row at least one token of its own (the
    last prompt token must be evaluated in the row's own sequence to give that row's first logits)."""
    if not rows:
        return 0
    first = rows[0]
    n = min(len(r) for r in rows) - 1
    for i in range(max(n, 0)):
        token = first[i]
        if any(r[i] != token for r in rows):
            return i
    return max(n, 0)


@dataclass
class Row:
    """One prompt to complete. `tokens` is the whole prompt (BOS included where the model wants one)."""

    tokens: list[int]
    config: GenerationConfig
    max_tokens: int
    tag: Any = None
    # -- filled while decoding --
    completion: list[int] = field(default_factory=list)
    text: bytes = b""
    finish_reason: str | None = None
    emitted: int = 0  # bytes of `text` already handed out as stream deltas
    _multibyte_fix: int = 0
    _sampler: Any = None
    _slot: int = -1
    _pos: int = 0
    _next: int = -1

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    @property
    def greedy(self) -> bool:
        return self.config.is_greedy and self.config.repetition_penalty == 1.0


class BatchEngine:
    """A llama.cpp context of `slots` sequences over the model already loaded by a `Llama` object.

    Not thread-safe: the caller serializes (the backend's lock, or the server's batching thread)."""

    def __init__(self, llm: Any, slots: int, slot_ctx: int, *, n_batch: int = 512) -> None:
        import llama_cpp

        self._ll = llama_cpp
        self.llm = llm
        self.slots = slots
        self.prefix_seq = slots  # one spare sequence holds the shared prefix
        self.n_batch = n_batch
        self.n_vocab = llm.n_vocab()
        self._vocab = llm._model.vocab
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_seq_max = slots + 1
        params.n_ctx = (slots + 1) * slot_ctx
        params.n_batch = n_batch
        params.n_ubatch = min(n_batch, params.n_ubatch or n_batch)
        params.kv_unified = False
        params.embeddings = False
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not self.ctx:
            raise GanymedeError(
                f"llama.cpp could not create a batch context of {slots} sequences x {slot_ctx} tokens",
                "lower the batch size (GANYMEDE_BATCH) or the context window",
            )
        # n_ctx per stream as llama.cpp rounded it: the room each slot really has.
        self.slot_ctx = llama_cpp.llama_n_ctx(self.ctx) // (slots + 1)
        self._mem = llama_cpp.llama_get_memory(self.ctx)
        self._batch = llama_cpp.llama_batch_init(max(n_batch, slots), 0, 1)
        self._free = list(range(slots))
        self.active: list[Row] = []
        self._prefix: list[int] = []

    def close(self) -> None:
        for row in self.active:
            self._release(row)
        if self._batch is not None:
            self._ll.llama_batch_free(self._batch)
            self._batch = None
        if self.ctx:
            self._ll.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:  # the context holds memory the size of the KV cache
        with contextlib.suppress(Exception):
            self.close()

    # -- admission -------------------------------------------------------------------------------
    @property
    def has_room(self) -> bool:
        return bool(self._free)

    def fits(self, row: Row) -> bool:
        return len(row.tokens) + row.max_tokens <= self.slot_ctx

    def set_prefix(self, tokens: Sequence[int]) -> None:
        """Evaluate `tokens` once into the spare sequence; rows that start with them copy it."""
        tokens = list(tokens)
        if tokens == self._prefix:
            return
        self._ll.llama_memory_seq_rm(self._mem, self.prefix_seq, -1, -1)
        self._prefix = []
        if len(tokens) >= MIN_SHARED_PREFIX:
            self._eval(self.prefix_seq, tokens, 0, want_logits=False)
            self._prefix = tokens

    def admit(self, row: Row) -> None:
        """Give `row` a free slot, evaluate its prompt and sample its first token (may finish it at once)."""
        slot = self._free.pop(0)
        row._slot = slot
        self._ll.llama_memory_seq_rm(self._mem, slot, -1, -1)
        start = 0
        if self._prefix and row.tokens[: len(self._prefix)] == self._prefix and len(row.tokens) > len(self._prefix):
            self._ll.llama_memory_seq_cp(self._mem, self.prefix_seq, slot, -1, -1)
            start = len(self._prefix)
        row._sampler = None if row.greedy else self._sampler(row.config)
        self.active.append(row)
        index = self._eval(slot, row.tokens[start:], start, want_logits=True)
        row._pos = len(row.tokens)
        self._take(row, self._sample(row, index))

    # -- decoding --------------------------------------------------------------------------------
    def step(self) -> list[Row]:
        """Decode one token for every active row; returns the rows that changed (finished ones included)."""
        rows = [r for r in self.active if not r.done]
        if not rows:
            return []
        batch = self._batch
        for i, row in enumerate(rows):
            batch.token[i] = row._next
            batch.pos[i] = row._pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = row._slot
            batch.logits[i] = 1
        batch.n_tokens = len(rows)
        self._decode()
        for i, row in enumerate(rows):
            row._pos += 1
            self._take(row, self._sample(row, i))
        return rows

    def run(self, rows: Sequence[Row]) -> None:
        """Complete every row: admit while slots are free, step until all are done."""
        pending = list(rows)
        while pending or self.active:
            while pending and self.has_room:
                self.admit(pending.pop(0))
                self.reap()
            self.step()
            self.reap()

    def reap(self) -> list[Row]:
        """Free the slots of finished rows; returns them."""
        finished = [r for r in self.active if r.done]
        for row in finished:
            self.active.remove(row)
            self._release(row)
        return finished

    def _release(self, row: Row) -> None:
        if row._sampler is not None:
            self._ll.llama_sampler_free(row._sampler)
            row._sampler = None
        if row._slot >= 0:
            self._ll.llama_memory_seq_rm(self._mem, row._slot, -1, -1)
            self._free.append(row._slot)
            self._free.sort()
            row._slot = -1

    def _eval(self, seq: int, tokens: Sequence[int], pos: int, *, want_logits: bool) -> int:
        """Evaluate prompt tokens into one sequence in chunks of n_batch; the index of the last token's logits."""
        batch = self._batch
        n = 0
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start : start + self.n_batch]
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = pos + start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 0
            n = len(chunk)
            is_last = start + self.n_batch >= len(tokens)
            if is_last and want_logits:
                batch.logits[n - 1] = 1
            batch.n_tokens = n
            self._decode()
        return n - 1

    def _decode(self) -> None:
        code = self._ll.llama_decode(self.ctx, self._batch)
        if code != 0:
            raise GanymedeError(
                f"llama_decode failed with code {code} in a batch of {self._batch.n_tokens} tokens",
                "lower the batch size (GANYMEDE_BATCH) or the context window",
            )

    # -- sampling --------------------------------------------------------------------------------
    def _sampler(self, config: GenerationConfig) -> Any:
        """The same chain `Llama.create_completion` builds (penalties, then top-k, typical, top-p, min-p,
        temperature, a seeded draw), so a sampled row behaves like a one-at-a-time sampled call."""
        ll = self._ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        # The arguments exactly as llama-cpp-python's own LlamaSampler.add_penalties passes them.
        penalties = ll.llama_sampler_init_penalties(self.n_vocab, PENALTY_LAST_N, config.repetition_penalty, 0.0, 0.0)
        ll.llama_sampler_chain_add(chain, penalties)
        if config.is_greedy:
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
            return chain
        seed = config.seed if config.seed is not None else random.randint(0, 2**32 - 2)
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(config.top_k))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_typical(1.0, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(config.top_p, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_min_p(0.0, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(config.temperature))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed))
        return chain

    def _sample(self, row: Row, index: int) -> int:
        if row._sampler is not None:
            return int(self._ll.llama_sampler_sample(row._sampler, self.ctx, index))
        # Greedy: the first highest logit, as llama.cpp's greedy sampler picks it, without building a
        # candidate array of the whole vocabulary.
        pointer = self._ll.llama_get_logits_ith(self.ctx, index)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))
        return int(np.argmax(logits))

    def _take(self, row: Row, token: int) -> None:
        """Append a sampled token and decide whether the row is finished, with `create_completion`'s rules
        (end-of-generation token, a stop string, the token budget; a partial UTF-8 character defers the check)."""
        llm = self.llm
        if self._ll.llama_vocab_is_eog(self._vocab, token):
            row.text = llm.detokenize(row.completion, prev_tokens=row.tokens)
            row.finish_reason = "stop"
            return
        row.completion.append(token)
        row._next = token
        all_text = llm.detokenize(row.completion, prev_tokens=row.tokens)
        row.text = all_text
        for k, char in enumerate(all_text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    row._multibyte_fix = num - k
        if row._multibyte_fix > 0:
            row._multibyte_fix -= 1
            return
        stops = [s.encode("utf-8") for s in row.config.stop if s.encode("utf-8") in all_text]
        if stops:
            row.text = all_text[: all_text.index(stops[0])]
            row.finish_reason = "stop"
            return
        if len(row.completion) >= row.max_tokens:
            row.finish_reason = "length"
            return
        if row._pos + 1 >= self.slot_ctx:  # the slot is full: end as create_completion does at n_ctx
            row.finish_reason = "length"


def stream_delta(row: Row) -> str:
    """New text of a row safe to hand out now: never part of a stop string that may still complete, never half
    a UTF-8 character. Advances `row.emitted`."""
    text = row.text
    if not row.done:
        hold = 0
        for stop in row.config.stop:
            s = stop.encode("utf-8")
            for i in range(min(len(s), len(text)), 0, -1):
                if text.endswith(s[:i]):
                    hold = max(hold, i)
                    break
        text = text[: len(text) - hold]
        # drop an incomplete trailing UTF-8 sequence
        for back in range(1, min(4, len(text)) + 1):
            byte = text[-back]
            if byte & 0xC0 == 0x80:
                continue
            need = 1 if byte < 0x80 else 2 if byte >= 0xC0 and byte < 0xE0 else 3 if byte < 0xF0 else 4
            if need > back:
                text = text[: len(text) - back]
            break
    if len(text) <= row.emitted:
        return ""
    delta = text[row.emitted :]
    row.emitted = len(text)
    return delta.decode("utf-8", errors="ignore")


# -- continuous batching (the server) ---------------------------------------------------------------------
class BatchedRequest:
    """One request in a `ContinuousBatcher`: its text arrives as deltas; `cancel()` (a client gone) frees its
    slot at the next step."""

    def __init__(self, row: Row, finish: Callable[[Row], Any]) -> None:
        self.row = row
        self.cancelled = False
        self.completion: Any = None
        self._finish = finish
        self._queue: queue.SimpleQueue[str | BaseException | None] = queue.SimpleQueue()

    def deltas(self) -> Iterator[str]:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        self.completion = self._finish(self.row)

    def result(self) -> Any:
        for _ in self.deltas():
            pass
        return self.completion

    def cancel(self) -> None:
        self.cancelled = True


class ContinuousBatcher:
    """A worker thread that decodes every admitted request one token per step in one batch; a new request
    takes a free slot between two steps instead of waiting for the others to finish. The engine (a context of
    its own) is created on the first request and kept; the thread sleeps while there is nothing to do."""

    def __init__(self, make_engine: Callable[[], BatchEngine]) -> None:
        self._make_engine = make_engine
        self._engine: BatchEngine | None = None
        self._pending: deque[BatchedRequest] = deque()
        self._active: list[BatchedRequest] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, row: Row, finish: Callable[[Row], Any]) -> BatchedRequest:
        request = BatchedRequest(row, finish)
        with self._wake:
            self._pending.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ganymede-batcher", daemon=True)
                self._thread.start()
            self._wake.notify()
        return request

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._active:
                    self._wake.wait()
            try:
                self._turn()
            except Exception as exc:  # a broken context fails the requests in it, never the thread
                for request in self._active + list(self._pending):
                    request._queue.put(exc)
                self._active.clear()
                self._pending.clear()
                if self._engine is not None:
                    self._engine.close()
                self._engine = None

    def _turn(self) -> None:
        if self._engine is None:
            self._engine = self._make_engine()
        engine = self._engine
        while engine.has_room:
            with self._wake:
                if not self._pending:
                    break
                request = self._pending.popleft()
            if request.cancelled:
                request.row.finish_reason = "stop"
                request._queue.put(None)
                continue
            request.row.tag = request
            self._active.append(request)
            engine.admit(request.row)
            self._publish(request)
        for request in self._active:
            if request.cancelled and not request.row.done:
                request.row.finish_reason = "stop"
        for row in engine.step():
            self._publish(row.tag)
        for row in engine.reap():
            self._active.remove(row.tag)
            row.tag._queue.put(None)

    @staticmethod
    def _publish(request: BatchedRequest) -> None:
        if request.cancelled:
            return
        delta = stream_delta(request.row)
        if delta:
            request._queue.put(delta)
