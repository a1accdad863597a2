"""Hugging Face `AutoModelForCausalLM`: a local model folder, a hub id (where a network exists),
or the bundled GGUF dequantized once and cached as safetensors."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core import settings
from core.backends.base import Backend, Tools
from core.backends.registry import ModelRef
from core.errors import BackendUnavailableError
from core.generation import GenerationConfig
from core.messages import Completion, Message, Usage
from core.toolcalls import parse_tool_calls, tool_names


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

        from core.backends.llamacpp import gguf_path

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
        prompts = [self.render(m, tools) for m in batch]
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with self._torch.inference_mode():
            output = self.model.generate(**inputs, **self._generate_kwargs(config))
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        elapsed = time.perf_counter() - start
        results = []
        for row, mask in zip(new_tokens, inputs["attention_mask"], strict=True):
            ids = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
            raw = self._cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), config.stop)
            text, calls = parse_tool_calls(raw, tool_names(tools)) if tools else (raw, [])
            hit_limit = len(ids) >= config.max_new_tokens
            results.append(
                Completion(
                    text=text,
                    model=self.model_id,
                    tool_calls=calls,
                    usage=Usage(prompt_tokens=int(mask.sum()), completion_tokens=len(ids), seconds=elapsed),
                    finish_reason="tool_calls" if calls else ("length" if hit_limit else "stop"),
                )
            )
        return results

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
