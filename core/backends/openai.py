"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio) through the official SDK.
This is how the same apps scale past one machine."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ganymede.core.backends.base import Backend, Tools
from ganymede.core.backends.refs import ModelRef
from ganymede.core.errors import BackendUnavailableError, UnknownModelError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion, Message, ToolCall, Usage

#: Characters per token for estimates: servers count tokens themselves, the client only budgets.
CHARS_PER_TOKEN = 3.5


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        ref: ModelRef,
        api_key: str | None = None,
        context_window: int | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        **options: Any,
    ) -> None:
        super().__init__(ref, **options)
        try:
            import openai
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the openai package is not installed ({exc})", "pip install openai"
            ) from None
        self._openai = openai
        self.base_url = ref.base_url or os.environ.get("OPENAI_BASE_URL")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key and not self.base_url:
            raise BackendUnavailableError(
                "no OpenAI API key", "set OPENAI_API_KEY, or name a server: openai:MODEL@http://host:port/v1"
            )
        # Self-hosted servers usually ignore the key, but the SDK insists on one.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key or "not-needed", timeout=timeout, max_retries=1)
        self.model_id = ref.name
        self.context_window = context_window or int(os.environ.get("GANYMEDE_CONTEXT_WINDOW", "32768"))
        self.concurrency = concurrency
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]  # the server does its own queueing

    def count_tokens(self, text_or_messages: str | list[Message], tools: Tools = None) -> int:
        if isinstance(text_or_messages, str):
            chars = len(text_or_messages)
        else:
            chars = sum(len(m.get("content") or "") + 16 for m in text_or_messages)
            chars += len(json.dumps(list(tools))) if tools else 0
        return int(chars / CHARS_PER_TOKEN) + 1

    def _params(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            "max_tokens": config.max_new_tokens,
            "temperature": 0.0 if config.is_greedy else config.temperature,
            "top_p": 1.0 if config.is_greedy else config.top_p,
        }
        if config.stop:
            params["stop"] = list(config.stop)
        if config.seed is not None:
            params["seed"] = config.seed
        if tools:
            params["tools"] = list(tools)
        if config.json_schema:
            # The server constrains the reply (OpenAI structured outputs; vLLM and llama.cpp server accept it too).
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": config.json_schema},
            }
        if self.base_url:
            # vLLM, llama.cpp server and Ollama accept these; api.openai.com rejects unknown fields.
            params["extra_body"] = {"top_k": config.top_k, "repetition_penalty": config.repetition_penalty}
        return params

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        openai = self._openai
        where = self.base_url or "api.openai.com"
        try:
            yield
        except openai.APIConnectionError:
            raise BackendUnavailableError(
                f"cannot reach the OpenAI-compatible server at {where}", "is the server running and the URL right?"
            ) from None
        except openai.AuthenticationError:
            raise BackendUnavailableError(f"the API key was rejected by {where}", "check OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise UnknownModelError(
                f"{where} does not serve model {self.model_id!r}", "list its models with GET /v1/models"
            ) from None
        except openai.APIStatusError as exc:
            raise BackendUnavailableError(f"{where} answered HTTP {exc.status_code}: {exc.message}") from None

    def _chat(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Completion:
        start = time.perf_counter()
        with self._errors():
            resp = self.client.chat.completions.create(**self._params(messages, config, tools))
        choice = resp.choices[0]
        calls = [
            ToolCall(name=c.function.name, arguments=json.loads(c.function.arguments or "{}"), id=c.id)
            for c in (choice.message.tool_calls or [])
        ]
        usage = Usage(
            prompt_tokens=resp.usage.prompt_tokens if resp.usage else 0,
            completion_tokens=resp.usage.completion_tokens if resp.usage else 0,
            seconds=time.perf_counter() - start,
        )
        return Completion(
            text=choice.message.content or "",
            model=resp.model or self.model_id,
            tool_calls=calls,
            usage=usage,
            finish_reason=choice.finish_reason or "stop",
        )

    def _stream(self, messages: list[Message], config: GenerationConfig, tools: Tools) -> Iterator[str]:
        with self._errors():
            for chunk in self.client.chat.completions.create(stream=True, **self._params(messages, config, tools)):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def _chat_batch(self, batch: list[list[Message]], config: GenerationConfig) -> list[Completion]:
        # A server batches concurrent requests itself (vLLM continuous batching): send them together.
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda m: self._chat(m, config, None), batch))
