"""Any Ganymede backend as a LangChain chat model, tools included.

LangChain's own ChatHuggingFace drops tools for local pipelines (langchain#29033); this adapter passes
them to the backend, which renders them with the model's chat template."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from ganymede.core.backends.base import Backend
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Message

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    out: list[Message] = []
    for msg in messages:
        converted: Message = {"role": _ROLES.get(msg.type, "user"), "content": msg.text}
        if isinstance(msg, AIMessage) and msg.tool_calls:
            converted["tool_calls"] = [
                {"id": c["id"] or "", "type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
                for c in msg.tool_calls
            ]
        if isinstance(msg, ToolMessage):
            converted["tool_call_id"] = msg.tool_call_id
        out.append(converted)
    return out


class GanymedeChatModel(BaseChatModel):
    """`GanymedeChatModel(backend=load_backend("bundled:qwen2.5-coder-1.5b"))`, usable in chains and agents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Backend
    config: GenerationConfig = Field(default_factory=GenerationConfig)
    tools: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return f"ganymede-{self.backend.name}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.backend.ref.raw, **self.config.model_dump()}

    def _config(self, stop: list[str] | None) -> GenerationConfig:
        return self.config.merged(stop=tuple(stop)) if stop else self.config

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = self.backend.chat(to_messages(messages), self._config(stop), tools=self.tools or None)
        message = AIMessage(
            content=result.text,
            tool_calls=[{"name": c.name, "args": c.arguments, "id": c.id} for c in result.tool_calls],
            usage_metadata={
                "input_tokens": result.usage.prompt_tokens,
                "output_tokens": result.usage.completion_tokens,
                "total_tokens": result.usage.total_tokens,
            },
            response_metadata={"model_name": result.model, "finish_reason": result.finish_reason},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for delta in self.backend.stream(to_messages(messages), self._config(stop), tools=self.tools or None):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
            if run_manager:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        schemas = [convert_to_openai_tool(t) for t in tools]
        return self.model_copy(update={"tools": schemas})
