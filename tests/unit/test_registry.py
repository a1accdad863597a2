import pytest

from ganymede.core.backends import registry
from ganymede.core.backends.registry import load_backend, parse_model_ref, register_backend
from ganymede.core.errors import UnknownBackendError, UnknownModelError
from tests.fakes import ScriptedBackend


def test_bundled_reference():
    ref = parse_model_ref("bundled:qwen2.5-coder-0.5b")
    assert (ref.scheme, ref.name, ref.default_backend) == ("bundled", "qwen2.5-coder-0.5b", "llamacpp")


def test_unknown_bundled_model_lists_valid_ones():
    with pytest.raises(UnknownModelError, match=r"bundled:qwen2\.5-coder-1\.5b"):
        parse_model_ref("bundled:llama-70b")


def test_openai_reference_with_and_without_url():
    ref = parse_model_ref("openai:gpt-4o-mini")
    assert (ref.scheme, ref.name, ref.base_url) == ("openai", "gpt-4o-mini", None)
    ref = parse_model_ref("openai:qwen@http://127.0.0.1:8000/v1")
    assert (ref.name, ref.base_url) == ("qwen", "http://127.0.0.1:8000/v1")


def test_local_paths(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert parse_model_ref(str(gguf)).default_backend == "llamacpp"
    folder = tmp_path / "hf-model"
    folder.mkdir()
    with pytest.raises(UnknownModelError, match=r"no config\.json"):
        parse_model_ref(str(folder))
    (folder / "config.json").write_text("{}")
    assert parse_model_ref(str(folder)).default_backend == "transformers"


def test_hub_reference():
    assert parse_model_ref("hf:Qwen/Qwen2.5-1.5B-Instruct").default_backend == "transformers"
    with pytest.raises(UnknownModelError):
        parse_model_ref("hf:nonsense")


def test_unknown_reference_explains_the_forms():
    with pytest.raises(UnknownModelError, match="bundled:NAME"):
        parse_model_ref("gpt5-ultra")


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(UnknownBackendError, match="llamacpp, transformers, openai"):
        load_backend("bundled:qwen2.5-coder-0.5b", backend="vllm-direct")


def test_registered_backend_is_loaded_once(monkeypatch):
    created = []

    def factory(ref, **options):
        created.append(ref)
        return ScriptedBackend("hi")

    monkeypatch.setitem(registry.BACKENDS, "scripted", factory)
    register_backend("scripted", factory)
    first = load_backend("openai:x@http://127.0.0.1:9/v1", backend="scripted")
    second = load_backend("openai:x@http://127.0.0.1:9/v1", backend="scripted")
    assert first is second
    assert len(created) == 1
    registry.unload_all()
