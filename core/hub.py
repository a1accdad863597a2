"""`pull`: GGUF models from the Hugging Face hub into its own cache, verified, registered under a short name.

Files land in the hub's cache layout (`models--ORG--REPO/blobs` + `snapshots/COMMIT/FILE`), shared with every
other tool that uses it. `GANYMEDE_HOME/models/pulled.json` says which models Ganymede registered and which
blobs it downloaded itself: `remove` deletes only those, never a file another tool put there.

Downloads go through `huggingface_hub.hf_hub_download`: it writes to a temporary `.incomplete` file, resumes
with an HTTP range request when the connection drops mid-file, and renames the file into the cache only once
it has every byte; Ganymede then checks size and sha256 against the hub's metadata before registering it.
A pull that is interrupted for good keeps the shards it completed (the next pull reuses them) but restarts a
half-downloaded file: this `huggingface_hub` deletes partial files when a call fails.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ganymede.core import settings
from ganymede.core.errors import GanymedeError, InputFileError, UnknownModelError
from ganymede.core.fileio import write_atomic
from ganymede.core.gguf_info import human_size

#: progress(bytes done, bytes in total) over every file of the model; the same shape as catalog.ensure_assembled.
ProgressCallback = Callable[[int, int], None]

DEFAULT_ENDPOINT = "https://huggingface.co"
REF_FORMS = "hf:ORG/REPO:QUANT (e.g. hf:Qwen/Qwen2.5-3B-Instruct-GGUF:q4_k_m) or hf:ORG/REPO/FILE.gguf"
_REGISTRY_VERSION = 1
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_HASH_CHUNK = 8 << 20


class HubError(GanymedeError):
    """A pull that cannot go on; the message says what to do."""


class HubUnreachableError(HubError):
    pass


class HubNotFoundError(HubError):
    pass


class AmbiguousFileError(HubError):
    pass


class DiskSpaceError(HubError):
    pass


class CorruptDownloadError(HubError):
    pass


# --- where things are ---------------------------------------------------------------------------------------


def endpoint() -> str:
    """The hub's address; read at call time (HF_ENDPOINT), unlike huggingface_hub's import-time constant."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hf_cache_dir() -> Path:
    """The hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub), read at call time."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(os.path.expandvars(hf_home)).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def repo_folder(cache_dir: Path, repo: str) -> Path:
    return cache_dir / ("models--" + repo.replace("/", "--"))


def registry_path() -> Path:
    return settings.home() / "models" / "pulled.json"


# --- references and file choice -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HubRef:
    """`hf:ORG/REPO:QUANT` or `hf:ORG/REPO/FILE.gguf` (or `hf:ORG/REPO` for a repository with one model)."""

    repo: str
    quantization: str | None = None
    filename: str | None = None


def parse_hub_ref(ref: str) -> HubRef:
    text = ref.strip()
    rest = text[3:] if text.startswith("hf:") else text
    location, _, quantization = rest.partition(":")
    parts = [part for part in location.split("/") if part]
    if len(parts) < 2 or (len(parts) > 2 and not parts[-1].lower().endswith(".gguf")):
        raise UnknownModelError(f"bad hub reference {ref!r}", f"write {REF_FORMS}")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:]) or None
    if filename and quantization:
        raise UnknownModelError(f"bad hub reference {ref!r}: both a file and a quantization", f"write {REF_FORMS}")
    return HubRef(repo, quantization.strip() or None, filename)


def _model_key(filename: str) -> str:
    """A sharded model's files share one key: the name without `-0000i-of-0000n`."""
    return _SHARD.sub(".gguf", filename)


def _is_projector(filename: str) -> bool:
    """Vision projectors (`mmproj-*.gguf`) sit beside the model in many repositories; they are not a model."""
    return "mmproj" in filename.rsplit("/", 1)[-1].lower()


def _matches_quantization(filename: str, quantization: str, *, exact: bool) -> bool:
    name, wanted = filename.lower(), re.escape(quantization.lower())
    if not exact:
        return quantization.lower() in name
    # q4_k must not pick q4_k_m: the quantization ends at `.`, `-` or `/`, never inside a longer one.
    return re.search(rf"(?:^|[^a-z0-9]){wanted}(?=[.\-/]|$)", name) is not None


def _complete_shards(repo: str, key: str, files: list[str]) -> list[str]:
    group = sorted(f for f in files if _model_key(f) == key)
    match = _SHARD.search(group[0])
    if match:
        total = int(match.group(2))
        if len(group) != total:
            raise HubNotFoundError(
                f"{repo} lists {len(group)} of the {total} shards of {key}",
                "the repository is incomplete; ask its owner",
            )
    return group


def choose_files(repo: str, filenames: list[str], ref: HubRef) -> list[str]:
    """The repository files a reference names: one GGUF, or every shard of one split GGUF (in order)."""
    ggufs = sorted(f for f in filenames if f.lower().endswith(".gguf"))
    if not ggufs:
        raise HubNotFoundError(f"{repo} has no .gguf file", "pull from a GGUF repository (their names end in -GGUF)")
    listing = ", ".join(ggufs[:12]) + (" ..." if len(ggufs) > 12 else "")
    if ref.filename:
        if ref.filename not in ggufs:
            raise HubNotFoundError(f"{ref.filename} not found in {repo}", f"files there: {listing}")
        return _complete_shards(repo, _model_key(ref.filename), ggufs)
    models = [f for f in ggufs if not _is_projector(f)]
    if ref.quantization:
        candidates = [f for f in models if _matches_quantization(f, ref.quantization, exact=True)]
        candidates = candidates or [f for f in models if _matches_quantization(f, ref.quantization, exact=False)]
        if not candidates:
            raise HubNotFoundError(f"no GGUF file in {repo} matches {ref.quantization!r}", f"files there: {listing}")
    else:
        candidates = models
    keys = sorted({_model_key(f) for f in candidates})
    if len(keys) > 1:
        what = f"{ref.quantization!r} matches" if ref.quantization else "the reference names no quantization and"
        raise AmbiguousFileError(
            f"{what} several models in {repo}: {', '.join(keys)}",
            f"name one file: hf:{repo}/{keys[0]}"
            + ("" if ref.quantization else f", or a quantization: hf:{repo}:Q4_K_M"),
        )
    return _complete_shards(repo, keys[0], ggufs)


def default_name(filename: str) -> str:
    """`Qwen2.5-3B-Instruct-Q4_K_M-00001-of-00002.gguf` -> `qwen2.5-3b-instruct-q4_k_m`."""
    base = _model_key(filename.rsplit("/", 1)[-1])
    return base[: -len(".gguf")].lower() if base.lower().endswith(".gguf") else base.lower()


# --- the registry -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PulledFile:
    filename: str  # path inside the repository
    size: int
    sha256: str
    path: Path  # snapshots/COMMIT/FILE in the hub cache (a link to the blob)
    blob: Path  # blobs/ETAG, what `path` points at

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "path": str(self.path),
            "blob": str(self.blob),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PulledFile:
        return cls(data["filename"], int(data["size"]), data["sha256"], Path(data["path"]), Path(data["blob"]))


@dataclass(frozen=True)
class PulledModel:
    name: str
    ref: str
    repo: str
    revision: str  # the commit the files came from
    files: tuple[PulledFile, ...]  # every shard, first shard first
    cache_dir: Path
    pulled_at: str  # ISO 8601, UTC

    @property
    def path(self) -> Path:
        """What llama.cpp opens: the file, or the first shard (it finds the others beside it)."""
        return self.files[0].path

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def is_present(self) -> bool:
        """Every file is still in the cache with its full size (another tool may have cleaned the cache)."""
        return all(f.path.is_file() and f.path.stat().st_size == f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "repo": self.repo,
            "revision": self.revision,
            "cache_dir": str(self.cache_dir),
            "pulled_at": self.pulled_at,
            "path": str(self.path),
            "size": self.size,
            "files": [f.to_dict() for f in self.files],
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> PulledModel:
        files = tuple(PulledFile.from_dict(f) for f in data["files"])
        return cls(name, data["ref"], data["repo"], data["revision"], files, Path(data["cache_dir"]), data["pulled_at"])


@contextmanager
def _registry_lock() -> Iterator[None]:
    """Two pulls at once must not lose each other's registry entries."""
    lock_path = registry_path().with_name("pulled.json.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_registry() -> dict[str, Any]:
    path = registry_path()
    if not path.is_file():
        return {"version": _REGISTRY_VERSION, "models": {}, "downloaded": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data.get("models"), dict):
            raise ValueError("no 'models' object")
    except (ValueError, AttributeError) as exc:
        raise InputFileError(
            f"{path} is not a valid registry of pulled models ({exc})",
            "fix or delete it: the files stay in the Hugging Face cache, and pulling again registers them",
        ) from None
    data.setdefault("downloaded", [])
    return data


def _save_registry(data: dict[str, Any]) -> None:
    write_atomic(registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _entry(name: str, data: Any) -> PulledModel:
    try:
        return PulledModel.from_dict(name, data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputFileError(
            f"{registry_path()}: the entry {name!r} is malformed ({type(exc).__name__}: {exc})",
            "remove that entry (or the file) and pull the model again",
        ) from None


def list_pulled() -> list[PulledModel]:
    """Every model `pull` registered, by name."""
    models = _load_registry()["models"]
    return [_entry(name, models[name]) for name in sorted(models)]


def get_pulled(name: str) -> PulledModel | None:
    entry = _load_registry()["models"].get(name)
    return _entry(name, entry) if entry is not None else None


def _mark_downloaded(blob: Path, owned: bool) -> None:
    with _registry_lock():
        data = _load_registry()
        downloaded = set(data["downloaded"])
        downloaded.add(str(blob)) if owned else downloaded.discard(str(blob))
        data["downloaded"] = sorted(downloaded)
        _save_registry(data)


# --- pulling ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RemoteFile:
    filename: str
    size: int | None
    sha256: str | None


def _network_errors() -> tuple[type[BaseException], ...]:
    """Connection refused, DNS failure, timeouts, a connection dropped for good, HF_HUB_OFFLINE."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]  # OfflineModeIsEnabled is a ConnectionError
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x speaks httpx2; older versions httpx
        with suppress(ImportError, AttributeError):
            errors.append(importlib.import_module(module).TransportError)
    return tuple(errors)


def _unreachable(detail: str) -> HubUnreachableError:
    return HubUnreachableError(
        f"cannot reach the Hugging Face hub at {endpoint()} ({detail})",
        "check the network (or HF_ENDPOINT), or use a local .gguf path",
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_http_error(exc: Exception, repo: str, filename: str | None = None) -> HubError:
    from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return HubNotFoundError(
            f"{repo} is gated: its license must be accepted on the hub first",
            "accept it on the repository's page, then log in (`hf auth login`) or set HF_TOKEN",
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubNotFoundError(
            f"repository {repo} not found on the Hugging Face hub",
            "check the spelling (ORG/REPO); a private repository needs HF_TOKEN",
        )
    if isinstance(exc, RemoteEntryNotFoundError):
        return HubNotFoundError(f"{filename or 'the file'} not found in {repo}", "check the file name")
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", "?")
    return HubError(f"the Hugging Face hub answered HTTP {status} for {repo}", "try again later")


def _remote_files(repo: str) -> tuple[str, dict[str, _RemoteFile]]:
    """(commit, filename -> size and sha256) from the hub's model info."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError

    if _offline():
        raise _unreachable("HF_HUB_OFFLINE is set")
    try:
        info = HfApi(endpoint=endpoint()).model_info(repo, files_metadata=True)
    except HFValidationError as exc:
        raise UnknownModelError(f"bad repository id {repo!r} ({exc})", f"write {REF_FORMS}") from None
    except HfHubHTTPError as exc:
        raise _hub_http_error(exc, repo) from None
    except _network_errors() as exc:
        raise _unreachable(type(exc).__name__) from None
    files = {}
    for sibling in info.siblings or []:
        lfs = sibling.lfs
        size = lfs.size if lfs is not None else sibling.size
        files[sibling.rfilename] = _RemoteFile(sibling.rfilename, size, lfs.sha256 if lfs is not None else None)
    return info.sha or "main", files


def _free_space(folder: Path) -> int:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return 0


def _progress_class(report: Callable[[int], None]) -> type:
    """A tqdm stand-in for huggingface_hub (its `tqdm_class`): `update(n)` reports n more bytes of the file."""

    class ByteCounter:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.total = kwargs.get("total")

        def update(self, n: float | None = 1) -> None:
            report(int(n or 0))

        def update_transfer(self, n: float | None = 1) -> None:
            """Bytes on the wire (compressed, with xet): `update` already counts the file's bytes."""

        def close(self) -> None:
            pass

        def __enter__(self) -> ByteCounter:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: None  # set_postfix_str, refresh, ...: nothing to draw

    return ByteCounter


class _ByteProgress:
    """Bytes of the whole model so far, from per-file byte counts (a resumed range can move them back)."""

    def __init__(self, total: int, report: ProgressCallback | None) -> None:
        self.total, self.report, self.done_before, self.received = total, report, 0, 0

    def start_file(self) -> None:
        self.received = 0

    def add(self, n: int) -> None:
        self.received += n
        if self.report is not None:
            self.report(self.done_before + max(self.received, 0), self.total)

    def finish_file(self, size: int) -> None:
        self.done_before += size
        if self.report is not None:
            self.report(self.done_before, self.total)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _discard(pointer: Path, blob: Path) -> None:
    """A file that failed verification leaves the cache, so that no later call (ours or another tool's) uses it."""
    for path in (pointer, blob):
        if path.is_symlink() or path.exists():
            path.unlink()


def _verify(remote: _RemoteFile, pointer: Path, blob: Path) -> str:
    """The file's sha256 once size and hash match the hub's; a mismatch deletes it."""
    size = blob.stat().st_size
    if remote.size is not None and size != remote.size:
        _discard(pointer, blob)
        raise CorruptDownloadError(
            f"the download of {remote.filename} is incomplete ({size} of {remote.size} bytes); it was deleted",
            "run the pull again",
        )
    sha256 = _sha256(blob)
    # Without LFS metadata, the blob's name is still the ETag, which for an LFS file is its sha256.
    expected = remote.sha256 or (blob.name if _SHA256_HEX.fullmatch(blob.name) else None)
    if expected is not None and sha256 != expected:
        _discard(pointer, blob)
        raise CorruptDownloadError(
            f"the download of {remote.filename} is corrupt (sha256 {sha256[:12]}..., the hub says "
            f"{expected[:12]}...); it was deleted",
            "run the pull again",
        )
    return sha256


def _download(repo: str, commit: str, remote: _RemoteFile, cache_dir: Path, on_bytes: Callable[[int], None]) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            hf_hub_download(
                repo,
                remote.filename,
                revision=commit,
                cache_dir=str(cache_dir),
                endpoint=endpoint(),
                tqdm_class=_progress_class(on_bytes),  # type: ignore[arg-type]
            )
        )
    except HfHubHTTPError as exc:
        raise _hub_http_error(exc, repo, remote.filename) from None
    except LocalEntryNotFoundError:  # the hub went away after answering the model info
        raise _unreachable(f"while fetching {remote.filename}") from None
    except _network_errors() as exc:
        raise _unreachable(f"{type(exc).__name__} while fetching {remote.filename}") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskSpaceError(
                f"the disk filled up while downloading {remote.filename} ({human_size(remote.size or 0)})",
                f"free space in {cache_dir}, or set HF_HUB_CACHE to a bigger disk",
            ) from None
        if "Consistency check failed" in str(exc):  # the server sent fewer or more bytes than it announced
            raise CorruptDownloadError(
                f"the download of {remote.filename} ended with the wrong size; nothing was kept", "run the pull again"
            ) from None
        raise


def pull(ref: str, *, name: str | None = None, progress: ProgressCallback | None = None) -> PulledModel:
    """Download a GGUF (every shard of a split one) into the hub cache, verify it, register it as `name`.

    `ref`: hf:ORG/REPO:QUANT or hf:ORG/REPO/FILE.gguf. `name` defaults to the file name, lower-cased, without
    `.gguf` and shard suffix. Files already in the cache are verified and reused, not downloaded again."""
    hub_ref = parse_hub_ref(ref)
    commit, remote_files = _remote_files(hub_ref.repo)
    chosen = [remote_files[f] for f in choose_files(hub_ref.repo, list(remote_files), hub_ref)]
    name = name or default_name(chosen[0].filename)
    if not _VALID_NAME.match(name) or name.lower().endswith(".gguf"):
        # Not a path, not a reference form (`x:y`), so that a model reference can tell a name from the rest.
        raise UnknownModelError(
            f"bad model name {name!r}", "use letters, digits, '.', '_', '+' and '-', not ending in .gguf (`name`)"
        )
    existing = get_pulled(name)
    same_model = existing is not None and (existing.repo, [f.filename for f in existing.files]) == (
        hub_ref.repo,
        [f.filename for f in chosen],
    )
    if existing is not None and not same_model:
        raise UnknownModelError(
            f"the name {name!r} is already used by {existing.ref}",
            "choose another `name`, or remove the old model first",
        )

    cache_dir = hf_cache_dir().expanduser().resolve()
    snapshot = repo_folder(cache_dir, hub_ref.repo) / "snapshots" / commit
    total = sum(f.size or 0 for f in chosen)
    missing = sum(f.size or 0 for f in chosen if not (snapshot / f.filename).exists())
    free = _free_space(cache_dir)
    if missing > free:
        raise DiskSpaceError(
            f"not enough disk space for {chosen[0].filename}: it needs {human_size(missing)}, "
            f"{human_size(free)} free in {cache_dir}",
            "free some space, or set HF_HUB_CACHE to a folder on a bigger disk",
        )

    pulled: list[PulledFile] = []
    counter = _ByteProgress(total, progress)
    for remote in chosen:
        pointer = snapshot / remote.filename
        was_cached = pointer.exists()
        counter.start_file()
        path = _download(hub_ref.repo, commit, remote, cache_dir, counter.add)
        blob = path.resolve()
        try:
            sha256 = _verify(remote, path, blob)
        except CorruptDownloadError:
            _mark_downloaded(blob, owned=False)
            raise
        if not was_cached:
            _mark_downloaded(blob, owned=True)
        size = blob.stat().st_size
        counter.finish_file(size)
        pulled.append(PulledFile(remote.filename, size, sha256, path, blob))

    model = PulledModel(
        name=name,
        ref=ref.strip(),
        repo=hub_ref.repo,
        revision=commit,
        files=tuple(pulled),
        cache_dir=cache_dir,
        pulled_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    with _registry_lock():
        data = _load_registry()
        data["models"][name] = model.to_dict()
        _save_registry(data)
    return model


# --- removing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removal:
    model: PulledModel
    deleted: tuple[Path, ...]  # blobs deleted from the cache
    kept: tuple[Path, ...]  # files left in place: another tool downloaded them, or another name or snapshot uses them
    freed: int  # bytes


def _links_to(blob: Path, snapshots: Path) -> bool:
    if not snapshots.is_dir():
        return False
    return any(link.is_symlink() and link.resolve() == blob for link in snapshots.rglob("*"))


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders from `folder` up to `stop` (included): only what no file is left in."""
    while folder != stop.parent and folder.is_dir() and stop in (folder, *folder.parents):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def remove(name: str) -> Removal:
    """Unregister a pulled model and delete the blobs Ganymede downloaded for it that nothing else uses."""
    with _registry_lock():
        data = _load_registry()
        entry = data["models"].get(name)
        if entry is None:
            pulled = ", ".join(sorted(data["models"])) or "none yet"
            raise UnknownModelError(
                f"no model pulled under the name {name!r}",
                f"Ganymede removes only what it pulled (pulled: {pulled}); other tools' models stay theirs",
            )
        model = _entry(name, entry)
        others = {f["path"] for other, e in data["models"].items() if other != name for f in e["files"]}
        owned = set(data["downloaded"])
        folder = repo_folder(model.cache_dir, model.repo)
        deleted, kept, freed = [], [], 0
        for file in model.files:
            inside = folder in file.path.parents and folder in file.blob.parents
            if not inside or str(file.blob) not in owned or str(file.path) in others:
                kept.append(file.path)
                continue
            if file.path.is_symlink() or file.path.exists():
                file.path.unlink()
            _prune_empty(file.path.parent, folder / "snapshots")
            if _links_to(file.blob, folder / "snapshots"):
                kept.append(file.blob)
                continue
            if file.blob.exists():
                freed += file.blob.stat().st_size
                file.blob.unlink()
                deleted.append(file.blob)
            owned.discard(str(file.blob))
        for leftover in (folder / "blobs", folder / "snapshots", folder):
            _prune_empty(leftover, leftover)
        del data["models"][name]
        data["downloaded"] = sorted(owned)
        _save_registry(data)
    return Removal(model, tuple(deleted), tuple(kept), freed)
