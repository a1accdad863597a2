"""GGUF models through llama-cpp-python: the default local backend (about 3x faster than transformers on CPU)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ganymede.core import calllog, settings
from ganymede.core.backends.base import Backend, Messages, Tools
from ganymede.core.backends.llamacpp_batch import BatchedRequest, BatchEngine, ContinuousBatcher, Row, shared_prefix
from ganymede.core.backends.prompt_cache import (
    MIN_PREFIX_TOKENS,
    PromptCache,
    default_folder,
    file_identity,
    fixed_leading_text,
    fixed_message_count,
)
from ganymede.core.backends.refs import ModelRef
from ganymede.core.errors import BackendUnavailableError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, Usage, normalize
from ganymede.core.toolcalls import parse_tool_calls, tool_names

#: Sequences decoded together by `chat_batch`. On 2 cores throughput stops rising at about this many (see
#: docs/benchmarks.md, `ganymede bench batch-size`); GANYMEDE_BATCH or the backend option batch_size change it.
DEFAULT_BATCH_SIZE = 8
#: Upper bound on the KV cells (all slots together) a batch context allocates: bounded memory for long prompts.
MAX_BATCH_CELLS = 32768
#: Tokens (prompt + reply) a request served by continuous batching may use; longer ones take the lock instead.
SERVE_SLOT_CONTEXT = 2048


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
    #: GenerationConfig.json_schema is enforced while decoding (a grammar), so constrained replies always parse.
    constrained_json = True

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
        self.model_path = path
        self.model_id = ref.raw
        lora: dict[str, Any] = {}
        if adapter:
            from ganymede.core.lora import gguf_adapter

            # A PEFT adapter folder is converted once to a GGUF LoRA that llama.cpp applies on the quantized model.
            lora["lora_path"] = str(gguf_adapter(adapter, path))
            self.model_id = f"{ref.raw}+{adapter}"
        self.adapter_path: str | None = lora.get("lora_path")
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
            **({"grammar": self._grammar(config.json_schema)} if config.json_schema else {}),
        }

    def _grammar(self, schema: dict[str, Any]) -> Any:
        """The GBNF grammar of a JSON schema, built once per schema (a tool loop asks for the same ones)."""
        import json

        from llama_cpp import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        cache: dict[str, Any] = self.__dict__.setdefault("_grammars", {})
        if key not in cache:
            # Unsorted: the grammar writes properties in the schema's order (a decision before its arguments).
            cache[key] = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        return cache[key]

    def _prepare(self, config: GenerationConfig, messages: list[Message], tools: Tools) -> None:
        """A seeded sampled call starts from an empty KV cache. Reusing the cached prompt prefix evaluates the
        prompt's tail in a smaller batch, whose float sums differ in the last bits; at temperature > 0 that is
        enough to change the sampled text, and a seed promises the same text every time.
        Any other call first makes sure its fixed prefix is in the KV cache, from the on-disk prompt cache when
        an earlier process saved it (see prompt_cache.py)."""
        if config.seed is not None and not config.is_greedy:
            self.llm.reset()
            return
        self._restore_prefix(messages, tools)

    def _restore_prefix(self, messages: list[Message], tools: Tools) -> None:
        """Bring the fixed prefix of `messages` into the context: already there (an earlier call), loaded from
        the prompt cache, or evaluated now and saved for the next process. `create_completion` then evaluates
        only the rest of the prompt. With a declared leading text there are two levels (the instructions, then
        the instructions and the table schema): the longest one stored is loaded, and each level past it is
        evaluated and saved."""
        cache = self.prompt_cache
        count = fixed_message_count(messages)
        if cache is None or not cache.enabled or count == 0:
            return
        full = self.prompt_tokens(self.render(messages, tools))
        ends = [self._fixed_end(full, messages[:count], tools, all_fixed=count == len(messages))]
        leading = fixed_leading_text()
        if leading and count < len(messages):
            ends.append(self._fixed_end(full, [*messages[:count], {**messages[count], "content": leading}], tools))
        ends = sorted({n for n in ends if n >= MIN_PREFIX_TOKENS})
        if not ends:
            return
        llm = self.llm
        held = 0
        for a, b in zip(llm.input_ids[: min(llm.n_tokens, ends[-1])].tolist(), full, strict=False):
            if a != b:
                break
            held += 1
        if held >= ends[-1]:
            return
        for n in reversed(ends):
            if n <= held:
                break
            if cache.load_into(llm, full[:n]):
                held = n
                break
            held = min(held, llm.n_tokens)  # a refused file leaves the context empty
        for n in ends:
            if n <= held:
                continue
            llm.n_tokens = held
            llm.eval(full[held:n])  # drops the cells after `held` first, then evaluates up to this level
            cache.save_from(llm, full[:n])
            held = n

    def _fixed_end(self, full: list[int], fixed: list[Message], tools: Tools, all_fixed: bool = False) -> int:
        """How many tokens of the prompt `full` the fixed messages account for: their shared token prefix (or all
        but the last token, which must be evaluated to sample from, when every message is fixed)."""
        tokens = self.prompt_tokens(self.render(fixed, tools))
        return min(len(tokens), len(full)) - 1 if all_fixed else shared_prefix([full, tokens])

    @functools.cached_property
    def prompt_cache(self) -> PromptCache | None:
        if self.options.get("prompt_cache") is False:
            return None
        import llama_cpp

        params = self.llm.context_params
        identity = {
            **file_identity(self.model_path),
            "adapter": self.adapter_path,
            "llama_cpp": llama_cpp.__version__,
            "type_k": int(params.type_k),
            "type_v": int(params.type_v),
            "flash_attn": int(getattr(params, "flash_attn_type", getattr(params, "flash_attn", 0))),
        }
        return PromptCache(default_folder(), identity)

    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion:
        start = time.perf_counter()
        self._prepare(config, messages, tools)
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
        self._prepare(config, messages, tools)
        for chunk in self.llm.create_completion(self.render(messages, tools), stream=True, **self._sampling(config)):
            delta = chunk["choices"][0]["text"]
            if delta:
                yield delta

    # -- batched generation ----------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        value = self.options.get("batch_size") or os.environ.get("GANYMEDE_BATCH") or DEFAULT_BATCH_SIZE
        return max(1, int(value))

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The tokens `create_completion` evaluates for a prompt text (BOS only where the model asks for it)."""
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        bos = self.llm.token_bos()
        if self.llm._model.add_bos_token() and bos != -1:
            tokens = [bos, *tokens]
        return tokens

    def _chat_batch(self, batch: list[list[Message]], config: GenerationConfig) -> list[Completion]:
        return self._chat_batch_rows(batch, [config] * len(batch))

    def _chat_batch_rows(self, batch: list[list[Message]], configs: list[GenerationConfig]) -> list[Completion]:
        # A grammar-constrained reply (json_schema) needs llama-cpp-python's grammar sampler: one at a time.
        if len(batch) < 2 or self.batch_size < 2 or any(getattr(c, "json_schema", None) for c in configs):
            return [self._chat(m, c, None) for m, c in zip(batch, configs, strict=True)]
        start = time.perf_counter()
        n_ctx = self.context_window
        rows = []
        for messages, config in zip(batch, configs, strict=True):
            tokens = self.prompt_tokens(self.render(messages))
            budget = config.max_new_tokens
            budget = budget if budget + len(tokens) < n_ctx else n_ctx - len(tokens)
            rows.append(Row(tokens=tokens, config=config, max_tokens=budget))
        self.generate_rows(rows)
        elapsed = time.perf_counter() - start
        return [
            Completion(
                text=row.text.decode("utf-8", errors="ignore"),
                model=self.model_id,
                usage=Usage(prompt_tokens=len(row.tokens), completion_tokens=len(row.completion), seconds=elapsed),
                finish_reason=row.finish_reason or "stop",
            )
            for row in rows
        ]

    def engine(self, slots: int, slot_ctx: int) -> BatchEngine:
        """A batch context with at least `slots` sequences of `slot_ctx` tokens; kept between calls (creating
        one allocates its KV cache), replaced when a call needs more."""
        current: BatchEngine | None = getattr(self, "_engine", None)
        if current is not None and current.slots >= slots and current.slot_ctx >= slot_ctx:
            return current
        if current is not None:
            current.close()
        self._engine = BatchEngine(self.llm, slots, slot_ctx)
        return self._engine

    def generate_rows(self, rows: list[Row]) -> None:
        """Complete rows together: the prefix they share evaluated once, `batch_size` sequences per step."""
        need = max(len(r.tokens) + r.max_tokens for r in rows)
        slot_ctx = -(-need // 256) * 256  # llama.cpp rounds each stream up to a multiple of 256
        slots = max(1, min(self.batch_size, len(rows), MAX_BATCH_CELLS // slot_ctx - 1))
        engine = self.engine(slots, slot_ctx)
        prefix = shared_prefix([r.tokens for r in rows])
        engine.set_prefix(rows[0].tokens[:prefix])
        engine.run(rows)

    # -- continuous batching (ganymede serve) -------------------------------------------------------
    @functools.cached_property
    def batcher(self) -> ContinuousBatcher:
        slot_ctx = min(self.context_window, SERVE_SLOT_CONTEXT)
        slots = max(1, min(self.batch_size, MAX_BATCH_CELLS // slot_ctx - 1))
        return ContinuousBatcher(lambda: BatchEngine(self.llm, slots, slot_ctx))

    def submit(self, messages: Messages, config: GenerationConfig) -> BatchedRequest | None:
        """Queue a plain chat request (no tools, no JSON schema) on the running batch: it joins at the next
        step instead of waiting for the model's lock. None when it cannot be batched (the caller then uses
        `chat`/`stream`); a prompt too long for the window raises ContextWindowExceededError as `chat` does."""
        if config.json_schema:
            return None
        msgs = normalize(messages)
        config = self._fit(msgs, config, None)
        tokens = self.prompt_tokens(self.render(msgs))
        budget = config.max_new_tokens
        budget = budget if budget + len(tokens) < self.context_window else self.context_window - len(tokens)
        if len(tokens) + budget > min(self.context_window, SERVE_SLOT_CONTEXT):
            return None
        start = time.perf_counter()
        labels = calllog.current_labels()

        def finish(row: Row) -> Completion:
            completion = Completion(
                text=row.text.decode("utf-8", errors="ignore"),
                model=self.model_id,
                usage=Usage(
                    prompt_tokens=len(row.tokens),
                    completion_tokens=len(row.completion),
                    seconds=time.perf_counter() - start,
                ),
                finish_reason=row.finish_reason or "stop",
            )
            with calllog.call_context(**labels):
                self._log(msgs, config, completion.text, result=completion)
            return completion

        return self.batcher.submit(Row(tokens=tokens, config=config, max_tokens=budget), finish)
