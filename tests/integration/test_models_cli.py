"""`ganymede models` as a user runs it: pull from a hub-shaped server, list, use by name, remove; and a model
found in another tool's store (Ollama) answering `ganymede chat --model NAME`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hubfake import place_in_ollama_store, serve_fake_hub, tiny_gguf


def ganymede(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ganymede", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user with an empty Ganymede home, hub cache and Ollama store (HF telemetry off, as for any test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "OLLAMA", "GANYMEDE_MODEL"))}
    env |= {
        "GANYMEDE_HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OLLAMA_MODELS": str(tmp_path / "ollama"),
        "HOME": str(tmp_path / "user"),
    }
    return env


def test_pull_list_and_remove_through_the_cli(tmp_path: Path, user_env: dict[str, str]) -> None:
    gguf = tiny_gguf(tmp_path / "src" / "Tiny-Q4_K_M.gguf", tensor_elements=2048)[0].read_bytes()
    with serve_fake_hub() as hub:
        hub.add_repo("org/Tiny-GGUF", {"Tiny-Q4_K_M.gguf": gguf, "Tiny-Q8_0.gguf": gguf + b"\0" * 64})
        user_env["HF_ENDPOINT"] = hub.url
        pulled = ganymede(user_env, "models", "pull", "hf:org/Tiny-GGUF:q4_k_m", "--json")
    assert pulled.returncode == 0, pulled.stderr
    name = json.loads(pulled.stdout)["name"]
    assert name == "tiny-q4_k_m"

    listing = json.loads(ganymede(user_env, "models", "--json").stdout)
    (row,) = [m for m in listing["models"] if m["name"] == name]
    assert row["store"] == "pulled" and row["quantization"] == "Q4_K_M" and row["size"] == len(gguf)

    removed = ganymede(user_env, "models", "rm", name)
    assert removed.returncode == 0 and "freed" in removed.stdout, removed.stderr
    assert name not in {m["name"] for m in json.loads(ganymede(user_env, "models", "--json").stdout)["models"]}


def test_no_network_is_one_clear_line(user_env: dict[str, str]) -> None:
    user_env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    out = ganymede(user_env, "models", "pull", "hf:org/Tiny-GGUF:q4_k_m")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: cannot reach the Hugging Face hub") and "Traceback" not in out.stderr


def test_a_broken_ollama_manifest_is_reported_not_a_crash(tmp_path: Path, user_env: dict[str, str]) -> None:
    manifest = tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{not json")
    out = ganymede(user_env, "models", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = [m for m in json.loads(out.stdout)["models"] if m["store"] == "ollama"]
    assert row["name"] == "ollama:broken:latest" and row["problem"]


@pytest.mark.model
def test_a_model_in_an_ollama_store_answers_by_name(tmp_path: Path, user_env: dict[str, str], small_backend) -> None:
    from ganymede.core.backends.llamacpp import gguf_path

    place_in_ollama_store(tmp_path / "ollama", "qwen-coder", "0.5b", gguf_path(small_backend.ref), link=True)
    out = ganymede(
        user_env,
        "chat",
        "-m",
        "What is 2+2? Reply with the number only.",
        "--model",
        "ollama:qwen-coder:0.5b",
        "--greedy",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert "4" in reply["text"]
    assert reply["model"] == "ollama:qwen-coder:0.5b"
