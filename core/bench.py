"""`ganymede bench`: each benchmark runs a baseline and Ganymede in the same process, alternating, and
reports medians and their ratio. Results go to stdout (last line: one JSON object) and, for `all`,
to docs/benchmarks.md. Never timed assertions in tests: these are measurements."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import settings
from core.cliargs import print_json, status
from core.generation import GenerationConfig

DECODE_PROMPT = [{"role": "user", "content": "Write a detailed, multi-paragraph story about a lighthouse keeper."}]


def alternate(runs: int, **variants: Callable[[], float]) -> dict[str, list[float]]:
    """Run each variant once per round, in turn, so drift (thermal, other load) hits all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            samples[name].append(fn())
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def memory_bandwidth_gbs(size_mb: int = 512, repeats: int = 5) -> float:
    """Read bandwidth of one pass over a buffer much larger than the caches (numpy sum)."""
    import numpy as np

    data = np.ones(size_mb * (1 << 20) // 8, dtype=np.float64)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.nbytes / best / 1e9


# -- decode ---------------------------------------------------------------------------------------------
def bench_decode(model: str | None, tokens: int, runs: int) -> dict[str, Any]:
    """Ganymede's llamacpp backend vs raw llama-cpp-python on the same Llama, prompt and settings."""
    from core.backends import load_backend
    from core.backends.llamacpp import gguf_path

    backend = load_backend(model, backend="llamacpp")
    config = GenerationConfig(greedy=True, max_new_tokens=tokens)
    prompt = backend.render(backend_messages := DECODE_PROMPT)  # the exact text the backend sends
    llm = backend.llm

    def decode_rate(completion_tokens: int, seconds: float, ttft: float) -> float:
        return (completion_tokens - 1) / max(seconds - ttft, 1e-9)

    ttfts: dict[str, list[float]] = {"ganymede": [], "raw": []}

    def ganymede() -> float:
        llm.reset()
        start = time.perf_counter()
        stream = backend.stream(backend_messages, config)
        first = None
        for _ in stream:
            first = first or time.perf_counter() - start
        total = time.perf_counter() - start
        ttfts["ganymede"].append(first or total)
        return decode_rate(backend.count_tokens(stream.completion.text), total, first or 0.0)

    def raw() -> float:
        llm.reset()
        start = time.perf_counter()
        first = None
        pieces = []
        for chunk in llm.create_completion(prompt, max_tokens=tokens, temperature=0.0, stream=True):
            first = first or time.perf_counter() - start
            pieces.append(chunk["choices"][0]["text"])
        total = time.perf_counter() - start
        ttfts["raw"].append(first or total)
        return decode_rate(backend.count_tokens("".join(pieces)), total, first or 0.0)

    samples = alternate(runs, ganymede=ganymede, raw=raw)
    model_bytes = gguf_path(backend.ref).stat().st_size
    bandwidth = memory_bandwidth_gbs()
    ours, theirs = median(samples["ganymede"]), median(samples["raw"])
    bound = bandwidth * 1e9 / model_bytes  # every weight is read once per generated token
    return {
        "benchmark": "decode",
        "model": backend.ref.raw,
        "tokens": tokens,
        "runs": runs,
        "tokens_per_s": round(ours, 2),
        "raw_tokens_per_s": round(theirs, 2),
        "ratio_vs_raw": round(ours / theirs, 3) if theirs else None,
        "ttft_s": round(median(ttfts["ganymede"]), 3),
        "raw_ttft_s": round(median(ttfts["raw"]), 3),
        "memory_bandwidth_gbs": round(bandwidth, 2),
        "model_bytes": model_bytes,
        "bound_tokens_per_s": round(bound, 2),
        "fraction_of_bound": round(ours / bound, 3),
    }


# -- prefix (few-shot KV-cache reuse) ---------------------------------------------------------------
def bench_prefix(model: str | None, runs: int) -> dict[str, Any]:
    """Time to first token for requests sharing a long few-shot prefix, with and without prefix reuse."""
    from core.backends import load_backend

    backend = load_backend(model, backend="llamacpp")
    examples = "\n\n".join(
        f"Dialogue {i}:\n#Person1#: Could you check order {1000 + i}? It has not arrived.\n"
        f"#Person2#: Sorry about that; order {1000 + i} left the warehouse on day {i} and should arrive soon.\n"
        f"Summary {i}: #Person1# asks about a late order {1000 + i}; #Person2# says it was shipped."
        for i in range(24)
    )
    system = {"role": "system", "content": "Summarize dialogues in one sentence, like the examples.\n\n" + examples}
    questions = [f"#Person1#: Is the shop open on day {d}?\n#Person2#: Yes, from 9 to 5." for d in range(runs * 2 + 1)]
    config = GenerationConfig(greedy=True, max_new_tokens=1)
    counter = iter(range(10_000))

    def ttft(reuse: bool) -> float:
        if not reuse:
            backend.llm.reset()  # forget the evaluated prefix: the whole prompt is processed again
        messages = [system, {"role": "user", "content": questions[next(counter) % len(questions)]}]
        start = time.perf_counter()
        backend.chat(messages, config)
        return time.perf_counter() - start

    backend.chat([system, {"role": "user", "content": questions[-1]}], config)  # warm the shared prefix once
    samples = alternate(runs, uncached=lambda: ttft(False), cached=lambda: ttft(True))
    # 'cached' runs right after 'uncached' evaluated the same prefix, as a second request would.
    cached, uncached = median(samples["cached"]), median(samples["uncached"])
    return {
        "benchmark": "prefix",
        "model": backend.ref.raw,
        "prefix_tokens": backend.count_tokens([system]),
        "runs": runs,
        "ttft_cached_s": round(cached, 3),
        "ttft_uncached_s": round(uncached, 3),
        "speedup": round(uncached / cached, 2) if cached else None,
    }


# -- serve ------------------------------------------------------------------------------------------------
def bench_serve(model: str | None, requests_per_client: int, levels: tuple[int, ...]) -> dict[str, Any]:
    """`ganymede serve` on loopback under 1, 4, 16 concurrent clients (bounded; stops by itself)."""
    import socket

    import httpx
    import uvicorn

    from core.backends import load_backend
    from core.server import create_app

    backend = load_backend(model)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    body = {"messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 8, "temperature": 0}
    results = []
    try:
        for clients in levels:
            latencies: list[float] = []
            errors = 0
            lock = threading.Lock()

            def client(latencies: list[float] = latencies, lock: threading.Lock = lock) -> None:
                nonlocal errors
                with httpx.Client(timeout=600) as http:
                    for _ in range(requests_per_client):
                        start = time.perf_counter()
                        try:
                            ok = http.post(f"{url}/v1/chat/completions", json=body).status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        with lock:
                            latencies.append(time.perf_counter() - start)
                            errors += 0 if ok else 1

            start = time.perf_counter()
            workers = [threading.Thread(target=client) for _ in range(clients)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            wall = time.perf_counter() - start
            ordered = sorted(latencies)
            results.append(
                {
                    "clients": clients,
                    "requests": len(latencies),
                    "errors": errors,
                    "requests_per_s": round(len(latencies) / wall, 2),
                    "p50_s": round(ordered[len(ordered) // 2], 3),
                    "p95_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
                }
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"benchmark": "serve", "model": backend.ref.raw, "levels": results}


# -- startup ------------------------------------------------------------------------------------------
def bench_startup(model: str | None, runs: int) -> dict[str, Any]:
    """`ganymede --help` against a bare `python -c pass`; `ganymede chat -m` wall time minus model load."""

    def wall(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env={**os.environ, "GANYMEDE_LOG": "0"})
        return time.perf_counter() - start

    samples = alternate(
        runs,
        python=lambda: wall([sys.executable, "-c", "pass"]),
        help=lambda: wall([sys.executable, "-m", "core.cli", "--help"]),
    )
    from core.backends import registry

    start = time.perf_counter()
    registry.load_backend(model)
    load = time.perf_counter() - start
    registry.unload_all()
    chat = median(
        [
            wall(
                [sys.executable, "-m", "core.cli", "chat", "-m", "Say OK.", "--greedy", "--max-new-tokens", "4"]
                + (["--model", model] if model else [])
            )
            for _ in range(max(1, runs // 3))
        ]
    )
    return {
        "benchmark": "startup",
        "help_s": round(median(samples["help"]), 3),
        "python_s": round(median(samples["python"]), 3),
        "help_overhead_s": round(median(samples["help"]) - median(samples["python"]), 3),
        "chat_wall_s": round(chat, 2),
        "model_load_s": round(load, 2),
        "chat_minus_load_s": round(chat - load, 2),
    }


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "decode": lambda a: bench_decode(a.model, a.tokens, a.runs),
    "prefix": lambda a: bench_prefix(a.model, a.runs),
    "serve": lambda a: bench_serve(a.model, a.requests, (1, 4, 16)),
    "startup": lambda a: bench_startup(a.model, a.runs),
}


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    )


def to_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}. Produced by `ganymede bench all` on {time.strftime('%Y-%m-%d')}.",
        "Each row: medians over alternating runs; the ratio is against the baseline measured in the same run.",
        "",
    ]
    for result in results:
        lines += [f"## {result['benchmark']}", "", "| figure | value |", "|---|---|"]
        for key, value in result.items():
            if key != "benchmark":
                lines.append(f"| {key} | {json.dumps(value) if isinstance(value, list | dict) else value} |")
        lines.append("")
    return "\n".join(lines)


def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="benchmarks with ratios against baselines (make bench)")
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--model", help="model reference (default: the bundled default)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="tokens to decode (decode)")
    parser.add_argument("--requests", type=int, default=4, help="requests per client (serve)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--out", default=str(settings.repo_root() / "docs" / "benchmarks.md"))
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    results = []
    for name in names:
        with status(f"benchmark {name}"):
            results.append(BENCHMARKS[name](args))
        if not args.json:
            print(json.dumps(results[-1], indent=2), file=sys.stderr)
    if args.name == "all":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(to_markdown(results), encoding="utf-8")
        os.replace(tmp, out)
    print_json(results[0] if len(results) == 1 else {"benchmarks": results})
    return 0
