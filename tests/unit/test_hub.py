"""`ganymede.core.hub.pull` against a local hub-shaped server: progress, resumption, verification, shards,
errors that say what to do, and `remove` that deletes only what Ganymede downloaded."""

from __future__ import annotations

import hashlib
import json
import re
import types
from pathlib import Path

import pytest

from ganymede.core import hub
from ganymede.core.errors import InputFileError, UnknownModelError
from ganymede.core.gguf_info import human_size, read_gguf_info
from tests.hubfake import FakeHub, closed_port_url, serve_fake_hub, tiny_gguf

REPO = "org/Tiny-GGUF"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ganymede's home and the hub cache in tmp_path; huggingface_hub quiet, fast and offline-safe."""
    import huggingface_hub.constants
    import huggingface_hub.file_download

    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # No telemetry call to the real hub; 1 KiB chunks so a drop mid-file leaves whole chunks to resume from.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    monkeypatch.setattr(huggingface_hub.file_download, "time", types.SimpleNamespace(sleep=lambda _seconds: None))
    return tmp_path


@pytest.fixture
def fake_hub(env: Path, monkeypatch: pytest.MonkeyPatch):
    with serve_fake_hub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def gguf_bytes(env: Path) -> bytes:
    return tiny_gguf(env / "src" / "Tiny-Q4_K_M.gguf", tensor_elements=2048)[0].read_bytes()


def cache_files(env: Path) -> list[Path]:
    """Every file in the hub cache's model folders (blobs, snapshot links, partial downloads)."""
    root = env / "hf" / "hub"
    return sorted(p for p in root.glob("models--*/**/*") if p.is_file() or p.is_symlink())


def registry(env: Path) -> dict:
    path = env / "home" / "models" / "pulled.json"
    return json.loads(path.read_text()) if path.exists() else {"models": {}, "downloaded": []}


def test_pull_by_quantization_reports_progress_verifies_and_registers(fake_hub: FakeHub, gguf_bytes, env) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes, "Tiny-Q8_0.gguf": gguf_bytes + b"8", "README.md": b"#"})
    seen: list[tuple[int, int]] = []
    model = hub.pull("hf:org/Tiny-GGUF:q4_k_m", progress=lambda done, total: seen.append((done, total)))

    assert model.name == "tiny-q4_k_m"
    assert model.path.read_bytes() == gguf_bytes
    assert (env / "hf" / "hub") in model.path.parents  # the hub's own cache layout
    assert model.files[0].sha256 == hashlib.sha256(gguf_bytes).hexdigest()
    assert len(seen) > 3 and seen[-1] == (len(gguf_bytes), len(gguf_bytes))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    entry = registry(env)["models"]["tiny-q4_k_m"]
    assert entry["repo"] == REPO and entry["path"] == str(model.path) and entry["size"] == len(gguf_bytes)
    assert hub.list_pulled() == [model] and hub.get_pulled("tiny-q4_k_m") == model
    assert read_gguf_info(model.path).quantization == "Q4_K_M"


def test_pull_exact_file_and_a_chosen_name(fake_hub: FakeHub, gguf_bytes) -> None:
    fake_hub.add_repo(REPO, {"sub/Tiny-Q4_K_M.gguf": gguf_bytes, "Tiny-Q8_0.gguf": gguf_bytes + b"8"})
    model = hub.pull("hf:org/Tiny-GGUF/sub/Tiny-Q4_K_M.gguf", name="tiny")
    assert model.name == "tiny" and model.files[0].filename == "sub/Tiny-Q4_K_M.gguf"


def test_a_dropped_connection_is_resumed_with_a_range_request(fake_hub: FakeHub, gguf_bytes) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})
    fake_hub.drop_connection("Tiny-Q4_K_M.gguf", after=5000)
    model = hub.pull("hf:org/Tiny-GGUF:Q4_K_M")
    assert fake_hub.gets("Tiny-Q4_K_M.gguf") == [None, "bytes=4096-"]  # the whole 1 KiB chunks are kept
    assert model.path.read_bytes() == gguf_bytes


def test_a_pull_cut_off_for_good_keeps_nothing_and_the_next_pull_completes(fake_hub: FakeHub, gguf_bytes, env) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})
    fake_hub.drop_connection("Tiny-Q4_K_M.gguf", after=5000, times=100)  # more drops than huggingface_hub retries
    with pytest.raises(hub.HubUnreachableError, match="cannot reach the Hugging Face hub") as err:
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    assert "local .gguf path" in str(err.value)
    assert registry(env)["models"] == {}
    assert not [p for p in cache_files(env) if p.name.endswith(".incomplete") or p.suffix == ".gguf"]

    fake_hub.drops.clear()
    model = hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    assert model.path.read_bytes() == gguf_bytes and hub.get_pulled(model.name) == model


def test_a_corrupt_download_is_refused_and_deleted(fake_hub: FakeHub, gguf_bytes, env) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})
    fake_hub.corrupt.add("Tiny-Q4_K_M.gguf")
    with pytest.raises(hub.CorruptDownloadError) as err:
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    assert "the download of Tiny-Q4_K_M.gguf is corrupt (sha256" in str(err.value)
    assert "run the pull again" in str(err.value)
    assert registry(env)["models"] == {} and registry(env)["downloaded"] == []
    assert cache_files(env) == []  # neither the blob nor the snapshot link would be found by anyone

    fake_hub.corrupt.clear()
    assert hub.pull("hf:org/Tiny-GGUF:q4_k_m").path.read_bytes() == gguf_bytes


def test_sharded_model_downloads_every_shard_and_registers_the_first(fake_hub: FakeHub, env) -> None:
    shards = tiny_gguf(env / "src" / "Big-Q4_K_M.gguf", tensors=3, split_max_tensors=1)
    files = {f"Q4_K_M/{p.name}": p.read_bytes() for p in shards}
    fake_hub.add_repo("org/Big-GGUF", {**files, "Big-Q8_0.gguf": b"GGUF-other"})
    model = hub.pull("hf:org/Big-GGUF:q4_k_m")

    assert model.name == "big-q4_k_m"
    assert [f.filename for f in model.files] == sorted(files)
    assert model.path.name == "Big-Q4_K_M-00001-of-00003.gguf"
    assert model.size == sum(len(data) for data in files.values())
    info = read_gguf_info(model.path)  # the shards lie beside the first one, as llama.cpp expects
    assert info.shards == 3 and info.parameters == 3 * 1024 and info.size == model.size


def test_an_interrupted_sharded_pull_reuses_the_shards_it_completed(fake_hub: FakeHub, env) -> None:
    shards = tiny_gguf(env / "src" / "Big-Q4_K_M.gguf", tensors=2, split_max_tensors=1)
    fake_hub.add_repo("org/Big-GGUF", {p.name: p.read_bytes() for p in shards})
    first_size = shards[0].stat().st_size

    class Interrupted(Exception):
        pass

    def stop_in_second_shard(done: int, total: int) -> None:
        if done > first_size:
            raise Interrupted  # as Ctrl-C would

    with pytest.raises(Interrupted):
        hub.pull("hf:org/Big-GGUF:q4_k_m", progress=stop_in_second_shard)
    assert registry(env)["models"] == {}
    model = hub.pull("hf:org/Big-GGUF:q4_k_m")
    assert len(fake_hub.gets(shards[0].name)) == 1  # not downloaded twice
    assert len(fake_hub.gets(shards[1].name)) == 2
    removal = hub.remove(model.name)  # Ganymede downloaded both shards, so both go
    assert len(removal.deleted) == 2 and cache_files(env) == []


def test_an_ambiguous_quantization_lists_the_candidates(fake_hub: FakeHub, gguf_bytes) -> None:
    fake_hub.add_repo(REPO, {"A-Q4_K_M.gguf": gguf_bytes, "B-Q4_K_M.gguf": gguf_bytes})
    with pytest.raises(hub.AmbiguousFileError, match=re.escape("A-Q4_K_M.gguf, B-Q4_K_M.gguf")):
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")


def test_file_and_repository_not_found(fake_hub: FakeHub, gguf_bytes) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})
    with pytest.raises(hub.HubNotFoundError, match=re.escape("Nope.gguf not found in org/Tiny-GGUF")) as err:
        hub.pull("hf:org/Tiny-GGUF/Nope.gguf")
    assert "Tiny-Q4_K_M.gguf" in str(err.value)  # the hint lists what is there
    with pytest.raises(hub.HubNotFoundError, match="matches 'q2_k'"):
        hub.pull("hf:org/Tiny-GGUF:q2_k")
    with pytest.raises(hub.HubNotFoundError, match="repository org/Missing not found"):
        hub.pull("hf:org/Missing:q4_k_m")


def test_no_network_says_what_to_do(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    with pytest.raises(hub.HubUnreachableError) as err:
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    assert "cannot reach the Hugging Face hub" in str(err.value)
    assert "check the network" in str(err.value) and "local .gguf path" in str(err.value)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubUnreachableError, match="HF_HUB_OFFLINE is set"):
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")


def test_not_enough_disk_space_says_how_much_is_needed(fake_hub: FakeHub, gguf_bytes, monkeypatch, env) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})
    monkeypatch.setattr(hub, "_free_space", lambda folder: 1000)
    with pytest.raises(hub.DiskSpaceError) as err:
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    assert f"it needs {human_size(len(gguf_bytes))}, 1000 B free" in str(err.value) and "HF_HUB_CACHE" in str(err.value)
    assert not fake_hub.gets("Tiny-Q4_K_M.gguf")  # refused before any byte was fetched


def test_disk_full_during_the_download(fake_hub: FakeHub, gguf_bytes, monkeypatch) -> None:
    import errno

    import huggingface_hub

    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes})

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", disk_full)
    with pytest.raises(hub.DiskSpaceError, match=re.escape("the disk filled up while downloading Tiny-Q4_K_M.gguf")):
        hub.pull("hf:org/Tiny-GGUF:q4_k_m")


def test_a_name_is_not_silently_reused_for_another_model(fake_hub: FakeHub, gguf_bytes) -> None:
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes, "Tiny-Q8_0.gguf": gguf_bytes + b"8"})
    hub.pull("hf:org/Tiny-GGUF:q4_k_m", name="tiny")
    assert hub.pull("hf:org/Tiny-GGUF:q4_k_m", name="tiny").name == "tiny"  # the same model again: fine
    with pytest.raises(UnknownModelError, match="already used"):
        hub.pull("hf:org/Tiny-GGUF:q8_0", name="tiny")
    with pytest.raises(UnknownModelError, match="bad model name"):
        hub.pull("hf:org/Tiny-GGUF:q8_0", name="../escape")
    with pytest.raises(UnknownModelError, match="bad model name"):
        hub.pull("hf:org/Tiny-GGUF:q8_0", name="looks-like-a-path.gguf")


def test_remove_deletes_what_ganymede_downloaded_and_keeps_other_tools_files(fake_hub: FakeHub, gguf_bytes, env):
    from huggingface_hub import hf_hub_download

    other = gguf_bytes + b"8"
    fake_hub.add_repo(REPO, {"Tiny-Q4_K_M.gguf": gguf_bytes, "Tiny-Q8_0.gguf": other})
    # Another tool put Q8_0 in the shared cache first; Ganymede then registers it without downloading it.
    theirs = Path(
        hf_hub_download(REPO, "Tiny-Q8_0.gguf", cache_dir=str(env / "hf" / "hub"), endpoint=fake_hub.url)
    ).resolve()
    ours = hub.pull("hf:org/Tiny-GGUF:q4_k_m")
    shared = hub.pull("hf:org/Tiny-GGUF:q8_0")

    removal = hub.remove(ours.name)
    assert removal.deleted == (ours.files[0].blob,) and removal.freed == len(gguf_bytes)
    assert not ours.path.exists() and not ours.files[0].blob.exists()
    removal = hub.remove(shared.name)
    assert removal.deleted == () and theirs.exists() and shared.path.exists()
    assert hub.list_pulled() == []
    with pytest.raises(UnknownModelError, match="no model pulled under the name 'tiny-q4_k_m'"):
        hub.remove("tiny-q4_k_m")


def test_a_broken_registry_names_the_file(env: Path) -> None:
    path = env / "home" / "models" / "pulled.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(InputFileError, match=re.escape("pulled.json is not a valid registry")):
        hub.list_pulled()
    path.write_text(json.dumps({"models": {"half": {"ref": "hf:o/r:q4_0"}}}))
    with pytest.raises(InputFileError, match="the entry 'half' is malformed"):
        hub.get_pulled("half")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("hf:Qwen/Qwen2.5-3B-Instruct-GGUF:q4_k_m", hub.HubRef("Qwen/Qwen2.5-3B-Instruct-GGUF", "q4_k_m")),
        ("hf:org/repo/sub/file.gguf", hub.HubRef("org/repo", None, "sub/file.gguf")),
        ("org/repo", hub.HubRef("org/repo")),
    ],
)
def test_parse_hub_ref(ref: str, expected: hub.HubRef) -> None:
    assert hub.parse_hub_ref(ref) == expected


@pytest.mark.parametrize("ref", ["hf:repo", "hf:org/repo/file.bin", "hf:org/repo/f.gguf:q4_0"])
def test_bad_hub_refs_show_the_forms(ref: str) -> None:
    with pytest.raises(UnknownModelError, match="hf:ORG/REPO:QUANT"):
        hub.parse_hub_ref(ref)


def test_choose_files_by_quantization() -> None:
    files = [
        "m-Q4_K.gguf",
        "m-Q4_K_M.gguf",
        "m-q8_0-00001-of-00002.gguf",
        "m-q8_0-00002-of-00002.gguf",
        "mmproj-m-Q4_K_M.gguf",
        "README.md",
    ]
    choose = hub.choose_files
    assert choose("o/r", files, hub.HubRef("o/r", "q4_k")) == ["m-Q4_K.gguf"]  # not q4_k_m
    assert choose("o/r", files, hub.HubRef("o/r", "Q4_K_M")) == ["m-Q4_K_M.gguf"]  # not the vision projector
    assert choose("o/r", files, hub.HubRef("o/r", "q8_0")) == files[2:4]
    assert choose("o/r", files, hub.HubRef("o/r", None, "m-q8_0-00002-of-00002.gguf")) == files[2:4]
    with pytest.raises(hub.AmbiguousFileError, match="names no quantization"):
        choose("o/r", files, hub.HubRef("o/r"))
    with pytest.raises(hub.HubNotFoundError, match="lists 1 of the 2 shards"):
        choose("o/r", files[:3], hub.HubRef("o/r", "q8_0"))
    with pytest.raises(hub.HubNotFoundError, match=re.escape("has no .gguf file")):
        choose("o/r", ["README.md"], hub.HubRef("o/r", "q8_0"))


def test_default_name() -> None:
    assert hub.default_name("Qwen2.5-3B-Instruct-Q4_K_M.gguf") == "qwen2.5-3b-instruct-q4_k_m"
    assert hub.default_name("Q4_K_M/Big-Q4_K_M-00001-of-00003.gguf") == "big-q4_k_m"
