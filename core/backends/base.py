"""The backend protocol. Public methods check the context window, time and log each call;
a backend implements only the underscored methods."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ganymede.core import calllog
from ganymede.core.errors import ContextWindowExceededError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, Usage, normalize

if TYPE_CHECKING:
    from ganymede.core.backends.refs import ModelRef

Tools = Sequence[dict[str, Any]] | None
Messages = list[Message] | list[dict[str, Any]]


class Stream:
    """Text deltas as they are generated; `.completion` holds the whole result once iterated."""

    def __init__(self, deltas: Iterator[str], finish: Any) -> None:
        self._deltas = deltas
        self._finish = finish
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        parts: list[str] = []
        try:
            for delta in self._deltas:
                parts.append(delta)
                yield delta
        finally:
            self.close()  # an abandoned stream (a Stop, a client gone) frees the model at once
        self.completion = self._finish("".join(parts))

    def close(self) -> None:
        """Stop generating and release the backend's lock; safe to call more than once."""
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def text(self) -> str:
        for _ in self:
            pass
        assert self.completion is not None
        return self.completion.text


class Backend(ABC):
    """A loaded model. `chat`, `stream`, `chat_batch`, `count_tokens`, `context_window`."""

    name: ClassVar[str]
    #: True when the model's own chat template carries tool schemas (native tool calling).
    native_tools: ClassVar[bool] = True

    def __init__(self, ref: ModelRef, **options: Any) -> None:
        self.ref = ref
        self.options = options
        self.model_id = ref.name
        self.context_window = 8192
        # Local models hold one KV cache: calls from server threads queue here instead of corrupting it.
        # A plain Lock, not an RLock: a stream stopped from another thread (a UI Stop button) must release it.
        self.lock = threading.Lock()

    # -- what a backend implements ------------------------------------------------------------
    @abstractmethod
    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion: ...

    @abstractmethod
    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Iterator[str]: ...

    @abstractmethod
    def count_tokens(self, text_or_messages: str | list[Message], tools: Tools = None) -> int:
        """Tokens in a text, or in messages rendered with the chat template (generation prompt included)."""

    def _chat_batch(self, batch: list[list[Message]], config: GenerationConfig) -> list[Completion]:
        """Rows that share one config; a batching backend overrides this (or `_chat_batch_rows`)."""
        return [self._chat(messages, config, None) for messages in batch]

    def _chat_batch_rows(self, batch: list[list[Message]], configs: list[GenerationConfig]) -> list[Completion]:
        """Each row with its own (already fitted) config. By default rows whose configs differ only in the
        token budget go to `_chat_batch` together with the tightest budget among them (a backend that batches
        only shared configs still batches them); rows with a config of their own (a seed each) go one at a time."""
        groups: dict[str, list[int]] = {}
        for i, config in enumerate(configs):
            groups.setdefault(config.model_copy(update={"max_new_tokens": 1}).model_dump_json(), []).append(i)
        results: list[Completion | None] = [None] * len(batch)
        for rows in groups.values():
            shared = min((configs[i] for i in rows), key=lambda c: c.max_new_tokens)
            for i, completion in zip(rows, self._chat_batch([batch[i] for i in rows], shared), strict=True):
                results[i] = completion
        return [r for r in results if r is not None]

    # -- the public protocol --------------------------------------------------------------------
    def chat(
        self,
        messages: list[Message] | list[dict[str, Any]],
        config: GenerationConfig | None = None,
        tools: Tools = None,
    ) -> Completion:
        msgs = normalize(messages)
        config = self._fit(msgs, config or GenerationConfig(), tools)
        start = time.perf_counter()
        try:
            with self.lock:
                result = self._chat(msgs, config, tools)
        except Exception as exc:
            self._log(msgs, config, "", error=str(exc), seconds=time.perf_counter() - start)
            raise
        result.usage.seconds = result.usage.seconds or time.perf_counter() - start
        self._log(msgs, config, result.text, result=result)
        return result

    def stream(
        self,
        messages: list[Message] | list[dict[str, Any]],
        config: GenerationConfig | None = None,
        tools: Tools = None,
    ) -> Stream:
        msgs = normalize(messages)
        config = self._fit(msgs, config or GenerationConfig(), tools)
        start = time.perf_counter()
        first: list[float] = []
        # A stream is consumed after the caller's call_context block has closed: keep its labels.
        labels = calllog.current_labels()

        def deltas() -> Iterator[str]:
            with self.lock:
                for delta in self._stream(msgs, config, tools):
                    if not first:
                        first.append(time.perf_counter() - start)
                    yield delta

        def finish(text: str) -> Completion:
            usage = Usage(
                prompt_tokens=self.count_tokens(msgs, tools),
                completion_tokens=self.count_tokens(text) if text else 0,
                seconds=time.perf_counter() - start,
                time_to_first_token=first[0] if first else None,
            )
            completion = Completion(text=text, model=self.model_id, usage=usage)
            with calllog.call_context(**labels):
                self._log(msgs, config, text, result=completion)
            return completion

        return Stream(deltas(), finish)

    def chat_batch(
        self,
        batch: list[list[Message]] | list[list[dict[str, Any]]],
        config: GenerationConfig | Sequence[GenerationConfig] | None = None,
    ) -> list[Completion]:
        """One completion per conversation, in order. `config` is one config for every row, or a sequence
        of one config per row (the same prompt with a different seed each, for sampled candidates)."""
        if config is None or isinstance(config, GenerationConfig):
            configs = [config or GenerationConfig()] * len(batch)
        else:
            configs = list(config)
            if len(configs) != len(batch):
                raise ValueError(f"chat_batch got {len(batch)} conversations but {len(configs)} configs")
        prepared = [normalize(m) for m in batch]
        fitted = [self._fit(m, c, None) for m, c in zip(prepared, configs, strict=True)]
        if not prepared:
            return []
        start = time.perf_counter()
        try:
            with self.lock:
                results = self._chat_batch_rows(prepared, fitted)
        except Exception as exc:
            for msgs, c in zip(prepared, fitted, strict=True):
                self._log(msgs, c, "", error=str(exc), seconds=time.perf_counter() - start)
            raise
        for msgs, c, result in zip(prepared, fitted, results, strict=True):
            self._log(msgs, c, result.text, result=result)
        return results

    def describe(self) -> str:
        return f"{self.ref.raw} via {self.name}"

    # -- shared checks ----------------------------------------------------------------------------
    def _fit(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> GenerationConfig:
        """Refuse prompts that cannot fit; shrink max_new_tokens to the room that is left."""
        prompt_tokens = self.count_tokens(messages, tools)
        room = self.context_window - prompt_tokens
        if room < 1:
            raise ContextWindowExceededError(
                f"the prompt has {prompt_tokens} tokens but {self.model_id} has a context window of "
                f"{self.context_window}",
                "shorten the input, drop earlier turns, or use an app strategy that chunks long inputs",
            )
        if config.max_new_tokens > room:
            return config.merged(max_new_tokens=room)
        return config

    def _log(
        self,
        messages: list[Message],
        config: GenerationConfig,
        text: str,
        *,
        result: Completion | None = None,
        error: str | None = None,
        seconds: float = 0.0,
    ) -> None:
        usage = result.usage if result else Usage(seconds=seconds)
        calllog.record(
            model=self.ref.raw,
            backend=self.name,
            settings_used=config.model_dump(),
            messages=list(messages),
            response=text,
            tool_calls=[c.to_openai() for c in result.tool_calls] if result else None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            seconds=usage.seconds,
            error=error,
        )
