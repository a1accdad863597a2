"""Attacks of our own against the sandbox, one group per class of issue 21. No model needed.

Each program is first run WITHOUT the sandbox (a plain `python` subprocess, same code) and shown to get
through there, so each test tests something. Then it runs in the sandbox, where it must fail, usually
twice: with every layer, and with the in-process layers (audit hook, seccomp) left out, so the kernel
layers are shown to hold on their own (no check may depend on a hook the code could race or neuter).
`imp` below is the real `__import__`, reached the classic way past the restricted builtins.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganymede.apps.tables import safe_files, sandbox
from ganymede.apps.tables.io import load_table
from ganymede.core.errors import InputFileError

IMP = (
    "imp = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['__builtins__']['__import__']\n"
)
FAST = sandbox.Limits(cpu_seconds=10, wall_seconds=20)
LAYER_SETS = [frozenset(), frozenset({"in-process"})]
LAYER_IDS = ["all-layers", "kernel-layers-alone"]
PLAIN_HARNESS = (
    "import json, sys\nns = {}\nexec(compile(open(sys.argv[1]).read(), '<code>', 'exec'), ns)\n"
    "print('\\nRESULT=' + json.dumps(ns.get('result'), default=str))\n"
)


@pytest.fixture(scope="module", autouse=True)
def kernel_layers() -> None:
    missing = [layer for layer in sandbox.REQUIRED_LAYERS if layer not in sandbox.isolation_layers()]
    if missing:
        pytest.skip(f"this machine lacks the sandbox's kernel layers ({missing}): the sandbox refuses to run here")


def sandboxed(code: str, disable: frozenset[str] = frozenset(), limits: sandbox.Limits = FAST, **kwargs: Any):
    return sandbox.run_code(code, preload=(), check=False, charts=False, limits=limits, _disable=disable, **kwargs)


def plain(code: str, folder: Path, timeout: float = 60) -> tuple[Any, str]:
    """The same program with no sandbox at all: (its `result`, its raw stdout)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "attack.py").write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_HARNESS, "attack.py"], cwd=folder, capture_output=True, timeout=timeout
    )
    out = done.stdout.decode("utf-8", errors="replace")
    assert "RESULT=" in out, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(out.rsplit("RESULT=", 1)[1]), out


def assert_failed(result: sandbox.SandboxResult) -> None:
    assert not result.ok, f"the attack ran to completion: {result.value!r}"
    assert result.error, "a failed run must say why"


# -- confinement ---------------------------------------------------------------------------------------
class _UnixServer:
    """A UNIX-domain socket listening on the host (a path, or an abstract name), recording what arrives."""

    def __init__(self, address: str | bytes) -> None:
        self.received: list[bytes] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(address)
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received.append(conn.recv(100))

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        self.server.close()


def _unix_attack(address: str | bytes) -> str:
    return IMP + textwrap.dedent(
        f"""
        so = imp('socket')
        s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        s.settimeout(3)
        s.connect({address!r})
        s.sendall(b'PWNED')
        s.close()
        result = 'sent'
        """
    )


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
@pytest.mark.parametrize("kind", ["filesystem", "abstract"])
def test_host_unix_sockets_are_out_of_reach(kind: str, disable: frozenset[str], tmp_path: Path) -> None:
    address: str | bytes = (
        str(tmp_path / "host.sock") if kind == "filesystem" else b"\0ganymede-" + secrets.token_hex(6).encode()
    )
    server = _UnixServer(address)
    try:
        code = _unix_attack(address)
        assert plain(code, tmp_path / "plain")[0] == "sent"
        deadline = time.monotonic() + 3
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.received == [b"PWNED"], "without the sandbox the attack reaches the socket"
        result = sandboxed(code, disable)
        time.sleep(0.3)
        assert_failed(result)
        assert server.received == [b"PWNED"], "the sandboxed code reached the host's socket"
    finally:
        server.close()


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    return libc


@pytest.fixture
def host_ipc() -> Iterator[tuple[int, int, bytes]]:
    """A SysV shared-memory segment and message queue of the host, holding a secret."""
    libc = _libc()
    key = 0x6A000000 + secrets.randbelow(0xFFFFFF)
    secret = b"IPC-SECRET-" + secrets.token_hex(6).encode()
    shm = libc.shmget(key, 4096, 0o1000 | 0o666)  # IPC_CREAT
    queue = libc.msgget(key, 0o1000 | 0o666)
    assert shm >= 0 and queue >= 0
    address = libc.shmat(shm, None, 0)
    ctypes.memmove(address, secret, len(secret))
    try:
        yield key, address, secret
    finally:
        libc.shmdt(ctypes.c_void_p(address))
        libc.shmctl(shm, 0, None)  # IPC_RMID
        libc.msgctl(queue, 0, None)


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_host_sysv_ipc_is_out_of_reach(
    host_ipc: tuple[int, int, bytes], disable: frozenset[str], tmp_path: Path
) -> None:
    key, address, secret = host_ipc
    code = IMP + textwrap.dedent(
        f"""
        c = imp('ctypes')
        libc = c.CDLL(None)
        libc.shmat.restype = c.c_void_p
        libc.shmat.argtypes = [c.c_int, c.c_void_p, c.c_int]
        shm, queue = libc.shmget({key}, 0, 0), libc.msgget({key}, 0)
        if shm < 0:
            result = ['no segment', queue]
        else:
            a = libc.shmat(shm, None, 0)
            stolen = c.string_at(a, {len(secret)})
            c.memmove(a, b'OVERWRITTEN', 11)
            result = [stolen.decode(), queue]
        """
    )
    stolen, queue = plain(code, tmp_path / "plain")[0]
    assert stolen == secret.decode() and queue >= 0, "without the sandbox the host's IPC is reachable"
    assert ctypes.string_at(address, 11) == b"OVERWRITTEN"
    ctypes.memmove(address, secret, len(secret))
    result = sandboxed(code, disable)
    assert ctypes.string_at(address, len(secret)) == secret, "the sandbox overwrote the host's shared memory"
    if result.ok:  # the kernel layers alone: the code runs, but sees an IPC namespace of its own
        assert result.value == ["no segment", -1]
    else:
        assert result.blocked


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_host_posix_shared_memory_is_out_of_reach(disable: frozenset[str], tmp_path: Path) -> None:
    name = Path("/dev/shm") / f"ganymede-test-{secrets.token_hex(6)}"
    name.write_text("SHM-SECRET", encoding="utf-8")
    try:
        code = IMP + f"result = imp('io').open({str(name)!r}).read()"
        assert plain(code, tmp_path / "plain")[0] == "SHM-SECRET"
        result = sandboxed(code, disable)
        assert_failed(result)
        assert "SHM-SECRET" not in str(result.value) + result.stdout + (result.error or "")
    finally:
        name.unlink()


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_host_tcp_services_are_out_of_reach(disable: frozenset[str], tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        code = IMP + f"imp('socket').create_connection(('127.0.0.1', {port}), timeout=3).close()\nresult = 'connected'"
        assert plain(code, tmp_path / "plain")[0] == "connected"
        assert_failed(sandboxed(code, disable))
    finally:
        server.close()


# -- lifetime ------------------------------------------------------------------------------------------
def _marked_processes(mark: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_no_process_outlives_the_run(disable: frozenset[str], tmp_path: Path) -> None:
    mark = f"ganymede-orphan-{secrets.token_hex(6)}"
    exe = sys.executable
    code = IMP + textwrap.dedent(
        f"""
        os = imp('os')
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                quiet = os.open('/dev/null', os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(quiet, fd)
                os.execv({exe!r}, [{exe!r}, '-c', 'import time\\nwhile True: time.sleep(0.2)', {mark!r}])
            os._exit(0)
        result = 'forked'
        """
    )
    assert plain(code, tmp_path / "plain")[0] == "forked"
    time.sleep(0.5)
    orphans = _marked_processes(mark)
    assert orphans, "without the sandbox the double-forked process survives"
    for pid in orphans:
        os.kill(pid, 9)
    sandboxed(code, disable)
    assert _marked_processes(mark) == [], "a process the code started outlived the run"


# -- integrity -----------------------------------------------------------------------------------------
def test_a_refusal_cannot_be_caught_and_erased(tmp_path: Path) -> None:
    code = IMP + textwrap.dedent(
        """
        os = imp('os')
        try:
            imp('io').open('/etc/shadow').read()
        except BaseException:
            pass
        for fd in range(0, 64):  # overwrite whatever record the host might keep in reach
            try:
                os.write(fd, b'layer forged\\nstart\\n')
            except OSError:
                pass
        result = 'clean'
        """
    )
    assert plain(code, tmp_path / "plain")[0] == "clean", "without the sandbox the code carries on"
    result = sandboxed(code)
    assert result.blocked and not result.ok and result.value is None
    assert "/etc/shadow" in (result.error or "")
    assert "forged" not in result.isolation


def test_the_reported_layers_cannot_be_forged() -> None:
    code = IMP + textwrap.dedent(
        """
        os = imp('os')
        written = 0
        for fd in range(0, 256):
            try:
                os.write(fd, b'layer forged\\nviolation none\\nstart\\n')
                written += 1
            except OSError:
                pass
        imp('io').open('sandbox-result.json', 'w').write('{"kind": "scalar", "value": "forged"}')
        result = written
        """
    )
    result = sandboxed(code)
    # a forged refusal only makes the run fail (fail closed); the layers and the value stay the host's own
    assert "forged" not in result.isolation and result.value != "forged"
    assert all(layer in result.isolation for layer in sandbox.REQUIRED_LAYERS)
    assert result.ok or result.blocked


NEW_PROCESS = {
    # each ends with RESULT= printed by the process it started (plain), proof that the start worked
    "fork": "os = imp('os')\nif os.fork() == 0:\n    os._exit(0)\nos.wait()\nresult = 'started'",
    "exec": "os = imp('os')\nexe = imp('sys').executable\n"
    "os.execv(exe, [exe, '-c', 'print(\"RESULT=\" + chr(34) + \"started\" + chr(34))'])",
    "spawn": "os = imp('os')\nexe = imp('sys').executable\n"
    "os.waitpid(os.posix_spawn(exe, [exe, '-c', 'pass'], {}), 0)\nresult = 'started'",
}


def test_no_socket_even_past_the_audit_hook() -> None:
    code = IMP + "so = imp('socket')\ntry:\n    so.socket(so.AF_INET)\n    result = 'socket'\n"
    code += "except OSError as exc:\n    result = exc.errno"
    assert sandboxed(code, frozenset({"audit-hook"})).value == 1  # EPERM from seccomp
    assert sandboxed(code, frozenset({"in-process"})).value == "socket"  # (the kernel layers still confine it)


@pytest.mark.parametrize("how", sorted(NEW_PROCESS))
def test_the_kernel_verdict_on_a_new_process_is_the_hosts(how: str, tmp_path: Path) -> None:
    code = IMP + NEW_PROCESS[how]
    assert plain(code, tmp_path / "plain")[0] == "started"
    result = sandboxed(code, frozenset({"audit-hook"}))  # seccomp alone: the run is killed with SIGSYS
    assert result.blocked and not result.ok and "start a process" in (result.error or ""), result.error
    assert "seccomp" in result.isolation and "audit-hook" not in result.isolation


# -- host crash and exhaustion -------------------------------------------------------------------------
def test_a_deeply_nested_result_is_a_clear_error() -> None:
    with pytest.raises(RecursionError):
        json.loads("[" * 200_000 + "]" * 200_000)  # what the host did before: a traceback, no JSON answer
    code = IMP + (
        "imp('io').open('sandbox-result.json', 'w')"
        ".write('{\"kind\": \"scalar\", \"value\": ' + '[' * 200000 + ']' * 200000 + '}')\n"
        "imp('os')._exit(0)\n"
    )
    result = sandboxed(code)
    assert not result.ok and "nested deeper" in (result.error or ""), result.error
    nested = sandboxed("x = []\nfor _ in range(300):\n    x = [x]\nresult = x")
    assert not nested.ok and "nested deeper" in (nested.error or ""), nested.error


def _deep_tree(top: Path, depth: int) -> None:
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            (Path(f"/proc/self/fd/{fd}") / "f.txt").write_text("x")
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def test_a_deep_tree_is_removed_without_recursion(tmp_path: Path) -> None:
    _deep_tree(tmp_path / "baseline", 1500)
    with pytest.raises(RecursionError):
        shutil.rmtree(tmp_path / "baseline")  # what the clean-up did before
    _deep_tree(tmp_path / "tree", 1500)
    safe_files.remove_tree(tmp_path / "tree")
    assert not (tmp_path / "tree").exists()
    subprocess.run(["rm", "-rf", str(tmp_path / "baseline")], check=True)  # the test's own folder


def test_a_deep_tree_made_by_the_code_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(sandbox.tempfile, "mkdtemp", recording_mkdtemp)
    code = IMP + "os = imp('os')\nfor _ in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\nresult = 'deep'"
    result = sandboxed(code, frozenset({"in-process"}))
    assert result.ok and result.value == "deep", result.error
    assert len(made) == 1 and not os.path.exists(made[0]), "the work dir was left behind"


def _bomb_parquet(path: Path, rows: int = 500_000, width: int = 10_000) -> None:
    """A small Parquet file (one dictionary entry, repeated) that decodes to rows x width bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype="int32")), pa.array(["x" * width]))
    # no stored Arrow schema: readers see a plain text column, and pandas expands every copy
    pq.write_table(pa.table({"s": column}), path, compression="zstd", store_schema=False)


BOUNDED_READ = """
import resource, sys
from ganymede.apps.tables import safe_files
try:
    {call}
    print("LOADED")
except Exception as exc:
    print("REFUSED", type(exc).__name__, exc)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec, so a child of a big
# pytest process (models loaded) would report the parent's peak as its own.
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print("RSS_MB", int(peak[0]) // 1024 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_decompression_bomb_parquet_does_not_blow_up_the_host(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.parquet"
    _bomb_parquet(bomb)
    assert bomb.stat().st_size < 1_000_000 and safe_files.parquet_decoded_bytes(bomb) > 4_000_000_000
    # the plain read, given the sandbox's own 3 GB: it runs out (the issue saw the host reach 4 GB RSS)
    plain_read = (
        "import pandas as pd, resource\nresource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        f"try:\n    pd.read_parquet({str(bomb)!r})\n    print('LOADED')\n"
        "except MemoryError:\n    print('OUT OF MEMORY')\n"
    )
    baseline = subprocess.run([sys.executable, "-c", plain_read], capture_output=True, text=True, timeout=120)
    assert "OUT OF MEMORY" in baseline.stdout, (baseline.stdout, baseline.stderr[-500:])
    script = BOUNDED_READ.format(call=f"safe_files.read_parquet_bounded({str(bomb)!r})")
    bounded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "REFUSED UnsafeInputError" in bounded.stdout and "decompression bomb" in bounded.stdout, bounded.stdout
    assert int(bounded.stdout.split("RSS_MB")[1]) < 600, bounded.stdout
    with pytest.raises(InputFileError, match="decompression bomb"):
        load_table(bomb)  # what `ganymede tables --data bomb.parquet` reads it with


def test_a_bomb_result_table_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.parquet"
    _bomb_parquet(bomb)
    code = IMP + textwrap.dedent(
        """
        io = imp('io')
        io.open('result.parquet', 'wb').write(io.open('bomb.parquet', 'rb').read())
        io.open('sandbox-result.json', 'w').write('{"kind": "dataframe", "file": "result.parquet"}')
        imp('os')._exit(0)
        """
    )
    result = sandboxed(code, files={"bomb.parquet": bomb})
    assert not result.ok and "refused" in (result.error or "") and result.value is None


# -- limits --------------------------------------------------------------------------------------------
THREADS = IMP + textwrap.dedent(
    """
    t, nap = imp('threading'), imp('time').sleep
    started = 0
    for _ in range(99):
        t.Thread(target=nap, args=(3,), daemon=True).start()
        started += 1
    result = started
    """
)


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_threads_and_processes_are_capped(disable: frozenset[str], tmp_path: Path) -> None:
    assert plain(THREADS, tmp_path / "plain")[0] == 99
    result = sandboxed(THREADS, disable)
    assert_failed(result)
    assert result.limit == "processes" and str(FAST.processes) in (result.error or "")


@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_total_disk_use_is_capped(disable: frozenset[str], tmp_path: Path) -> None:
    limits = sandbox.Limits(cpu_seconds=10, wall_seconds=20, disk_mb=32, file_size_mb=16)
    code = IMP + textwrap.dedent(
        """
        io = imp('io')
        block = b'x' * (1 << 20)
        for i in range(6):
            with io.open(f'part-{i}.bin', 'wb') as h:
                for _ in range(8):
                    h.write(block)
        result = 'wrote 48 MB'
        """
    )
    assert plain(code, tmp_path / "plain")[0] == "wrote 48 MB"
    result = sandboxed(code, disable, limits=limits)
    assert_failed(result)
    assert result.limit == "disk" and "32 MB" in (result.error or "")


# -- output --------------------------------------------------------------------------------------------
def test_terminal_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    code = IMP + textwrap.dedent(
        """
        nasty = '\\x1b]0;PWNED-TITLE\\x07\\x1b[2J\\x1b[31mred\\x1b[0m \\x9b6n '
        nasty += '\\x1bP+q\\x1b\\\\ bell\\x07 back\\x08 \\rover'
        print(nasty)
        imp('sys').stderr.write(nasty + '\\n')
        result = 'printed'
        """
    )
    raw = plain(code, tmp_path / "plain")[1]
    assert "\x1b]0;PWNED-TITLE" in raw and "\x1b[2J" in raw
    result = sandboxed(code)
    assert result.ok
    for text in (result.stdout, result.stderr):
        assert "red" in text and "bell" in text and "over" in text
        assert not any(ch in text for ch in "\x1b\x07\x08\r\x9b"), repr(text)
        assert "PWNED-TITLE" not in text


NASTY = "\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[3Jcleared\x9b6n"


def test_result_values_are_terminal_safe() -> None:
    import pandas as pd

    code = "result = {'k' + N: [N, 1], 'plain': 'tab\\there'}"
    value = sandboxed(code, inputs={"N": NASTY}).value
    assert value == {"kcleared": ["cleared", 1], "plain": "tab\there"}
    frame = pd.DataFrame({"a": ["ok", "x"], "b": [1, 2]})
    code = "df = df.copy()\ndf['a'] = df['a'] + N\ndf.columns = ['a' + N, 'b']\nresult = df.set_index('b')"
    table = sandbox.run_code(code, {"df": frame, "N": NASTY}, check=False, limits=FAST)
    assert table.ok, table.error
    assert list(table.value.columns) == ["acleared"] and list(table.value["acleared"]) == ["okcleared", "xcleared"]


def test_the_cli_prints_nothing_a_terminal_obeys(tmp_path: Path) -> None:
    """The way a user runs generated code: `ganymede tables --code FILE --data t.csv`, a terminal reading."""
    import io

    from rich.console import Console
    from rich.markup import escape

    unsafe = io.StringIO()
    Console(file=unsafe, force_terminal=True).print(escape(NASTY))  # how the CLI prints a value
    assert "\x9b6n" in unsafe.getvalue(), "the printer itself passes control sequences on"
    (tmp_path / "t.csv").write_text("a,b\nx,1\ny,2\n", encoding="utf-8")
    (tmp_path / "code.py").write_text(f"print({NASTY!r})\nresult = {NASTY!r} + str(df['b'].sum())\n", encoding="utf-8")
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "ganymede.cli", "tables", "--code", "code.py", "--data", "t.csv", *extra],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        shown = done.stdout + done.stderr
        assert done.returncode == 0, shown[-2000:]
        assert b"cleared" in shown
        assert not any(byte in shown for byte in (b"\x1b", b"\x07", b"\xc2\x9b")), shown


# -- information leak ----------------------------------------------------------------------------------
@pytest.mark.parametrize("disable", LAYER_SETS, ids=LAYER_IDS)
def test_a_host_path_reveals_nothing(disable: frozenset[str], tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s" * 1234, encoding="utf-8")
    code = IMP + textwrap.dedent(
        f"""
        os = imp('os')
        def probe(path):
            try:
                info = os.stat(path)
                return [info.st_size, info.st_ino, info.st_mtime]
            except OSError as exc:
                return [type(exc).__name__, exc.errno]
        result = [probe({str(secret)!r}), probe({str(secret) + ".missing"!r})]
        result += [probe('/etc/passwd'), probe('/etc/no-such')]
        """
    )
    there = plain(code, tmp_path / "plain")[0]
    assert there[0][0] == 1234, "without the sandbox stat reveals the file"
    result = sandboxed(code, disable)
    assert result.ok, result.error
    present, missing, passwd, absent = result.value
    assert present == missing and passwd == absent, result.value


# -- layers reported, weak mode refused ----------------------------------------------------------------
def test_a_run_reports_its_layers() -> None:
    result = sandboxed("result = 1")
    assert result.ok and result.value == 1
    for layer in (*sandbox.REQUIRED_LAYERS, "tmpfs-disk-cap", "resource-limits", "seccomp", "audit-hook"):
        assert layer in result.isolation, result.isolation
    assert result.layers == result.isolation


def test_only_in_process_layers_is_refused_without_opt_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(sandbox.WEAK_ENV, raising=False)
    with pytest.raises(sandbox.SandboxUnavailableError, match=sandbox.WEAK_ENV) as refused:
        sandboxed("result = 1", frozenset({"kernel"}))
    assert "mount-namespace" in str(refused.value) and "\n" not in str(refused.value)
    monkeypatch.setattr(sandbox, "_warned_weak", False)
    weak = sandboxed("result = 1", frozenset({"kernel"}), allow_weak=True)
    assert weak.ok and weak.value == 1
    assert "audit-hook" in weak.isolation and "mount-namespace" not in weak.isolation
    warning = capsys.readouterr().err
    assert "WARNING" in warning and "WITHOUT kernel isolation" in warning and warning.count("\n") == 1
    monkeypatch.setenv(sandbox.WEAK_ENV, "1")
    assert sandboxed("result = 2", frozenset({"kernel"})).value == 2
