"""`ganymede serve`: any backend behind an OpenAI-compatible API (/v1/models, /v1/chat/completions).

Local backends hold one KV cache, so requests queue on the backend's lock instead of failing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from ganymede.core.backends.base import Backend
from ganymede.core.calllog import call_context
from ganymede.core.errors import ContextWindowExceededError, GanymedeError
from ganymede.core.generation import GenerationConfig
from pydantic import BaseModel, ConfigDict


class ChatRequest(BaseModel):
    """The subset of OpenAI's request that maps onto GenerationConfig; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    tools: list[dict[str, Any]] | None = None

    def generation_config(self) -> GenerationConfig:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return GenerationConfig().merged(
            max_new_tokens=self.max_completion_tokens or self.max_tokens,
            greedy=self.temperature == 0 if self.temperature is not None else None,
            temperature=self.temperature or None,
            top_p=self.top_p,
            top_k=self.top_k,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            stop=tuple(stop) if stop else None,
        )


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}})


def create_app(backend: Backend) -> FastAPI:
    app = FastAPI(title="Ganymede OpenAI-compatible API")
    model_name = backend.ref.raw

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "ganymede"}]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model_name}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(request: ChatRequest) -> Any:
        try:
            config = request.generation_config()
        except GanymedeError as exc:
            return _error(400, str(exc))
        created = int(time.time())
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if request.stream:
            return StreamingResponse(
                _sse(backend, request, config, completion_id, created, model_name), media_type="text/event-stream"
            )
        try:
            with call_context(app="serve"):
                result = backend.chat(request.messages, config, tools=request.tools)
        except ContextWindowExceededError as exc:
            return _error(400, str(exc), "context_length_exceeded")
        except GanymedeError as exc:
            return _error(500, str(exc), "server_error")
        message: dict[str, Any] = {"role": "assistant", "content": result.text or None}
        if result.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in result.tool_calls]
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": result.finish_reason}],
            "usage": {
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "total_tokens": result.usage.total_tokens,
            },
        }

    return app


def _sse(
    backend: Backend, request: ChatRequest, config: GenerationConfig, completion_id: str, created: int, model: str
) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        with call_context(app="serve"):
            stream = backend.stream(request.messages, config, tools=request.tools)
        yield chunk({"role": "assistant", "content": ""})
        for delta in stream:
            yield chunk({"content": delta})
        yield chunk({}, "stop")
    except GanymedeError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"


def serve(model: str | None, backend: str | None, host: str, port: int) -> None:
    import uvicorn
    from ganymede.core.backends import load_backend

    loaded = load_backend(model, backend=backend)
    print(f"Serving {loaded.describe()} at http://{host}:{port}/v1", flush=True)
    uvicorn.run(create_app(loaded), host=host, port=port, log_level="warning")
