"""The sandbox against attack programs (tests/security/attacks.py). No model needed.

Every attack runs twice: through the sandbox alone (static check off, so the OS layers and the audit hook
must stop it on their own) and through the whole pandas pipeline (static check first). After each one the
host must be unharmed: the folder outside the sandbox is byte-for-byte the same, no secret came back, the
host's HTTP server got no request from the sandbox and still answers, and this process is alive.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import pickle
import secrets
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganymede.apps.tables import pandas_code, sandbox
from tests.security.attacks import ATTACKS, Attack

LIMITS = sandbox.Limits(cpu_seconds=2, wall_seconds=8, memory_mb=3072, file_size_mb=8, output_chars=16_384)
CLEAR_WORDS = ("blocked", "not allowed", "stopped", "limit", "refused", "error", "denied", "permission")


class _Evil:
    """Unpickling this runs a shell command: the payload of the read_pickle advisories."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class _Host:
    def __init__(self, outside: Path, secret: str, port: int, requests: list[str]) -> None:
        self.outside, self.secret, self.port, self.requests = outside, secret, port, requests

    def snapshot(self) -> dict[str, str]:
        found = {}
        for path in sorted(self.outside.rglob("*")):
            found[str(path.relative_to(self.outside))] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            )
        return found

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as response:
            return response.status == 200 and response.read() == b"ok"

    def stolen_requests(self) -> list[str]:
        return [r for r in self.requests if r != "/health"]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Host]:
    """A folder of secrets outside the sandbox, a secret in this process's environment, and a live server."""
    import pandas as pd

    outside = tmp_path_factory.mktemp("outside")
    secret = "SECRET-" + secrets.token_hex(8)
    (outside / "secret.txt").write_text(f"{secret}\n1,2\n", encoding="utf-8")
    (outside / "secret.json").write_text(f'{{"key": ["{secret}"]}}', encoding="utf-8")
    pd.DataFrame({"key": [secret]}).to_parquet(outside / "secret.parquet")
    (outside / "evil.pkl").write_bytes(pickle.dumps(_Evil(outside / "ESCAPED")))
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok" if self.path == "/health" else secret.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old = os.environ.get("GANYMEDE_TEST_SECRET")
    os.environ["GANYMEDE_TEST_SECRET"] = secret  # a stand-in for an API key in the host's environment
    try:
        yield _Host(outside, secret, server.server_address[1], requests)
    finally:
        server.shutdown()
        if old is None:
            os.environ.pop("GANYMEDE_TEST_SECRET", None)
        else:
            os.environ["GANYMEDE_TEST_SECRET"] = old


@pytest.fixture(scope="module")
def table() -> Any:
    import pandas as pd

    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


def _code(attack: Attack, host: _Host) -> str:
    return attack.code.format(
        outside=host.outside,
        secret_file=host.outside / "secret.txt",
        port=host.port,
        pickle=host.outside / "evil.pkl",
        parquet=host.outside / "secret.parquet",
    )


def _lingering() -> list[str]:
    """Processes an attack left behind (the orphan attack sleeps 61.25 s: a mark no other process has)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if b"61.25" in (entry / "cmdline").read_bytes():
                found.append(entry.name)
        except OSError:
            continue
    return found


def _tmp_escapes() -> set[str]:
    return {p.name for p in Path("/tmp").glob("ESCAPED*")}


def _assert_contained(attack: Attack, result: sandbox.SandboxResult | None, host: _Host, before: dict[str, str]):
    assert host.snapshot() == before, f"{attack.name}: files outside the work dir changed"
    assert not (host.outside / "ESCAPED").exists()
    assert host.stolen_requests() == [], f"{attack.name}: the sandbox reached the host's server"
    assert host.healthy(), f"{attack.name}: the host's server stopped answering"
    if result is None:
        return
    leaked = " ".join(str(x) for x in (result.value, result.stdout, result.stderr, result.error))
    assert host.secret not in leaked, f"{attack.name}: the secret came back"
    assert "ESCAPED" not in str(result.value), f"{attack.name}: the attack reached its end ({result.value!r})"
    if attack.outcome == "contained":
        return
    assert not result.ok, f"{attack.name}: ran to completion ({result.kind}: {str(result.value)[:200]})"
    assert result.error and any(word in result.error.lower() for word in CLEAR_WORDS), result.error
    if attack.outcome == "limit":
        assert result.seconds < LIMITS.wall_seconds + 10
        assert len(result.stdout) <= LIMITS.output_chars + 100


def test_at_least_forty_distinct_attacks() -> None:
    assert len(ATTACKS) >= 40
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)


def test_this_machine_gives_the_os_layers() -> None:
    """Where Linux allows it, the kernel layers are on: say so loudly if a machine lacks them."""
    layers = sandbox.isolation_layers()
    assert "audit-hook" in layers and "resource-limits" in layers
    if not any(layer.startswith("landlock") for layer in layers):
        pytest.skip(f"no Landlock on this kernel; layers: {layers}")
    assert "network-namespace" in layers or any(layer.startswith("landlock-abi") for layer in layers)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_sandbox_alone_stops_attack(attack: Attack, host: _Host, table: Any) -> None:
    before, tmp_before = host.snapshot(), _tmp_escapes()
    result = sandbox.run_code(_code(attack, host), {"df": table}, limits=LIMITS, check=False)
    _assert_contained(attack, result, host, before)
    assert _tmp_escapes() == tmp_before
    assert _lingering() == [], f"{attack.name}: a process outlived the run"


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_pipeline_stops_attack(attack: Attack, host: _Host, table: Any) -> None:
    before = host.snapshot()
    try:
        result = pandas_code.run_pandas_code(_code(attack, host), {"t": table}, limits=LIMITS)
    except sandbox.UnsafeCodeError as exc:
        assert "refused" in str(exc) and "line" in str(exc)
        result = None
    _assert_contained(attack, result, host, before)


def test_host_keeps_serving_after_all_attacks(host: _Host, table: Any) -> None:
    result = sandbox.run_code("result = df['a'].sum()", {"df": table}, check=False)
    assert result.ok and result.value == 6
    assert host.healthy()
