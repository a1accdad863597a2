"""`ganymede serve`: any backend behind an OpenAI-compatible API (/v1/models, /v1/chat/completions).

What a client of OpenAI's API expects, and gets here:
- every bad request is a 4xx in OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`,
  never a 500 or FastAPI's own 422 shape; an argument the server does not implement is refused by name
  (as OpenAI refuses an unrecognized one), never silently ignored;
- responses and stream chunks are built with the `openai` SDK's own types;
- a streamed reply that calls tools sends `delta.tool_calls` and `finish_reason: "tool_calls"`;
- a client that disconnects mid-stream stops generation at the next token, so the model (one KV cache, one
  lock) is free for the next request at once;
- with an API key (`--api-key` or GANYMEDE_API_KEY) every request needs `Authorization: Bearer KEY`; a
  server on a non-loopback address without one is refused, as `ganymede ui` refuses one without `--auth`.

A backend with continuous batching (llama.cpp: `submit`) decodes concurrent plain requests together, each
joining the running batch at the next step; other requests (tools, other backends) queue on the backend's
lock instead of failing."""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ganymede.core.backends.base import Backend
from ganymede.core.calllog import call_context
from ganymede.core.errors import ContextWindowExceededError, GanymedeError
from ganymede.core.generation import GenerationConfig
from ganymede.core.messages import Completion

ROLES = ("system", "developer", "user", "assistant", "tool")

#: OpenAI arguments this server does not implement, with the value that means "not used" (accepted).
UNSUPPORTED: dict[str, Any] = {
    "n": 1,
    "logprobs": False,
    "top_logprobs": None,
    "logit_bias": None,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "response_format": None,
    "audio": None,
    "modalities": None,
    "prediction": None,
    "functions": None,
    "function_call": None,
    "web_search_options": None,
}
#: accepted and without effect on a local model (OpenAI bookkeeping).
IGNORED = ("user", "store", "metadata", "service_tier", "parallel_tool_calls", "stream_options", "reasoning_effort")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function"]
    function: ToolFunction


class ChatRequest(BaseModel):
    """OpenAI's request, the part that maps onto GenerationConfig and the backend; the rest is refused by name."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    tools: list[ToolSpec] | None = None
    tool_choice: str | dict[str, Any] | None = None

    @field_validator("tool_choice")
    @classmethod
    def _supported_tool_choice(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value not in (None, "auto", "none"):
            raise ValueError("only 'auto' and 'none' are supported")
        return value

    def unsupported(self) -> list[str]:
        """Arguments given with a value this server would have to ignore."""
        extra = self.model_extra or {}
        refused = [k for k, v in extra.items() if k in UNSUPPORTED and v not in (UNSUPPORTED[k], None)]
        unknown = [k for k in extra if k not in UNSUPPORTED and k not in IGNORED]
        return sorted(refused + unknown)

    def wire_messages(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_none=True) for m in self.messages]

    def wire_tools(self) -> list[dict[str, Any]] | None:
        if not self.tools or self.tool_choice == "none":
            return None
        return [t.model_dump(exclude_none=True) for t in self.tools]

    def generation_config(self) -> GenerationConfig:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        greedy = self.temperature == 0 if self.temperature is not None else None
        # OpenAI clients send top_p=1 with temperature=0 out of habit: nothing to warn about.
        decodes_greedily = greedy if greedy is not None else GenerationConfig().greedy
        return GenerationConfig().merged(
            max_new_tokens=self.max_completion_tokens or self.max_tokens,
            greedy=greedy,
            temperature=self.temperature or None,
            top_p=None if decodes_greedily else self.top_p,
            top_k=None if decodes_greedily else self.top_k,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            stop=tuple(stop) if stop else None,
        )


class APIError(Exception):
    """A request the server refuses, rendered in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(status_code=self.status, content=body, headers=headers)


def _validation_error(exc: RequestValidationError | ValidationError) -> APIError:
    """The first problem, named the way OpenAI names a parameter (`messages[0].role`)."""
    first = exc.errors()[0]
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ""
    for part in location:
        param += f"[{part}]" if part.isdigit() else (f".{part}" if param else part)
    message = first.get("msg", "invalid request")
    if param.endswith(".role") or param == "role":
        message = f"{message}; a message's role is one of: {', '.join(ROLES)}"
    if first.get("type") == "json_invalid":
        return APIError(400, "the request body is not valid JSON", code="invalid_json")
    return APIError(400, f"Invalid value for '{param or 'body'}': {message}", param=param or None)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, api_key: str | None) -> None:
    """Refuse to serve beyond this machine without an API key."""
    if not api_key and not _is_loopback(host):
        raise GanymedeError(
            f"refusing to serve on {host} without an API key: anyone who can reach it could use the model",
            "give --api-key KEY (or set GANYMEDE_API_KEY), or serve on 127.0.0.1",
        )


def create_app(backend: Backend, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="Ganymede OpenAI-compatible API")
    model_name = backend.ref.raw
    served_names = {model_name, backend.ref.name, backend.model_id}

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.middleware("http")
    async def _authenticate(request: Request, call_next: Any) -> Any:
        if api_key and request.url.path != "/health":
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
                return APIError(401, "missing or wrong API key", code="invalid_api_key").response()
        return await call_next(request)

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "ganymede"}]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model_name}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(http_request: Request) -> Any:
        from starlette.concurrency import run_in_threadpool

        request = await _parse(http_request)
        if request.model and request.model not in served_names:
            raise APIError(
                404,
                f"The model '{request.model}' does not exist; this server serves '{model_name}'",
                param="model",
                code="model_not_found",
            )
        unsupported = request.unsupported()
        if unsupported:
            raise APIError(
                400,
                f"Unsupported request argument(s): {', '.join(unsupported)} (this server implements the "
                "chat settings max_tokens, temperature, top_p, top_k, seed, stop, tools and stream)",
                param=unsupported[0],
                code="unsupported_parameter",
            )
        try:
            config = request.generation_config()
        except GanymedeError as exc:
            raise APIError(400, str(exc)) from None
        reply = _Reply(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), model_name, config)
        if request.stream:
            return _EventStream(_stream_events(backend, request, config, reply))
        result = await run_in_threadpool(_complete, backend, request, config)
        return reply.completion(result).model_dump(mode="json", exclude_none=True)

    return app


async def _parse(http_request: Request) -> ChatRequest:
    try:
        body = await http_request.json()
    except ValueError:
        raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _batched(backend: Backend, request: ChatRequest, config: GenerationConfig) -> Any:
    """The request queued on the backend's running batch (continuous batching: llama.cpp), or None where the
    backend has none or the request needs what a batch row lacks (tools, a JSON schema, a long prompt)."""
    submit = getattr(backend, "submit", None)
    if submit is None or request.wire_tools():
        return None
    return submit(request.wire_messages(), config)


def _complete(backend: Backend, request: ChatRequest, config: GenerationConfig) -> Completion:
    try:
        with call_context(app="serve"):
            handle = _batched(backend, request, config)
            if handle is not None:
                try:
                    return handle.result()
                finally:
                    handle.cancel()
            return backend.chat(request.wire_messages(), config, tools=request.wire_tools())
    except ContextWindowExceededError as exc:
        raise APIError(400, str(exc), code="context_length_exceeded", kind="context_length_exceeded") from None
    except GanymedeError as exc:
        raise APIError(500, str(exc), kind="server_error") from None


class _Reply:
    """One response's identity, and its body or chunks as the `openai` SDK's own types."""

    def __init__(self, completion_id: str, created: int, model: str, config: GenerationConfig) -> None:
        self.id, self.created, self.model, self.config = completion_id, created, model, config

    def finish_reason(self, result: Completion) -> str:
        if result.tool_calls:
            return "tool_calls"
        if result.finish_reason == "length" or result.usage.completion_tokens >= self.config.max_new_tokens:
            return "length"
        return result.finish_reason or "stop"

    def completion(self, result: Completion) -> Any:
        from openai.types.chat import ChatCompletion

        message: dict[str, Any] = {"role": "assistant", "content": result.text or None}
        if result.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in result.tool_calls]
        return ChatCompletion.model_validate(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason(result)}],
                "usage": {
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                    "total_tokens": result.usage.total_tokens,
                },
            }
        )

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        from openai.types.chat import ChatCompletionChunk

        body = ChatCompletionChunk.model_validate(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )
        return f"data: {json.dumps(body.model_dump(mode='json', exclude_none=True), ensure_ascii=False)}\n\n"


def _stream_events(backend: Backend, request: ChatRequest, config: GenerationConfig, reply: _Reply) -> Iterator[str]:
    """Server-sent events. With tools, the reply is generated whole first: whether it is a tool call is known
    only at its end, and a call's JSON must never reach the client as text."""
    try:
        tools = request.wire_tools()
        yield reply.chunk({"role": "assistant", "content": ""})
        if tools:
            result = _complete(backend, request, config)
            if result.text and not result.tool_calls:
                yield reply.chunk({"content": result.text})
            calls = [{"index": i, **call.to_openai()} for i, call in enumerate(result.tool_calls)]
            if calls:
                yield reply.chunk({"tool_calls": calls})
            yield reply.chunk({}, reply.finish_reason(result))
        else:
            with call_context(app="serve"):
                handle = _batched(backend, request, config)
                stream = backend.stream(request.wire_messages(), config) if handle is None else None
            if handle is not None:
                try:
                    for delta in handle.deltas():
                        yield reply.chunk({"content": delta})
                finally:
                    handle.cancel()  # a client gone: its slot is free at the next step
                yield reply.chunk({}, reply.finish_reason(handle.completion))
            else:
                assert stream is not None
                try:
                    for delta in stream:
                        yield reply.chunk({"content": delta})
                finally:
                    stream.close()
                assert stream.completion is not None
                yield reply.chunk({}, reply.finish_reason(stream.completion))
    except APIError as exc:
        yield f"data: {json.dumps({'error': {'message': exc.message, 'type': exc.kind, 'code': exc.code}})}\n\n"
    except GanymedeError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error', 'code': None}})}\n\n"
    yield "data: [DONE]\n\n"


class _EventStream(StreamingResponse):
    """Server-sent events pulled one at a time from a worker thread. However the response ends (done, the
    client gone, the server stopping) the events are closed there and then, which stops generation at the
    next token and releases the model's lock: Starlette abandons a body iterator whose client left without
    closing it, and an abandoned generator would hold the model until garbage collection."""

    def __init__(self, events: Iterator[str]) -> None:
        self._events = events
        super().__init__(self._pull(), media_type="text/event-stream")

    async def _pull(self) -> AsyncIterator[str]:
        from starlette.concurrency import run_in_threadpool

        end = object()
        while (event := await run_in_threadpool(next, self._events, end)) is not end:
            yield event

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio
        from starlette.concurrency import run_in_threadpool

        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self._events.close)  # type: ignore[attr-defined]


def serve(model: str | None, backend: str | None, host: str, port: int, api_key: str | None = None) -> None:
    import uvicorn

    from ganymede.core.backends import load_backend

    check_binding(host, api_key)
    loaded = load_backend(model, backend=backend)
    print(f"Serving {loaded.describe()} at http://{host}:{port}/v1", flush=True)
    uvicorn.run(create_app(loaded, api_key=api_key), host=host, port=port, log_level="warning")
