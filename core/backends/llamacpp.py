"""GGUF models through llama-cpp-python: the default local backend (about 3x faster than transformers on CPU)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ganymede.core import settings
from ganymede.core.backends.base import Backend, Tools
from ganymede.core.backends.refs import ModelRef
from ganymede.core.errors import BackendUnavailableError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, Usage
from ganymede.core.toolcalls import parse_tool_calls, tool_names


def amx_in_build() -> bool:
    """Whether this llama.cpp build uses Intel AMX tiles: a native build on a Sapphire Rapids (or newer) Xeon."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


@contextmanager
def model_params(**fields: Any) -> Iterator[None]:
    """Set llama.cpp model parameters that `Llama()` has no argument for, for the models loaded inside.

    Why: llama.cpp's extra CPU buffer types (AMX, weight repacking) are on by default, and with AMX they
    crash the process (SIGSEGV in the first batched decode) where the kernel or a sandbox does not really
    grant the AMX tile state, as on the containers this project is built and tested in. Loading happens under
    the registry's lock, so swapping the default-parameters function for the duration is safe."""
    import llama_cpp.llama_cpp as low_level

    original = low_level.llama_model_default_params

    def patched() -> Any:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    low_level.llama_model_default_params = patched
    try:
        yield
    finally:
        low_level.llama_model_default_params = original


def gguf_path(ref: ModelRef) -> Path:
    """The GGUF file behind a bundled or path reference (bundled shards are assembled on first use)."""
    if ref.scheme == "bundled":
        from ganymede.core.catalog import ensure_assembled, get_bundled

        return ensure_assembled(get_bundled(ref.name))
    if ref.scheme == "gguf":
        return Path(ref.name)
    raise BackendUnavailableError(
        f"the llamacpp backend needs a GGUF model, not {ref.raw!r}", "use --backend transformers for this model"
    )


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(
        self,
        ref: ModelRef,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        adapter: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(ref, **options)
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise BackendUnavailableError(
                f"llama-cpp-python is not installed ({exc})", "run `make setup` or `pip install llama-cpp-python`"
            ) from None
        path = gguf_path(ref)
        self.model_id = ref.raw
        lora: dict[str, Any] = {}
        if adapter:
            from ganymede.core.lora import gguf_adapter

            # A PEFT adapter folder is converted once to a GGUF LoRA that llama.cpp applies on the quantized model.
            lora["lora_path"] = str(gguf_adapter(adapter, path))
            self.model_id = f"{ref.raw}+{adapter}"
        extra_buffers = {} if not amx_in_build() else {"use_extra_bufts": False}
        try:
            with model_params(**extra_buffers):
                self.llm = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx or settings.default_context_window(),
                    n_threads=n_threads or settings.default_threads(),
                    n_batch=512,
                    verbose=False,
                    **lora,
                )
        except ValueError as exc:
            if not lora:
                raise
            raise BackendUnavailableError(
                f"llama.cpp cannot apply the adapter {adapter} to {ref.raw}: {exc}",
                "use the adapter's own base model (see its ganymede_adapter.json) or --backend transformers",
            ) from None
        self.context_window = self.llm.n_ctx()
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendUnavailableError(f"{path} has no chat template", "use an instruction-tuned GGUF model")
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self.llm.token_eos()),
            bos_token=self._token_text(self.llm.token_bos()),
            add_generation_prompt=True,
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def render(self, messages: list[Message], tools: Tools = None) -> str:
        """The exact prompt text the model sees (chat template applied, generation prompt added)."""
        return self._formatter(messages=messages, tools=list(tools) if tools else None).prompt

    def count_tokens(self, text_or_messages: str | list[Message], tools: Tools = None) -> int:
        text = text_or_messages if isinstance(text_or_messages, str) else self.render(text_or_messages, tools)
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _sampling(self, config: GenerationConfig) -> dict[str, Any]:
        # temperature 0 makes llama.cpp pick the argmax token: greedy decoding.
        return {
            "max_tokens": config.max_new_tokens,
            "temperature": 0.0 if config.is_greedy else config.temperature,
            "top_k": config.top_k,
            "top_p": config.top_p,
            "min_p": 0.0,
            "repeat_penalty": config.repetition_penalty,
            "stop": list(config.stop) or None,
            "seed": config.seed,
        }

    def _prepare(self, config: GenerationConfig) -> None:
        """A seeded sampled call starts from an empty KV cache. Reusing the cached prompt prefix evaluates the
        prompt's tail in a smaller batch, whose float sums differ in the last bits; at temperature > 0 that is
        enough to change the sampled text, and a seed promises the same text every time."""
        if config.seed is not None and not config.is_greedy:
            self.llm.reset()

    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion:
        start = time.perf_counter()
        self._prepare(config)
        out = self.llm.create_completion(self.render(messages, tools), **self._sampling(config))
        choice = out["choices"][0]
        text, calls = parse_tool_calls(choice["text"], tool_names(tools)) if tools else (choice["text"], [])
        usage = Usage(
            prompt_tokens=out["usage"]["prompt_tokens"],
            completion_tokens=out["usage"]["completion_tokens"],
            seconds=time.perf_counter() - start,
        )
        finish = "tool_calls" if calls else (choice.get("finish_reason") or "stop")
        return Completion(
            text=text.strip() if calls else text,
            model=self.model_id,
            tool_calls=calls,
            usage=usage,
            finish_reason=finish,
        )

    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Iterator[str]:
        self._prepare(config)
        for chunk in self.llm.create_completion(self.render(messages, tools), stream=True, **self._sampling(config)):
            delta = chunk["choices"][0]["text"]
            if delta:
                yield delta
