"""Isolated execution of untrusted Python (model-written pandas code, a user's edit of it).

The code never runs in the calling process. Each run gets a fresh process and a fresh temporary work
directory holding only copies of the inputs, and is confined by independent layers, any one of which
stops the classic escapes on its own:

1. a static check (`check_code`): the code parses, imports only allow-listed modules and names no
   dunder attributes, frame internals or dangerous builtins. This is defence in depth only.
2. the operating system (Linux): a new user + network namespace (no network interfaces at all),
   Landlock (the kernel refuses every file access outside the interpreter's own files and the work
   directory, every TCP bind/connect, and signals to processes outside the sandbox), and resource
   limits on CPU time, address space, file size and process count. The environment is empty (no API
   keys) apart from a minimal PATH.
3. inside the interpreter: a `sys.addaudithook` hook, installed before the user's code runs, that
   refuses file access outside the work directory, process creation, sockets, ctypes, signals and
   pickle loading; and restricted builtins with an import allow-list.

Inputs go in as Parquet files; results come back as JSON, Parquet (tables) and PNG (charts), never
pickle. This module is also a script: the child process runs `python -I -S sandbox.py --launch CFG`,
which confines itself and then execs `python -I -S sandbox.py --run CFG`. It imports only the stdlib at
top level so both the CLI and the child start fast. `run_code` is the one entry point callers need.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

try:  # the host side shares errors with the rest of Ganymede; the child runs this file as a bare script
    from ganymede.core.errors import GanymedeError
except ImportError:  # pragma: no cover - only in the child, which never raises it
    GanymedeError = Exception  # type: ignore[misc,assignment]

#: modules user code may import (and their submodules).
DEFAULT_ALLOWED_MODULES: frozenset[str] = frozenset(
    {
        "pandas",
        "numpy",
        "math",
        "statistics",
        "datetime",
        "re",
        "matplotlib",
        "scipy",
        "collections",
        "itertools",
        "functools",
    }
)

#: builtins that reach files, code objects, frames or the import machinery.
BANNED_BUILTINS: frozenset[str] = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "breakpoint",
        "input",
        "help",
        "exit",
        "quit",
        "memoryview",
        "__builtins__",
        "__loader__",
        "__spec__",
    }
)

#: attribute names that lead to frames, code, modules or the OS (dunders are refused separately).
BANNED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "f_globals",
        "f_locals",
        "f_back",
        "f_builtins",
        "f_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "func_globals",
        "os",
        "sys",
        "subprocess",
        "builtins",
        "importlib",
        "ctypes",
        "ctypeslib",
        "socket",
        "shutil",
        "pathlib",
        "system",
        "popen",
        "spawn",
        "fork",
        "kill",
        "environ",
        "getenv",
        "_getframe",
        "_posixsubprocess",
        "_io",
        "load",  # numpy.load, pickle.load
        "loads",
        "fromfile",
        "tofile",
        "memmap",
        "loadtxt",
        "genfromtxt",
        "savetxt",
        "save",
        "savez",
        "savez_compressed",
    }
)

#: modules nothing in the sandbox may load once the user's code starts (the audit hook refuses them).
DENIED_RUNTIME_MODULES: frozenset[str] = frozenset(
    {
        "ctypes",
        "_ctypes",
        "subprocess",
        "_posixsubprocess",
        "socket",
        "_socket",
        "ssl",
        "_ssl",
        "multiprocessing",
        "_multiprocessing",
        "pty",
        "mmap",
        "resource",
        "urllib.request",
        "http.client",
        "ftplib",
        "smtplib",
        "telnetlib",
        "webbrowser",
        "asyncio",
        "_asyncio",
        "selectors",
    }
)

#: names preloaded modules get in the code's namespace, as every pandas snippet assumes them
PRELOAD_ALIASES = {"pandas": "pd", "numpy": "np"}

CONFIG_NAME = "sandbox-config.json"
RESULT_NAME = "sandbox-result.json"
OUTPUT_CAP = 64 * 1024  # characters of stdout/stderr handed back


class UnsafeCodeError(GanymedeError):
    """The static check refused the code before it ran; the message says what and where."""


# -- limits and results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """What one run may use. Defaults suit a pandas question over a table of up to ~1e6 rows."""

    cpu_seconds: int = 20
    wall_seconds: float = 40.0
    memory_mb: int = 3072  # address space: pandas + pyarrow reserve ~1.2 GB of it at import
    file_size_mb: int = 64
    processes: int = 16  # threads count too (pyarrow's pool)
    output_chars: int = OUTPUT_CAP


@dataclass
class SandboxResult:
    """What came back. `ok` is False when the code raised, was blocked, or hit a limit; `error` says why."""

    ok: bool
    kind: str = "none"  # none | dataframe | series | scalar | text | error
    value: Any = None
    charts: list[bytes] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    error_type: str | None = None
    blocked: bool = False
    violations: list[str] = field(default_factory=list)
    limit: str | None = None  # cpu | wall | memory | file_size | None
    seconds: float = 0.0
    layers: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"ok ({self.kind})"
        return f"{'blocked' if self.blocked else 'failed'}: {self.error}"


# -- static check --------------------------------------------------------------------------------------
def _is_dunder(name: str) -> bool:
    return name.startswith("__")


def check_code(
    code: str,
    allowed_modules: frozenset[str] = DEFAULT_ALLOWED_MODULES,
    banned_attributes: frozenset[str] = BANNED_ATTRIBUTES,
    banned_calls: frozenset[str] = frozenset(),
) -> list[str]:
    """Problems the static check finds, each 'line N: what'. Empty means it may run (in the sandbox).

    `banned_calls` names methods refused wherever they appear (e.g. pandas' file readers)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: syntax error: {exc.msg}"]
    problems: list[str] = []

    def add(node: ast.AST, message: str) -> None:
        problems.append(f"line {getattr(node, 'lineno', '?')}: {message}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in allowed_modules:
                    add(
                        node, f"import of {alias.name!r} is not allowed (allowed: {', '.join(sorted(allowed_modules))})"
                    )
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.split(".")[0] not in allowed_modules:
                add(node, f"import from {module or '.'!r} is not allowed")
            for alias in node.names:
                if alias.name == "*" or _is_dunder(alias.name) or alias.name in banned_attributes:
                    add(node, f"importing {alias.name!r} is not allowed")
        elif isinstance(node, ast.Attribute):
            if _is_dunder(node.attr) or node.attr in banned_attributes:
                add(node, f"access to attribute {node.attr!r} is not allowed")
            elif node.attr in banned_calls:
                add(node, f"{node.attr}() is not allowed: the data is already loaded; file and network I/O is refused")
        elif isinstance(node, ast.Name):
            if node.id in BANNED_BUILTINS or _is_dunder(node.id):
                add(node, f"use of {node.id!r} is not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            # strings reach attributes through query()/eval() expressions and format specs
            add(node, "strings containing '__' are not allowed")
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and part.format_spec is not None:
                    add(node, "format specs inside f-strings are not allowed")
        elif isinstance(node, ast.Global | ast.Nonlocal):
            add(node, f"'{type(node).__name__.lower()}' is not allowed")
    return problems


# -- host side -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _interpreter_paths() -> tuple[list[str], list[str]]:
    """(sys.path entries the child needs, folders it may read) for the running interpreter."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    search = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if any(real == r or real.startswith(r + os.sep) for r in roots):
            search.append(real)
    readable = sorted(roots | set(search) | {os.path.dirname(os.path.realpath(sys.executable))})
    return search, readable


def _system_readable() -> list[str]:
    """Shared libraries and data the interpreter and compiled wheels load."""
    candidates = [
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/usr/local/lib",
        "/etc/ld.so.cache",
        "/usr/share/zoneinfo",
    ]
    return [p for p in candidates if os.path.exists(p)]


def run_code(
    code: str,
    inputs: dict[str, Any] | None = None,
    *,
    result_name: str = "result",
    limits: Limits | None = None,
    check: bool = True,
    allowed_modules: frozenset[str] = DEFAULT_ALLOWED_MODULES,
    banned_calls: frozenset[str] = frozenset(),
    charts: bool = True,
    preload: tuple[str, ...] = ("pandas", "numpy"),
    files: dict[str, Path] | None = None,
) -> SandboxResult:
    """Run `code` in a fresh confined process and return what it left in `result_name`.

    `inputs` maps variable names to DataFrames (sent as Parquet) or JSON-able values; `files` maps names
    to files copied into the work directory. With `check=True` the static check runs first and a refusal
    raises UnsafeCodeError without starting a process."""
    if check:
        problems = check_code(code, allowed_modules, banned_calls=banned_calls)
        if problems:
            raise UnsafeCodeError("the code was refused before running: " + "; ".join(problems[:5]))
    limits = limits or Limits()
    workdir = Path(tempfile.mkdtemp(prefix="ganymede-sandbox-"))
    try:
        config = _prepare(
            workdir, code, inputs or {}, files or {}, result_name, limits, allowed_modules, charts, preload
        )
        return _execute(workdir, config, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare(
    workdir: Path,
    code: str,
    inputs: dict[str, Any],
    files: dict[str, Path],
    result_name: str,
    limits: Limits,
    allowed_modules: frozenset[str],
    charts: bool,
    preload: tuple[str, ...],
) -> dict[str, Any]:
    frames: dict[str, str] = {}
    values: dict[str, Any] = {}
    for i, (name, value) in enumerate(inputs.items()):
        if not name.isidentifier():
            raise GanymedeError(f"input name {name!r} is not a Python identifier")
        if hasattr(value, "to_parquet") and hasattr(value, "columns"):
            frames[name] = f"input-{i}.parquet"
            value.to_parquet(workdir / frames[name])
        elif isinstance(value, dict) and value and all(hasattr(v, "to_parquet") for v in value.values()):
            for j, frame in enumerate(value.values()):
                frame.to_parquet(workdir / f"input-{i}-{j}.parquet")
            values[name] = {"__frames__": {str(k): f"input-{i}-{j}.parquet" for j, k in enumerate(value)}}
        else:
            json.dumps(value)  # only JSON-able values cross the boundary
            values[name] = value
    for name, source in files.items():
        shutil.copyfile(source, workdir / Path(name).name)
    search, readable = _interpreter_paths()
    config = {
        "workdir": str(workdir),
        "code": code,
        "frames": frames,
        "values": values,
        "result_name": result_name,
        "sys_path": search,
        "readable": readable,
        "system_readable": _system_readable(),
        "module_file": os.path.realpath(__file__),
        "allowed_modules": sorted(allowed_modules),
        "denied_modules": sorted(DENIED_RUNTIME_MODULES),
        "charts": charts,
        "preload": list(preload),
        "limits": limits.__dict__,
    }
    (workdir / CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")
    return config


def _child_env(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _execute(workdir: Path, config: dict[str, Any], limits: Limits) -> SandboxResult:
    started = time.monotonic()
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with open(out_path, "w+b") as out, open(err_path, "w+b") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.realpath(__file__), "--launch", str(workdir / CONFIG_NAME)],
            cwd=workdir,
            env=_child_env(workdir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, so the whole group can be killed
            close_fds=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)
        # read through the host's own descriptors: the child may have replaced the names with links
        stdout = _read_capped(out, limits.output_chars)
        stderr = _read_capped(err, limits.output_chars)
    seconds = time.monotonic() - started
    report = _read_report(workdir / RESULT_NAME)
    result = SandboxResult(ok=False, stdout=stdout, stderr=stderr, seconds=seconds)
    if report:
        result.violations = [str(v) for v in report.get("violations", [])][:20]
        result.layers = [str(v) for v in report.get("layers", [])]
    if timed_out:
        result.limit, result.error = "wall", f"stopped: it ran longer than the {limits.wall_seconds:g} s time limit"
    elif proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not report:
        result.limit, result.error = "cpu", f"stopped: it used more than {limits.cpu_seconds} s of CPU time"
    elif report is None:
        tail = stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        result.error = f"the sandboxed process ended without a result ({tail[0]})"
    else:
        _fill_from_report(result, report, workdir, limits)
    if result.violations:
        # Refused operations fail the run even when the code caught the exception and carried on.
        result.ok, result.blocked = False, True
        result.kind, result.value, result.charts = "error", None, []
        if result.limit is None:
            result.error = f"blocked by the sandbox: {result.violations[0]}"
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_capped(handle: Any, limit: int) -> str:
    handle.seek(0)
    data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")


def _read_plain(path: Path, cap: int) -> bytes | None:
    """A file the child wrote, only if it is a regular, singly linked file (no symlink, no hard link to
    something outside) no larger than `cap`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > cap:
            return None
        return handle.read(cap)


def _read_report(path: Path) -> dict[str, Any] | None:
    data = _read_plain(path, 4 * 1024 * 1024)
    try:
        report = json.loads(data.decode("utf-8")) if data is not None else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _inside(workdir: Path, name: Any, cap: int) -> bytes | None:
    """The bytes of a result file the child named, only if it lies directly inside the work dir."""
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        return None
    return _read_plain(workdir / name, cap)


def _fill_from_report(result: SandboxResult, report: dict[str, Any], workdir: Path, limits: Limits) -> None:
    error = report.get("error")
    if isinstance(error, dict):
        result.error_type = str(error.get("type", "Error"))
        result.error = f"{result.error_type}: {str(error.get('message', ''))[:2000]}"
        if result.error_type == "MemoryError":
            result.limit, result.error = (
                "memory",
                f"stopped: it needed more than the {limits.memory_mb} MB memory limit",
            )
        result.kind = "error"
        return
    cap = limits.file_size_mb * 1024 * 1024
    for name in report.get("charts", [])[:10]:
        png = _inside(workdir, name, cap)
        if png and png.startswith(b"\x89PNG"):
            result.charts.append(png)
    kind = str(report.get("kind", "none"))
    result.kind, result.ok = kind, True
    if kind in ("dataframe", "series"):
        data = _inside(workdir, report.get("file"), cap)
        if data is None:
            result.ok, result.error = False, "the result table is missing"
            return
        import io

        import pandas as pd

        frame = pd.read_parquet(io.BytesIO(data))
        if kind == "series":
            series = frame.iloc[:, 0]
            series.name = report.get("name")
            result.value = series
        else:
            result.value = frame
    else:
        result.value = report.get("value")


@lru_cache(maxsize=1)
def isolation_layers() -> list[str]:
    """Which OS layers this machine gives the sandbox (probed once with a trivial run)."""
    result = run_code("result = 1", preload=(), check=False, charts=False)
    return result.layers


# -- child side: confinement ---------------------------------------------------------------------------
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _enter_namespaces(layers: list[str]) -> None:
    """New user, network and PID namespaces: no interfaces but a downed loopback, no capabilities outside,
    and every process the code starts dies with it."""
    if not sys.platform.startswith("linux"):
        return
    libc = _libc()
    clone_newuser, clone_newnet, clone_newpid = 0x10000000, 0x40000000, 0x20000000
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(clone_newuser | clone_newnet | clone_newpid) == 0:
        layers.append("pid-namespace")
    elif libc.unshare(clone_newuser | clone_newnet) != 0:
        return
    try:
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        # A non-zero uid inside, so exec drops every capability the new namespace granted.
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"1000 {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"1000 {gid} 1")
    except OSError:
        pass
    layers.append("network-namespace")


def _set_limits(limits: dict[str, Any], layers: list[str]) -> None:
    import resource

    mb = 1024 * 1024
    wanted = [
        (resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1),
        (resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * mb, limits["file_size_mb"] * mb),
        (resource.RLIMIT_NPROC, limits["processes"], limits["processes"]),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, soft, hard in wanted:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            continue
    layers.append("resource-limits")


def _landlock(readable: list[str], workdir: str, layers: list[str]) -> None:
    """Kernel-enforced file, TCP and signal confinement (Linux 5.13+; more with newer ABIs)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import platform

    if platform.machine() not in ("x86_64", "aarch64", "arm64"):
        return
    libc = _libc()
    create, add_rule, restrict = 444, 445, 446
    abi = libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return
    execute, write_file, read_file, read_dir = 1 << 0, 1 << 1, 1 << 2, 1 << 3
    fs_all = (1 << 13) - 1
    if abi >= 2:
        fs_all |= 1 << 13  # REFER
    if abi >= 3:
        fs_all |= 1 << 14  # TRUNCATE
    if abi >= 5:
        fs_all |= 1 << 15  # IOCTL_DEV
    file_rights = execute | write_file | read_file | (1 << 14 if abi >= 3 else 0)

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    net = 0b11 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP, with no rule allowing any port
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals stay inside the sandbox
    attr = RulesetAttr(fs_all, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return

    def allow(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(path):
                rights &= file_rights
            rule = PathBeneath(rights, fd)
            libc.syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
        finally:
            os.close(fd)

    for path in readable:
        allow(path, execute | read_file | read_dir)
    allow("/dev/null", read_file | write_file)
    allow(workdir, fs_all)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to self-restrict
        os.close(ruleset)
        return
    if libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0:
        layers.append(f"landlock-abi{abi}")
    os.close(ruleset)


def _seccomp_no_new_processes(layers: list[str]) -> None:
    """A seccomp filter: threads may still start, but no fork, vfork, clone of a process, or exec."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import platform

    machine = platform.machine()
    if machine == "x86_64":
        arch, clone, clone3, fork, vfork, execve, execveat = 0xC000003E, 56, 435, 57, 58, 59, 322
    elif machine in ("aarch64", "arm64"):
        arch, clone, clone3, execve, execveat = 0xC00000B7, 220, 435, 221, 281
        fork = vfork = 0xFFFFFFFF  # no such calls on arm64
    else:
        return
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, errno = 0x7FFF0000, 0x80000000, 0x00050000
    clone_thread = 0x00010000
    program = [
        (ld, 0, 0, 4),  # 0: arch
        (jeq, 1, 0, arch),  # 1
        (ret, 0, 0, kill),  # 2: a foreign ABI
        (ld, 0, 0, 0),  # 3: syscall number
        (jge, 11, 0, 0x40000000),  # 4: x32 ABI -> kill
        (jeq, 9, 0, clone3),  # 5: -> ENOSYS, so libc falls back to clone, whose flags we can read
        (jeq, 7, 0, fork),  # 6 -> EPERM
        (jeq, 6, 0, vfork),  # 7
        (jeq, 5, 0, execve),  # 8
        (jeq, 4, 0, execveat),  # 9
        (jeq, 0, 2, clone),  # 10: clone -> check flags; other calls -> allow
        (ld, 0, 0, 16),  # 11: clone flags (args[0], low half)
        (jset, 0, 1, clone_thread),  # 12: a thread -> allow, a process -> EPERM
        (ret, 0, 0, allow),  # 13
        (ret, 0, 0, errno | 1),  # 14: EPERM
        (ret, 0, 0, errno | 38),  # 15: ENOSYS
        (ret, 0, 0, kill),  # 16
    ]

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    filters = (Instruction * len(program))(*[Instruction(*step) for step in program])
    fprog = Program(len(program), filters)
    libc = _libc()
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (already set with Landlock; needed without it)
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        layers.append("seccomp")


def _launch(config_path: str) -> None:
    """Confine this process, then exec a fresh interpreter to run the code (never returns on success)."""
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    layers: list[str] = []
    _enter_namespaces(layers)
    readable = [*config["readable"], *config["system_readable"], config["module_file"]]
    _landlock(readable, config["workdir"], layers)
    _set_limits(config["limits"], layers)
    os.environ["GANYMEDE_SANDBOX_LAYERS"] = ",".join(layers)
    argv = [sys.executable, "-I", "-S", config["module_file"], "--run", config_path]
    if "pid-namespace" not in layers:
        os.execve(sys.executable, argv, dict(os.environ))
    # The first child is PID 1 of the new namespace: when it dies the kernel kills everything it started.
    # It also dies with this launcher (PDEATHSIG), which the host kills with the process group.
    pid = os.fork()
    if pid == 0:
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (getppid() is 0 here: the parent is outside)
        os.execve(sys.executable, argv, dict(os.environ))
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        with contextlib.suppress(OSError, ValueError):  # SIGKILL/SIGSTOP cannot be given a handler
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


# -- child side: the audit hook and the run ------------------------------------------------------------
class SandboxViolation(PermissionError):
    """Raised inside the sandbox when the audit hook refuses an operation."""


def _install_audit_hook(workdir: str, readable: list[str], denied_modules: frozenset[str], log: list[str]) -> None:
    workdir_real = os.path.realpath(workdir)
    read_roots = tuple(os.path.realpath(p) for p in readable)
    always_denied_prefixes = ("socket.", "ctypes.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn")
    always_denied = frozenset(
        {
            "os.system",
            "os.fork",
            "os.forkpty",
            "os.kill",
            "os.killpg",
            "signal.pthread_kill",
            "pty.spawn",
            "sys.addaudithook",
            "pickle.find_class",
            "code.__new__",
            "mmap.__new__",
            "urllib.Request",
            "http.client.connect",
            "ftplib.connect",
            "smtplib.connect",
            "webbrowser.open",
            "resource.setrlimit",
            "resource.prlimit",
            "sys.remote_exec",
            "_posixsubprocess.fork_exec",
            "winreg.OpenKey",
        }
    )
    path_events = {
        "os.listdir": 0,
        "os.scandir": 0,
        "os.chdir": 0,
        "os.mkdir": 0,
        "os.rmdir": 0,
        "os.remove": 0,
        "os.rename": 0,
        "os.replace": 0,
        "os.symlink": 1,
        "os.link": 1,
        "os.chmod": 0,
        "os.chown": 0,
        "os.truncate": 0,
        "os.utime": 0,
        "os.chflags": 0,
        "os.setxattr": 0,
        "os.removexattr": 0,
        "shutil.rmtree": 0,
        "shutil.copyfile": 1,
        "shutil.move": 1,
        "glob.glob": 0,
        "sqlite3.connect": 0,
    }
    writing_events = frozenset(path_events) - {"os.listdir", "os.scandir", "os.chdir", "glob.glob"}
    guard = {"busy": False}

    def within(path: Any, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == root or real.startswith(root + os.sep) for root in roots)

    def deny(what: str) -> None:
        log.append(what)
        raise SandboxViolation(f"blocked by the sandbox: {what}")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if guard["busy"]:
            return
        guard["busy"] = True
        try:
            if event in always_denied or event.startswith(always_denied_prefixes):
                deny(f"{event}{_brief(args)}")
            elif event == "import":
                name = str(args[0])
                if name in denied_modules or name.split(".")[0] in denied_modules:
                    deny(f"import {name}")
            elif event == "open":
                path, mode, flags = [*args, None, None, None][:3]
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
                )
                if path is None:
                    return
                if within(path, (workdir_real,)):
                    return
                if (not writing and within(path, read_roots)) or str(path) == "/dev/null":
                    return
                deny(f"open({os.fsdecode(path) if isinstance(path, str | bytes) else path!r})")
            elif event in path_events:
                index = path_events[event]
                targets = [args[0]] if args else []
                if index == 1 and len(args) > 1:
                    targets.append(args[1])
                roots = (workdir_real,) if event in writing_events else (workdir_real, *read_roots)
                for target in targets:
                    if target is not None and not within(target, roots):
                        deny(f"{event}({target!r})")
        finally:
            guard["busy"] = False

    sys.addaudithook(hook)


def _brief(args: tuple[Any, ...]) -> str:
    text = repr(args)
    return text if len(text) <= 120 else text[:117] + "..."


def _safe_builtins(allowed_modules: frozenset[str]) -> dict[str, Any]:
    import builtins

    real_import = builtins.__import__

    def guarded_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level or name.split(".")[0] not in allowed_modules:
            raise ImportError(f"import of {name!r} is not allowed in the sandbox")
        return real_import(name, globals, locals, fromlist, level)

    safe = {k: v for k, v in vars(builtins).items() if k not in BANNED_BUILTINS}
    safe["__import__"] = guarded_import
    return safe


def _run(config_path: str) -> None:
    """Load inputs, install the audit hook, run the code, write the result (JSON/Parquet/PNG)."""
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes raise EFBIG instead of killing us
    sys.path[:0] = config["sys_path"]
    workdir = config["workdir"]
    os.chdir(workdir)
    layers = [x for x in os.environ.pop("GANYMEDE_SANDBOX_LAYERS", "").split(",") if x]
    report: dict[str, Any] = {"layers": layers, "violations": []}
    namespace: dict[str, Any] = {}
    for module in config["preload"]:
        __import__(module)
        if module in PRELOAD_ALIASES:
            namespace[PRELOAD_ALIASES[module]] = sys.modules[module]
    if config["frames"] or any(isinstance(v, dict) and "__frames__" in v for v in config["values"].values()):
        import pandas as pd

        for name, file in config["frames"].items():
            namespace[name] = pd.read_parquet(file)
        for name, value in config["values"].items():
            if isinstance(value, dict) and "__frames__" in value:
                namespace[name] = {k: pd.read_parquet(f) for k, f in value["__frames__"].items()}
            else:
                namespace[name] = value
    else:
        namespace.update(config["values"])
    plt = None
    if config["charts"] and "matplotlib" in config["allowed_modules"] and "plt" in config["code"]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    allowed = frozenset(config["allowed_modules"])
    namespace["__builtins__"] = _safe_builtins(allowed)
    namespace["__name__"] = "__sandbox__"
    readable = [*config["readable"], *config["system_readable"], config["module_file"]]
    _seccomp_no_new_processes(report["layers"])
    _install_audit_hook(workdir, readable, frozenset(config["denied_modules"]), report["violations"])
    layers.append("audit-hook")
    try:
        code = compile(config["code"], "<code>", "exec")
        exec(code, namespace)
        _describe_result(namespace.get(config["result_name"]), report)
        if plt is not None:
            report["charts"] = []
            for i, number in enumerate(plt.get_fignums()[:10]):
                name = f"chart-{i + 1}.png"
                plt.figure(number).savefig(name, dpi=100, bbox_inches="tight")
                report["charts"].append(name)
    except BaseException as exc:  # the user's error, reported back as data
        report["error"] = {"type": type(exc).__name__, "message": _error_message(exc)}
    _write_report(report)


def _error_message(exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<code>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{str(exc)[:2000]}{where}"


def _describe_result(value: Any, report: dict[str, Any]) -> None:
    """Turn `result` into JSON, or a Parquet file for tables. Never pickle."""
    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        np = pd = None  # type: ignore[assignment]
    if value is None:
        report["kind"] = "none"
        return
    if pd is not None and isinstance(value, pd.DataFrame | pd.Series):
        frame = (
            value.to_frame(name=str(value.name) if value.name is not None else "value")
            if isinstance(value, pd.Series)
            else value
        )
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        if isinstance(frame.index, pd.MultiIndex):
            frame.index = frame.index.set_names([str(n) if n is not None else None for n in frame.index.names])
        try:
            frame.to_parquet("result.parquet")
        except Exception:
            frame = frame.astype(str)
            frame.index = frame.index.astype(str)
            frame.to_parquet("result.parquet")
        report["kind"] = "series" if isinstance(value, pd.Series) else "dataframe"
        report["name"] = None if not isinstance(value, pd.Series) or value.name is None else str(value.name)
        report["file"] = "result.parquet"
        return
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if np is not None and isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bool | int | float | str) or value is None:
        report["kind"], report["value"] = "scalar", value
        if isinstance(value, float) and value != value:
            report["value"] = None
        return
    try:
        text = json.dumps(value, default=str, allow_nan=False)
        report["kind"], report["value"] = "scalar", json.loads(text)
    except (TypeError, ValueError):
        report["kind"], report["value"] = "text", repr(value)[:20000]


def _write_report(report: dict[str, Any]) -> None:
    text = json.dumps(report, default=str)
    with open(RESULT_NAME + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(RESULT_NAME + ".tmp", RESULT_NAME)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--launch":
        _launch(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--run":
        _run(sys.argv[2])
    else:
        sys.exit("usage: sandbox.py --launch|--run CONFIG (started by apps.sandbox.run_code)")
