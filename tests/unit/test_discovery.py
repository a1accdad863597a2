"""Models already on the machine: temporary folders shaped like the Hugging Face cache, Ollama's store and
LM Studio's, plus Ganymede's own pulled registry; broken entries are reported, never raised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganymede.core import discovery
from ganymede.core.catalog import CATALOG
from ganymede.core.errors import UnknownModelError
from tests.hubfake import place_in_hf_cache, place_in_ollama_store, tiny_gguf


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every store's default location under tmp_path (HOME included), so the real ones are never read."""
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    return tmp_path


@pytest.fixture
def gguf_bytes(tmp_path: Path) -> bytes:
    return tiny_gguf(tmp_path / "src" / "tiny.gguf")[0].read_bytes()


def by_name(models: list[discovery.FoundModel]) -> dict[str, discovery.FoundModel]:
    return {m.name: m for m in models}


@pytest.fixture
def ollama_store(env: Path, gguf_bytes: bytes) -> Path:
    root = env / "ollama"
    place_in_ollama_store(root, "qwen2.5", "3b", gguf_bytes)
    place_in_ollama_store(root, "tiny", "latest", gguf_bytes + b"\0")  # another blob, same header
    place_in_ollama_store(root, "mine", "v1", gguf_bytes, namespace="someone")
    broken = root / "manifests" / "registry.ollama.ai" / "library"
    (broken / "badjson").mkdir(parents=True)
    (broken / "badjson" / "latest").write_text("{ not json")
    (broken / "noblob").mkdir()
    manifest = {"layers": [{"mediaType": discovery.OLLAMA_MODEL_LAYER, "digest": "sha256:" + "1" * 64, "size": 9}]}
    (broken / "noblob" / "latest").write_text(json.dumps(manifest))
    (broken / "nolayer").mkdir()
    (broken / "nolayer" / "latest").write_text(json.dumps({"layers": [{"mediaType": "text/plain"}]}))
    return root


def test_ollama_manifests_name_their_blobs_and_broken_ones_are_reported(ollama_store: Path) -> None:
    before = sorted(p for p in ollama_store.rglob("*"))
    found = by_name(discovery.ollama_models(ollama_store))

    qwen = found["ollama:qwen2.5:3b"]
    assert qwen.ok and qwen.store == "ollama"
    assert qwen.path.parent == ollama_store / "blobs" and qwen.path.name.startswith("sha256-")  # read in place
    assert qwen.info is not None and qwen.info.quantization == "Q4_K_M" and qwen.info.context_length == 2048
    assert qwen.info.has_chat_template and qwen.runnable is not None and qwen.runnable.needed > qwen.size
    assert found["ollama:someone/mine:v1"].ok
    assert "not valid JSON" in found["ollama:badjson:latest"].problem
    assert "is missing" in found["ollama:noblob:latest"].problem
    assert "no model layer" in found["ollama:nolayer:latest"].problem
    assert found["ollama:badjson:latest"].path.name == "latest"  # the manifest at fault
    assert sorted(p for p in ollama_store.rglob("*")) == before  # nothing copied or written


def test_an_incomplete_or_foreign_ollama_blob_is_a_problem(env: Path, gguf_bytes: bytes) -> None:
    root = env / "ollama"
    blob = place_in_ollama_store(root, "cut", "latest", gguf_bytes)
    blob.write_bytes(gguf_bytes[:100])
    place_in_ollama_store(root, "safetensors", "latest", b"not a gguf at all")
    found = by_name(discovery.ollama_models(root))
    assert "incomplete (100 of" in found["ollama:cut:latest"].problem
    assert "not a GGUF file" in found["ollama:safetensors:latest"].problem


def test_lmstudio_folders_list_models_first_shards_only(env: Path, gguf_bytes: bytes) -> None:
    root = env / "user" / ".lmstudio" / "models"
    (root / "lmstudio-community" / "Tiny-GGUF").mkdir(parents=True)
    (root / "lmstudio-community" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf").write_bytes(gguf_bytes)
    (root / "lmstudio-community" / "Tiny-GGUF" / "mmproj-Tiny-F16.gguf").write_bytes(gguf_bytes)
    shards = tiny_gguf(root / "pub" / "Big-GGUF" / "Big-Q8_0.gguf", tensors=2, split_max_tensors=1)
    (root / "pub" / "Big-GGUF" / "Broken-Q2_K.gguf").write_bytes(gguf_bytes[:50])
    old = env / "user" / ".cache" / "lm-studio" / "models" / "old" / "Repo"
    old.mkdir(parents=True)
    (old / "Old-Q4_0.gguf").write_bytes(gguf_bytes)

    found = by_name(discovery.lmstudio_models())  # both default folders
    assert sorted(found) == [
        "lmstudio:lmstudio-community/Tiny-GGUF/Tiny-Q4_K_M.gguf",
        "lmstudio:old/Repo/Old-Q4_0.gguf",
        "lmstudio:pub/Big-GGUF/Big-Q8_0-00001-of-00002.gguf",
        "lmstudio:pub/Big-GGUF/Broken-Q2_K.gguf",
    ]
    big = found["lmstudio:pub/Big-GGUF/Big-Q8_0-00001-of-00002.gguf"]
    assert big.info.shards == 2 and big.size == sum(p.stat().st_size for p in shards)
    assert "truncated" in found["lmstudio:pub/Big-GGUF/Broken-Q2_K.gguf"].problem


def test_hf_cache_lists_ggufs_of_the_newest_snapshot(env: Path, gguf_bytes: bytes) -> None:
    cache = env / "hf" / "hub"
    place_in_hf_cache(cache, "org/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf_bytes, commit="1" * 40)
    newer = place_in_hf_cache(cache, "org/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf_bytes + b"2", commit="2" * 40)
    (cache / "models--org--Tiny-GGUF" / "refs").mkdir()
    (cache / "models--org--Tiny-GGUF" / "refs" / "main").write_text("2" * 40)
    dangling = cache / "models--org--Tiny-GGUF" / "snapshots" / ("2" * 40) / "Tiny-Q8_0.gguf"
    dangling.symlink_to(cache / "models--org--Tiny-GGUF" / "blobs" / "never-finished")
    place_in_hf_cache(cache, "org/text-model", "config.json", b"{}")

    found = discovery.hf_cache_models()
    assert [m.name for m in found] == ["hf:org/Tiny-GGUF/Tiny-Q4_K_M.gguf"]
    assert found[0].path == newer and found[0].store == "hf-cache"


def write_pulled(env: Path, name: str, ref: str, path: Path) -> None:
    """A pulled.json entry as `hub.pull` writes it."""
    size = path.stat().st_size if path.exists() else 1
    entry = {
        "ref": ref,
        "repo": "org/Tiny-GGUF",
        "revision": "a" * 40,
        "cache_dir": str(env / "hf" / "hub"),
        "pulled_at": "2025-01-01T00:00:00+00:00",
        "path": str(path),
        "size": size,
        "files": [{"filename": path.name, "size": size, "sha256": "0" * 64, "path": str(path), "blob": str(path)}],
    }
    registry = env / "home" / "models" / "pulled.json"
    data = json.loads(registry.read_text()) if registry.exists() else {"version": 1, "models": {}, "downloaded": []}
    data["models"][name] = entry
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(json.dumps(data))


def test_discover_gathers_every_store_once(env: Path, ollama_store: Path, gguf_bytes: bytes) -> None:
    pointer = place_in_hf_cache(env / "hf" / "hub", "org/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf_bytes)
    write_pulled(env, "tiny-q4_k_m", "hf:org/Tiny-GGUF:q4_k_m", pointer)
    write_pulled(env, "gone", "hf:org/Gone-GGUF:q4_k_m", env / "hf" / "hub" / "nothing.gguf")

    found = discovery.discover(include_bundled=False)
    names = [m.name for m in found]
    assert names[:2] == ["gone", "tiny-q4_k_m"]
    assert "hf:org/Tiny-GGUF/Tiny-Q4_K_M.gguf" not in names  # the pulled file is listed once, by its name
    assert "ollama:qwen2.5:3b" in names and "ollama:badjson:latest" in names
    assert "pull hf:org/Gone-GGUF:q4_k_m again" in by_name(found)["gone"].problem
    row = by_name(found)["tiny-q4_k_m"].to_dict()
    assert row["store"] == "pulled" and row["quantization"] == "Q4_K_M" and row["chat_template"] is True
    assert row["runnable"]["fits"] in (True, False) and json.dumps([m.to_dict() for m in found])


def test_discover_lists_the_bundled_models(env: Path) -> None:
    bundled = [m for m in discovery.discover() if m.store == "bundled"]
    assert [m.name for m in bundled] == [f"bundled:{name}" for name in CATALOG]
    for model in bundled:  # GANYMEDE_HOME is empty here: none is assembled
        assert model.info is None and (model.note or model.problem)


def test_a_broken_pulled_registry_is_a_problem_entry(env: Path) -> None:
    registry = env / "home" / "models" / "pulled.json"
    registry.parent.mkdir(parents=True)
    registry.write_text("[]")
    (problem,) = discovery.pulled_models()
    assert problem.store == "pulled" and "not a valid registry" in problem.problem


def test_resolve_name(env: Path, ollama_store: Path, gguf_bytes: bytes) -> None:
    cache = env / "hf" / "hub"
    pulled = place_in_hf_cache(cache, "org/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf_bytes)
    write_pulled(env, "tiny-q4_k_m", "hf:org/Tiny-GGUF:q4_k_m", pulled)
    other = place_in_hf_cache(cache, "org/Other-GGUF", "Other-Q8_0.gguf", gguf_bytes + b"8")
    studio = env / "user" / ".lmstudio" / "models" / "pub" / "Repo"
    studio.mkdir(parents=True)
    (studio / "M-Q4_0.gguf").write_bytes(gguf_bytes)
    qwen_blob = next(m.path for m in discovery.ollama_models() if m.name == "ollama:qwen2.5:3b")
    tiny_blob = next(m.path for m in discovery.ollama_models() if m.name == "ollama:tiny:latest")

    resolve = discovery.resolve_name
    assert resolve("tiny-q4_k_m") == pulled
    assert resolve("hf:org/Tiny-GGUF:q4_k_m") == pulled  # its pull reference
    assert resolve("ollama:qwen2.5:3b") == qwen_blob
    assert resolve("ollama:tiny") == tiny_blob  # the tag defaults to latest
    assert resolve("ollama:registry.ollama.ai/library/tiny:latest") == tiny_blob
    assert resolve("lmstudio:pub/Repo/M-Q4_0.gguf") == studio / "M-Q4_0.gguf"
    assert resolve("hf:org/Other-GGUF/Other-Q8_0.gguf") == other
    assert resolve("hf:org/Other-GGUF:Q8_0") == other  # in the cache, whoever downloaded it
    with pytest.raises(UnknownModelError, match="not valid JSON"):
        resolve("ollama:badjson")
    for other_form in ("bundled:qwen2.5-coder-1.5b", "hf:Qwen/Qwen2.5-0.5B", "openai:gpt-4o", "./x.gguf", "nope"):
        assert resolve(other_form) is None
    assert resolve("ollama:absent:1b") is None


@pytest.fixture
def bundled_small_gguf() -> Path:
    """The assembled bundled 0.5B model in the session's model cache (asked for before `env` moves the home)."""
    model = CATALOG["qwen2.5-coder-0.5b"]
    if not model.is_assembled():
        pytest.skip(f"bundled model {model.name} is not assembled; `ganymede chat --model bundled:{model.name}`")
    return model.cache_path()


def test_a_bundled_gguf_placed_in_an_ollama_store_resolves_by_name(bundled_small_gguf: Path, env: Path) -> None:
    """The setup of the end-to-end check `ganymede chat --model ollama:NAME` (a real bundled model as the blob)."""
    blob = place_in_ollama_store(env / "ollama", "qwen-coder", "0.5b", bundled_small_gguf, link=True)
    assert discovery.resolve_name("ollama:qwen-coder:0.5b") == blob
    (found,) = discovery.ollama_models()
    assert found.ok and found.info.architecture == "qwen2" and found.info.quantization == "Q4_K_M"
    assert found.size == bundled_small_gguf.stat().st_size
