"""`ganymede bench`: each benchmark runs a baseline and Ganymede in the same process, alternating, and
reports medians and their ratio. Results go to stdout (last line: one JSON object) and, for `all`,
to docs/benchmarks.md. Never timed assertions in tests: these are measurements."""

from __future__ import annotations

import argparse
import itertools
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

from ganymede.apps import app
from ganymede.apps.translate.bench import bench_translate
from ganymede.core import settings
from ganymede.core.cliargs import print_json, status
from ganymede.core.errors import GanymedeError
from ganymede.core.fileio import write_atomic
from ganymede.core.generation import GenerationConfig

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
    from ganymede.core.backends import load_backend
    from ganymede.core.backends.llamacpp import gguf_path

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
    from ganymede.core.backends import load_backend

    # In-process reuse only: the on-disk prompt cache would turn 'uncached' into a load (bench prompt-cache).
    backend = load_backend(model, backend="llamacpp", prompt_cache=False)
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
def bench_serve(
    model: str | None, requests_per_client: int, levels: tuple[int, ...], max_tokens: int = 64
) -> dict[str, Any]:
    """`ganymede serve` on loopback under 1 and more concurrent clients, each asking for `max_tokens` tokens
    (bounded; stops by itself): aggregate generated tokens/s against one client's, latency percentiles."""
    import socket

    import httpx
    import uvicorn

    from ganymede.core.backends import load_backend
    from ganymede.core.server import create_app

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

    def body(i: int) -> dict[str, Any]:
        topic = STORY_TOPICS[i % len(STORY_TOPICS)]
        content = f"Write a long story about {topic}."
        return {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "temperature": 0}

    results = []
    try:
        httpx.post(f"{url}/v1/chat/completions", json=body(0), timeout=600)  # warm-up: the batch context
        for clients in levels:
            latencies: list[float] = []
            tokens = [0]
            errors = 0
            lock = threading.Lock()

            def client(
                n: int, latencies: list[float] = latencies, lock: threading.Lock = lock, tokens: list[int] = tokens
            ) -> None:
                nonlocal errors
                with httpx.Client(timeout=600) as http:
                    for r in range(requests_per_client):
                        start = time.perf_counter()
                        try:
                            response = http.post(f"{url}/v1/chat/completions", json=body(n + r))
                            ok = response.status_code == 200
                            generated = response.json()["usage"]["completion_tokens"] if ok else 0
                        except httpx.HTTPError:
                            ok, generated = False, 0
                        with lock:
                            latencies.append(time.perf_counter() - start)
                            errors += 0 if ok else 1
                            tokens[0] += generated

            start = time.perf_counter()
            workers = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
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
                    "tokens_per_s": round(tokens[0] / wall, 1),
                    "p50_s": round(ordered[len(ordered) // 2], 3),
                    "p95_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
                }
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    one = results[0]["tokens_per_s"] or 1e-9
    return {
        "benchmark": "serve",
        "model": backend.ref.raw,
        "max_tokens": max_tokens,
        "levels": results,
        "tokens_per_s_ratio_vs_1_client": {r["clients"]: round(r["tokens_per_s"] / one, 2) for r in results},
    }


# -- batch summarization -------------------------------------------------------------------------------
def dialogsum_rows(count: int) -> list[Any]:
    read_eval_rows = app("summarize").read_eval_rows

    path = settings.shared_data_dir() / "dialogsum" / "dev.jsonl"
    if not path.is_file():
        raise GanymedeError(f"DialogSum dev data not found at {path}", "set GANYMEDE_DATA to the shared data folder")
    return read_eval_rows(path, limit=count)


def bench_batch(
    model: str | None, count: int, batch_size: int | None, backend_name: str = "llamacpp"
) -> dict[str, Any]:
    """Dialogues per minute: the summarizer's batched path (`chat_batch`) vs one request per dialogue, same
    backend, prompt and greedy settings; and whether the batched summaries are the one-at-a-time ones."""
    Summarizer = app("summarize").Summarizer
    from ganymede.core.backends import load_backend

    rows = dialogsum_rows(count)
    options = {"batch_size": batch_size} if batch_size else {}
    backend = load_backend(model, backend=backend_name, **options)
    summarizer = Summarizer(backend, summarizer_config())
    texts: dict[str, list[str]] = {}

    def one_at_a_time() -> float:
        start = time.perf_counter()
        texts["single"] = [summarizer.summarize(row).summary for row in rows]
        return time.perf_counter() - start

    def batched() -> float:
        start = time.perf_counter()
        results = summarizer.summarize_many(rows)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            raise failures[0]
        texts["batched"] = [r.summary for r in results]  # type: ignore[union-attr]
        return time.perf_counter() - start

    samples = alternate(1, one_at_a_time=one_at_a_time, batched=batched)
    single, batch = median(samples["one_at_a_time"]), median(samples["batched"])
    same = sum(a == b for a, b in zip(texts["single"], texts["batched"], strict=True))
    return {
        "benchmark": "batch",
        "model": backend.ref.raw,
        "backend": backend.name,
        "dialogues": len(rows),
        "batch_size": backend.batch_size,
        "one_at_a_time_per_min": round(len(rows) * 60 / single, 2),
        "batched_per_min": round(len(rows) * 60 / batch, 2),
        "ratio": round(single / batch, 2),
        "identical_summaries": f"{same}/{len(rows)}",
    }


STORY_TOPICS = ("a lighthouse", "a dragon", "a robot", "a baker", "a river", "a city", "a violin", "a comet")


def bench_batch_size(model: str | None, sizes: tuple[int, ...], tokens: int) -> dict[str, Any]:
    """Aggregate decode tokens/s of the llamacpp batch engine at each batch size (prompts evaluated before the
    clock starts), beside the compute ceiling: prompt processing, which runs 512 tokens per step."""
    from ganymede.core.backends import load_backend
    from ganymede.core.backends.llamacpp_batch import BatchEngine, Row

    backend = load_backend(model, backend="llamacpp")
    config = GenerationConfig(greedy=True, max_new_tokens=tokens)
    prompts = [
        backend.prompt_tokens(backend.render([{"role": "user", "content": f"Write a long story about {t}."}]))
        for t in STORY_TOPICS * (max(sizes) // len(STORY_TOPICS) + 1)
    ]
    # each stream holds at least 512 cells: the ceiling measurement evaluates 512 tokens into one
    engine = BatchEngine(backend.llm, max(sizes), max(512, -(-(max(map(len, prompts)) + tokens) // 256) * 256))
    levels = []
    try:
        for size in sizes:
            rows = [Row(tokens=p, config=config, max_tokens=tokens) for p in prompts[:size]]
            for row in rows:
                engine.admit(row)
            start = time.perf_counter()
            generated = 0
            while any(not r.done for r in rows):
                generated += len(engine.step())
            seconds = time.perf_counter() - start
            engine.reap()
            levels.append({"batch_size": size, "tokens_per_s": round(generated / seconds, 1)})
        filler = (prompts[0] * (512 // len(prompts[0]) + 1))[:512]
        engine.set_prefix([])
        start = time.perf_counter()
        engine.set_prefix(filler)  # 512 prompt tokens in one llama_decode
        ceiling = 512 / (time.perf_counter() - start)
    finally:
        engine.close()
    best = max(levels, key=lambda level: level["tokens_per_s"])
    # where throughput stops rising: the first size whose next doubling adds under 10%
    knee = next(
        (a["batch_size"] for a, b in itertools.pairwise(levels) if b["tokens_per_s"] < 1.1 * a["tokens_per_s"]),
        levels[-1]["batch_size"],
    )
    return {
        "benchmark": "batch-size",
        "model": backend.ref.raw,
        "tokens_per_row": tokens,
        "levels": levels,
        "speedup_at_best": round(best["tokens_per_s"] / levels[0]["tokens_per_s"], 2),
        "throughput_stops_rising_at": knee,
        "prompt_tokens_per_s_ceiling": round(ceiling, 1),
        "best_fraction_of_ceiling": round(best["tokens_per_s"] / ceiling, 3),
    }


def bench_candidates(model: str | None, sentences: int, candidates: int) -> dict[str, Any]:
    """`translate --candidates N`'s model work for NTREX sentences: N candidates (the greedy one, then seeded
    samples, one config per row) as one `chat_batch`, against N sequential calls and one greedy call."""
    from ganymede.core.backends import load_backend

    path = settings.shared_data_dir() / "ntrex128" / "eng-deu.dev.jsonl"
    if not path.is_file():
        raise GanymedeError(f"NTREX data not found at {path}", "set GANYMEDE_DATA to the shared data folder")
    with path.open(encoding="utf-8") as handle:
        sources = [json.loads(line)["source"] for _, line in zip(range(sentences), handle, strict=False)]
    backend = load_backend(model, backend="llamacpp")
    greedy = GenerationConfig(greedy=True, max_new_tokens=96)
    configs = [greedy] + [
        GenerationConfig(temperature=0.7, top_p=0.95, top_k=40, seed=seed, max_new_tokens=96)
        for seed in range(1, candidates)
    ]
    prompts = [
        [{"role": "user", "content": f"Translate into German. Reply with the translation only.\n\n{s}"}]
        for s in sources
    ]

    def timed(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    samples = alternate(
        1,
        one_greedy=lambda: timed(lambda: [backend.chat(p, greedy) for p in prompts]),
        sequential=lambda: timed(lambda: [backend.chat(p, c) for p in prompts for c in configs]),
        batched=lambda: timed(lambda: [backend.chat_batch([p] * candidates, configs) for p in prompts]),
    )
    one, seq, batch = (median(samples[k]) for k in ("one_greedy", "sequential", "batched"))
    return {
        "benchmark": "candidates",
        "model": backend.ref.raw,
        "sentences": len(prompts),
        "candidates": candidates,
        "one_greedy_s": round(one, 2),
        "sequential_s": round(seq, 2),
        "batched_s": round(batch, 2),
        "sequential_vs_greedy": round(seq / one, 2),
        "batched_vs_greedy": round(batch / one, 2),
        "speedup": round(seq / batch, 2),
    }


def summarizer_config() -> GenerationConfig:
    PROMPT = app("summarize").PROMPT
    from ganymede.core.prompts import load_prompt

    return load_prompt(PROMPT).config().merged(greedy=True)


# -- prompt cache (a second process) ------------------------------------------------------------------
def prompt_cache_child(model: str | None) -> None:
    """In a fresh process: time to first token of `ganymede summarize`'s default few-shot prompt on one
    DialogSum dialogue (model load not timed); prints one JSON line."""
    from ganymede.core.backends import load_backend
    from ganymede.core.backends.prompt_cache import fixed_messages

    backend = load_backend(model, backend="llamacpp")
    summarizer = app("summarize").Summarizer(backend, summarizer_config())
    messages = summarizer.plan(dialogsum_rows(1)[0]).messages
    start = time.perf_counter()
    with fixed_messages(len(messages) - 1):  # as the summarizer declares it
        stream = backend.stream(messages, GenerationConfig(greedy=True, max_new_tokens=8))
        first = None
        for _ in stream:
            first = first or time.perf_counter() - start
    print(
        json.dumps({"ttft_s": first, "prompt_tokens": backend.count_tokens(messages), "text": stream.completion.text})
    )


def bench_prompt_cache(model: str | None, runs: int) -> dict[str, Any]:
    """Time to first token of a first process (empty prompt cache: the few-shot prefix is evaluated and saved)
    against a second one (the prefix loaded from disk); alternating pairs, each with a fresh cache folder."""
    import shutil
    import tempfile

    def child(folder: str) -> dict[str, Any]:
        code = f"from ganymede.bench import prompt_cache_child; prompt_cache_child({model!r})"
        env = {**os.environ, "GANYMEDE_PROMPT_CACHE_DIR": folder, "GANYMEDE_LOG": "0"}
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
        return json.loads(done.stdout.strip().splitlines()[-1])

    firsts, seconds, same = [], [], True
    for _ in range(runs):
        folder = tempfile.mkdtemp(prefix="ganymede-kv-")
        try:
            first, second = child(folder), child(folder)
            cached_bytes = sum(p.stat().st_size for p in Path(folder).glob("*.kv"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        firsts.append(first["ttft_s"])
        seconds.append(second["ttft_s"])
        same = same and first["text"] == second["text"]
    cold, warm = median(firsts), median(seconds)
    return {
        "benchmark": "prompt-cache",
        "model": model or settings.default_model(),
        "prompt_tokens": first["prompt_tokens"],
        "runs": runs,
        "first_process_ttft_s": round(cold, 3),
        "second_process_ttft_s": round(warm, 3),
        "speedup": round(cold / warm, 2) if warm else None,
        "same_reply": same,
        "cache_file_mb": round(cached_bytes / 2**20, 1),
    }


# -- NER --------------------------------------------------------------------------------------------------
def short_articles(count: int, sentences_per_article: int = 3) -> list[str]:
    """`count` short news articles: consecutive CoNLL-2003 dev sentences, detokenized, cycled if needed."""
    read_conll = app("ner").read_conll

    path = settings.shared_data_dir() / "conll2003" / "eng.testa"
    if not path.is_file():
        raise GanymedeError(f"CoNLL-2003 dev data not found at {path}", "set GANYMEDE_DATA to the shared data folder")
    sentences = [" ".join(s.words) for s in read_conll(path)]
    articles = [
        " ".join(sentences[i : i + sentences_per_article]) for i in range(0, len(sentences), sentences_per_article)
    ]
    return [articles[i % len(articles)] for i in range(count)]


def bench_ner(count: int, runs: int) -> dict[str, Any]:
    """Documents per second for the spaCy engines: `nlp.pipe` batching (what Ganymede runs) vs one `nlp(text)`
    call per document; and the whole `ganymede ner` command over `count` files (start-up and I/O included)."""
    import tempfile

    load_engine = app("ner").load_engine

    texts = short_articles(count)
    engines = {}
    for name in ("spacy", "news"):
        engine = load_engine(name)
        nlp = engine.nlp

        def piped(engine: Any = engine) -> float:
            start = time.perf_counter()
            engine.extract(texts)
            return time.perf_counter() - start

        def one_by_one(nlp: Any = nlp) -> float:
            start = time.perf_counter()
            for text in texts:
                nlp(text)
            return time.perf_counter() - start

        samples = alternate(runs, one_by_one=one_by_one, piped=piped)
        single, piped_s = median(samples["one_by_one"]), median(samples["piped"])
        engines[name] = {
            "docs_per_s": round(len(texts) / piped_s, 1),
            "one_by_one_docs_per_s": round(len(texts) / single, 1),
            "ratio": round(single / piped_s, 2),
        }
    with tempfile.TemporaryDirectory() as folder:
        for i, text in enumerate(texts):
            Path(folder, f"article-{i:04d}.txt").write_text(text, encoding="utf-8")
        out = Path(folder, "entities.jsonl")
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ganymede.cli", "ner", folder, "--engine", "spacy", "-o", str(out)],
            check=True,
            capture_output=True,
        )
        command_s = time.perf_counter() - start
    return {
        "benchmark": "ner",
        "documents": len(texts),
        "runs": runs,
        **{f"{name}_{key}": value for name, figures in engines.items() for key, value in figures.items()},
        "command_wall_s": round(command_s, 2),
        "command_docs_per_s": round(len(texts) / command_s, 1),
    }


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
        help=lambda: wall([sys.executable, "-m", "ganymede.cli", "--help"]),
    )
    from ganymede.core.backends import registry

    start = time.perf_counter()
    registry.load_backend(model)
    load = time.perf_counter() - start
    registry.unload_all()
    chat = median(
        [
            wall(
                [sys.executable, "-m", "ganymede.cli", "chat", "-m", "Say OK.", "--greedy", "--max-new-tokens", "4"]
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
    "batch": lambda a: bench_batch(a.model, a.dialogues, a.batch_size, a.backend),
    "batch-size": lambda a: bench_batch_size(a.model, (1, 2, 4, 8, 16), a.tokens),
    "candidates": lambda a: bench_candidates(a.model, a.sentences, a.candidates),
    "prefix": lambda a: bench_prefix(a.model, a.runs),
    "prompt-cache": lambda a: bench_prompt_cache(a.model, max(1, a.runs // 2)),
    "serve": lambda a: bench_serve(a.model, a.requests, (1, 8), a.max_tokens),
    "ner": lambda a: bench_ner(a.documents, a.runs),
    "startup": lambda a: bench_startup(a.model, a.runs),
    # apps/translate/bench.py: the old Markdown path against today's on a 3 KB page, alternating
    "translate": lambda a: bench_translate(a.model, a.runs, alternate),
}


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    )


def to_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Produced by `ganymede bench NAME` (`make bench` runs them all). Each section: medians over alternating",
        "runs; a ratio is against the baseline measured in the same run, on the machine and date given.",
        "",
        "Throughput on llamacpp (issue 20): `bench batch` (32 DialogSum dialogues through `chat_batch`, batched",
        "vs one at a time, and how many greedy summaries are identical), `bench batch-size` (aggregate decode",
        "tokens/s at 1-16 sequences per step against the prompt-processing ceiling), `bench candidates`",
        "(8 candidates of one prompt as one batch vs 8 calls), `bench prompt-cache` (time to first token of a",
        "second process, the few-shot prefix loaded from disk), `bench serve` (8 clients vs 1, 64 tokens each).",
        "Measure them on an idle machine: other processes on 2 cores make every figure several times worse.",
        "",
    ]
    for result in results:
        lines += [f"## {result['benchmark']}", "", "| figure | value |", "|---|---|"]
        for key, value in result.items():
            if key != "benchmark":
                lines.append(f"| {key} | {json.dumps(value) if isinstance(value, list | dict) else value} |")
        lines.append("")
    return "\n".join(lines)


def record(results: list[dict[str, Any]], out: Path) -> None:
    """Merge these results into `out` (.json beside the .md): a run of one benchmark keeps the others'."""
    store = out.with_suffix(".json")
    stored = json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
    for result in results:
        stored[result["benchmark"]] = {
            **result,
            "machine": machine(),
            # other work on the machine skews absolute figures (ratios less so): say how busy it was
            "load_average_1m": round(os.getloadavg()[0], 2),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        }
    ordered = [stored[name] for name in BENCHMARKS if name in stored]
    write_atomic(store, json.dumps(stored, indent=2) + "\n")
    write_atomic(out, to_markdown(ordered))


def add_cli(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="benchmarks with ratios against baselines (make bench)")
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--model", help="model reference (default: the bundled default)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="tokens to decode (decode)")
    parser.add_argument("--requests", type=int, default=4, help="requests per client (serve)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens each request asks for (serve)")
    parser.add_argument("--dialogues", type=int, default=32, help="DialogSum dev dialogues (batch)")
    parser.add_argument("--batch-size", type=int, help="sequences decoded together (batch; default: the backend's, 8)")
    parser.add_argument(
        "--backend", default="llamacpp", help="backend for the batch benchmark (llamacpp, transformers)"
    )
    parser.add_argument("--sentences", type=int, default=5, help="NTREX sentences (candidates)")
    parser.add_argument("--candidates", type=int, default=8, help="candidates per sentence (candidates)")
    parser.add_argument("--documents", type=int, default=1000, help="short articles (ner)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--out", default=str(settings.repo_root() / "docs" / "benchmarks.md"))
    parser.add_argument("--no-record", action="store_true", help="do not update --out (and its .json)")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    results = []
    for name in names:
        with status(f"benchmark {name}"):
            results.append(BENCHMARKS[name](args))
        if not args.json:
            print(json.dumps(results[-1], indent=2), file=sys.stderr)
    if not args.no_record:
        record(results, Path(args.out))
    print_json(results[0] if len(results) == 1 else {"benchmarks": results})
    return 0
