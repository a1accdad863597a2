"""Hugging Face `AutoModelForCausalLM`: a local model folder, a hub id (where a network exists),
or the bundled GGUF dequantized once and cached as safetensors."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganymede.core import settings
from ganymede.core.backends.base import Backend, Tools
from ganymede.core.backends.refs import ModelRef
from ganymede.core.errors import BackendUnavailableError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, Usage
from ganymede.core.toolcalls import parse_tool_calls, tool_names

# Below this many shared tokens, a separate pass for the prefix costs more than it saves.
MIN_SHARED_PREFIX = 32


def shared_prefix_length(rows: list[list[int]]) -> int:
    """How many leading tokens all rows share, leaving each row at least one token of its own (generation
    needs a last token to continue from). 0 for a single row."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    length = 0
    while length < limit and all(r[length] == rows[0][length] for r in rows):
        length += 1
    return length


def pad_after_prefix(rows: list[list[int]], shared: int, pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Rows padded to one length, the padding placed after the `shared` prefix (left padding when it is 0),
    so the prefix's cached keys and values line up across rows. Returns (input ids, attention mask); masked
    positions are skipped and position ids come from the mask, so each row sees exactly its own prompt."""
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for row in rows:
        gap = width - len(row)
        ids.append(row[:shared] + [pad_id] * gap + row[shared:])
        mask.append([1] * shared + [0] * gap + [1] * (len(row) - shared))
    return ids, mask


def _converted_cache(ref: ModelRef) -> Path:
    safe = ref.name.replace("/", "_").replace(":", "_").strip("_")
    return settings.home() / "hf" / f"{ref.scheme}-{safe}"


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(
        self, ref: ModelRef, dtype: str = "bfloat16", adapter: str | None = None, batch_size: int = 8, **options: Any
    ) -> None:
        super().__init__(ref, **options)
        self.batch_size = max(1, batch_size)
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailableError(
                f"transformers/torch are not installed ({exc})", "run `make setup` or `pip install transformers torch`"
            ) from None
        self._torch = torch
        torch.set_num_threads(settings.default_threads())
        torch_dtype = getattr(torch, dtype)
        source, load_kwargs = self._source(ref)
        try:
            tokenizer_kwargs = {k: v for k, v in load_kwargs.items() if k == "gguf_file"}
            self.tokenizer = AutoTokenizer.from_pretrained(source, **tokenizer_kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **load_kwargs)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot load {ref.raw}: {str(exc).splitlines()[0]}",
                "check the path, or that the model hub is reachable for hf: references",
            ) from None
        if "gguf_file" in load_kwargs:
            self._cache_converted(ref)
        self.model_id = ref.raw
        if adapter:
            from peft import PeftModel

            try:
                self.model = PeftModel.from_pretrained(self.model, adapter)
            except (OSError, ValueError, RuntimeError) as exc:
                raise BackendUnavailableError(
                    f"cannot apply the adapter {adapter} to {ref.raw}: {str(exc).splitlines()[0][:300]}",
                    "use the adapter's own base model (see its ganymede_adapter.json)",
                ) from None
            self.model_id = f"{ref.raw}+{adapter}"
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.context_window = min(
            getattr(self.model.config, "max_position_embeddings", None) or settings.default_context_window(),
            settings.default_context_window(),
        )

    def _source(self, ref: ModelRef) -> tuple[str, dict[str, Any]]:
        if ref.scheme == "hf":
            return ref.name, {}
        cached = _converted_cache(ref)
        if (cached / "config.json").is_file():
            return str(cached), {}
        from transformers import GgufConfig

        from ganymede.core.backends.llamacpp import gguf_path

        path = gguf_path(ref)
        # Dequantized weights can be saved as safetensors, so only the first load pays for the conversion.
        return str(path.parent), {"gguf_file": path.name, "quantization_config": GgufConfig(dequantize=True)}

    def _cache_converted(self, ref: ModelRef) -> None:
        """Dequantizing a GGUF takes ~40 s; save the result so later loads take seconds."""
        target = _converted_cache(ref)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
        try:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            if not target.exists():
                os.replace(tmp, target)
        except OSError:
            pass  # a cache that cannot be written only costs time
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def render(self, messages: list[Message], tools: Tools = None) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=list(tools) if tools else None, add_generation_prompt=True, tokenize=False
        )

    def count_tokens(self, text_or_messages: str | list[Message], tools: Tools = None) -> int:
        text = text_or_messages if isinstance(text_or_messages, str) else self.render(text_or_messages, tools)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        if config.seed is not None:
            self._torch.manual_seed(config.seed)
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "do_sample": not config.is_greedy,
            "repetition_penalty": config.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if not config.is_greedy:
            kwargs.update(temperature=config.temperature, top_k=config.top_k or None, top_p=config.top_p)
        else:
            kwargs.update(temperature=None, top_k=None, top_p=None)
        if config.stop:
            kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        return kwargs

    @staticmethod
    def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
        cuts = [text.find(s) for s in stop if s in text]
        return text[: min(cuts)] if cuts else text

    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion:
        return self._generate([messages], config, tools)[0]

    def _chat_batch(self, batch: list[list[Message]], config: GenerationConfig) -> list[Completion]:
        # Prompts of similar length share a `generate` call: less padding to compute, bounded memory.
        order = sorted(range(len(batch)), key=lambda i: self.count_tokens(batch[i]))
        results: list[Completion] = [None] * len(batch)  # type: ignore[list-item]
        for start in range(0, len(order), self.batch_size):
            group = order[start : start + self.batch_size]
            for i, completion in zip(group, self._generate([batch[i] for i in group], config, None), strict=True):
                results[i] = completion
        return results

    def _generate(self, batch: list[list[Message]], config: GenerationConfig, tools: Tools) -> list[Completion]:
        start = time.perf_counter()
        rows = [self.tokenizer(self.render(m, tools), add_special_tokens=False)["input_ids"] for m in batch]
        shared = shared_prefix_length(rows)
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        input_ids, attention_mask = pad_after_prefix(rows, shared, self.tokenizer.pad_token_id)
        inputs: dict[str, Any] = {
            "input_ids": self._torch.tensor(input_ids),
            "attention_mask": self._torch.tensor(attention_mask),
        }
        with self._torch.inference_mode():
            if shared:
                inputs[self._cache_kwarg] = self._prefix_cache(rows[0][:shared], len(rows))
            output = self.model.generate(**inputs, **self._generate_kwargs(config))
        new_tokens = output[:, len(input_ids[0]) :]
        elapsed = time.perf_counter() - start
        results = []
        for row, prompt in zip(new_tokens, rows, strict=True):
            ids = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
            raw = self._cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), config.stop)
            text, calls = parse_tool_calls(raw, tool_names(tools)) if tools else (raw, [])
            hit_limit = len(ids) >= config.max_new_tokens
            results.append(
                Completion(
                    text=text,
                    model=self.model_id,
                    tool_calls=calls,
                    usage=Usage(prompt_tokens=len(prompt), completion_tokens=len(ids), seconds=elapsed),
                    finish_reason="tool_calls" if calls else ("length" if hit_limit else "stop"),
                )
            )
        return results

    @property
    def _cache_kwarg(self) -> str:
        """transformers 5 renamed `past_key_values` to `cache` (the old name is deprecated)."""
        parameters = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    def _prefix_cache(self, prefix: list[int], copies: int) -> Any:
        """The key/value cache of the tokens every prompt of a batch starts with (a few-shot prompt's system
        message and examples), computed once and repeated for each row, so only the rows' own tokens are
        processed again."""
        output = self.model(input_ids=self._torch.tensor([prefix]), use_cache=True)
        cache = getattr(output, "cache", None) or output.past_key_values
        cache.batch_repeat_interleave(copies)
        return cache

    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Iterator[str]:
        inputs = self.tokenizer([self.render(messages, tools)], return_tensors="pt", add_special_tokens=False)
        streamer = _TokenStreamer(self.tokenizer)
        kwargs = {**inputs, **self._generate_kwargs(config), "streamer": streamer}

        def run() -> None:
            try:
                with self._torch.inference_mode():
                    self.model.generate(**kwargs)
            finally:
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        emitted = ""
        for piece in streamer:
            # Stop strings can straddle pieces: emit only text that is certainly before a stop string.
            candidate = self._cut_at_stop(emitted + piece, config.stop)
            if len(candidate) < len(emitted + piece):
                if candidate[len(emitted) :]:
                    yield candidate[len(emitted) :]
                break
            emitted += piece
            yield piece
        worker.join()


class _TokenStreamer:
    """Yields text as each token is generated. (transformers' TextIteratorStreamer waits for whole words,
    so a reply without spaces would arrive in one piece.) Holds back incomplete UTF-8 characters."""

    def __init__(self, tokenizer: Any) -> None:
        import queue

        self.tokenizer = tokenizer
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.tokens: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        self.tokens.extend(value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return
        if len(text) > self.sent:
            self.queue.put(text[self.sent :])
            self.sent = len(text)

    def end(self) -> None:
        self.queue.put(None)

    def __iter__(self) -> Iterator[str]:
        while (piece := self.queue.get()) is not None:
            yield piece
