"""Isolated execution of untrusted Python (model-written pandas code, a user's edit of it).

The code never runs in the calling process. Each run gets fresh processes and a fresh work directory
holding only the inputs, and is confined by independent layers (README "Security" lists what each stops):

1. a static check (`check_code`, host side): the code parses, imports only allow-listed modules and names
   no dunder attributes, frame internals or dangerous builtins. Defence in depth only.
2. the kernel (Linux), set up by a launcher process before any of the code exists:
   - namespaces: user (the code runs as an unprivileged uid, a non-root host uid when the host is root),
     network (no interfaces: no TCP/UDP and no abstract UNIX socket of the host), IPC (no SysV/POSIX IPC
     of the host), PID (the code's first process is PID 1: when it dies every process it started dies),
     mount (a private root holding only the interpreter, its libraries and the work dir: a host file
     outside is simply absent, to `stat` as to `open`), UTS and cgroup;
   - the work dir is a size-limited tmpfs (the total-disk cap), inputs are read-only binds into it;
   - Landlock (file access outside the interpreter and the work dir, TCP, signals), seccomp (no new
     process, no exec: a try kills the run, a verdict the host sees in the exit status), resource limits
     (CPU time, address space, file size, processes + threads, open files).
3. inside the interpreter: a `sys.addaudithook` hook that ends the run at the first refused event
   (file access outside the work dir, processes, sockets, ctypes, signals, pickle loading), and restricted
   builtins with an import allow-list.

Integrity: what the host reports comes from its own observation, never from state the code can write.
The layers are reported over a pipe that is closed before the code starts; refusals go to the host over
a second pipe at the moment they happen, and the run ends there (exit status); results are copied out
of the tmpfs by the launcher, which the code cannot see, and the host reads them with size and depth
limits. Printed output is made terminal-safe before it is returned.

When the kernel layers are missing (macOS, containers without user namespaces), `run_code` refuses to
run unless GANYMEDE_SANDBOX_WEAK=1 (or `allow_weak=True`) is given, and then warns loudly.

This module is also a script: the host runs `python -I -S sandbox.py --launch WORKDIR`, which confines
itself and forks the code's PID 1, which execs `python -I -S sandbox.py --run CONFIG`. It imports only
the stdlib at top level so the child starts fast. `run_code` is the one entry point callers need.
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
import threading
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
OUTPUT_FLOOD_BYTES = 4 * 2**20  # printed past this, the run is stopped (an output flood is an attack, not a result)

#: exit statuses the sandbox's own processes use (the host reads them, the code cannot undo them)
EXIT_BLOCKED = 87  # the audit hook refused an operation
EXIT_REFUSED = 88  # the kernel layers are missing and weak mode was not allowed
EXIT_SETUP = 89  # the launcher could not set up the confinement

#: the kernel layers a run needs; with any missing `run_code` refuses unless weak mode is allowed
REQUIRED_LAYERS: tuple[str, ...] = (
    "user-namespace",
    "network-namespace",
    "ipc-namespace",
    "pid-namespace",
    "mount-namespace",
)
WEAK_ENV = "GANYMEDE_SANDBOX_WEAK"
#: where the work dir is inside the sandbox's own root
INNER_WORKDIR = "/sandbox"
#: the uid (and gid) the code runs as inside; mapped to the host user, or to SANDBOX_HOST_ID for root
INNER_ID = 1000
SANDBOX_HOST_ID = 2_000_000_000  # far from any real account: owns nothing on the host
#: result files the launcher copies out of the sandbox (nothing else crosses back)
RESULT_FILES = (RESULT_NAME, "result.parquet", *(f"chart-{i}.png" for i in range(1, 11)))


class UnsafeCodeError(GanymedeError):
    """The static check refused the code before it ran; the message says what and where."""


class SandboxUnavailableError(GanymedeError):
    """This machine cannot give the sandbox its kernel layers, and weak mode was not allowed."""


# -- limits and results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """What one run may use. Defaults suit a pandas question over a table of up to ~1e6 rows."""

    cpu_seconds: int = 20
    wall_seconds: float = 40.0
    memory_mb: int = 3072  # address space: pandas + pyarrow reserve ~1.2 GB of it at import
    file_size_mb: int = 64  # any one file
    disk_mb: int = 128  # everything the code writes, all files together (the work dir's tmpfs)
    files: int = 4096  # files + directories in the work dir (tmpfs inodes)
    processes: int = 16  # threads and processes together (pyarrow's pool counts)
    open_files: int = 256
    output_chars: int = OUTPUT_CAP


@dataclass
class SandboxResult:
    """What came back. `ok` is False when the code raised, was blocked, or hit a limit; `error` says why.

    `isolation` lists the layers this run actually had, as the launcher reported them before the code
    started (`layers` is the same list, kept for older callers)."""

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
    limit: str | None = None  # cpu | wall | memory | file_size | disk | processes | None
    seconds: float = 0.0
    isolation: list[str] = field(default_factory=list)

    @property
    def layers(self) -> list[str]:
        return self.isolation

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


def weak_mode_allowed(allow_weak: bool | None = None) -> bool:
    """The explicit opt-in to run with only the in-process layers: the parameter, else GANYMEDE_SANDBOX_WEAK=1."""
    return allow_weak if allow_weak is not None else os.environ.get(WEAK_ENV, "") == "1"


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
    allow_weak: bool | None = None,
    _disable: frozenset[str] = frozenset(),
) -> SandboxResult:
    """Run `code` in a fresh confined process and return what it left in `result_name`.

    `inputs` maps variable names to DataFrames (sent as Parquet) or JSON-able values; `files` maps names
    to files put (read-only) in the work directory. With `check=True` the static check runs first and a
    refusal raises UnsafeCodeError without starting a process. Without the kernel layers this raises
    SandboxUnavailableError, unless weak mode is allowed (`allow_weak`, or GANYMEDE_SANDBOX_WEAK=1).

    `_disable` is for the security tests only: {"kernel"} runs as a machine without namespaces and
    Landlock would, {"in-process"} leaves out the audit hook and seccomp ({"audit-hook"} only the hook),
    so that each layer is shown to hold on its own."""
    from ganymede.apps.tables.safe_files import remove_tree

    if check:
        problems = check_code(code, allowed_modules, banned_calls=banned_calls)
        if problems:
            raise UnsafeCodeError("the code was refused before running: " + "; ".join(problems[:5]))
    limits = limits or Limits()
    workdir = Path(tempfile.mkdtemp(prefix="ganymede-sandbox-"))
    try:
        for part in ("in", "root", "out"):
            (workdir / part).mkdir()
        config = _prepare(
            workdir / "in",
            code,
            inputs or {},
            files or {},
            result_name,
            limits,
            allowed_modules,
            charts,
            preload,
            weak_mode_allowed(allow_weak),
            _disable,
        )
        return _execute(workdir, config, limits)
    finally:
        remove_tree(workdir)


def _prepare(
    inbox: Path,
    code: str,
    inputs: dict[str, Any],
    files: dict[str, Path],
    result_name: str,
    limits: Limits,
    allowed_modules: frozenset[str],
    charts: bool,
    preload: tuple[str, ...],
    weak_ok: bool,
    disable: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    frames: dict[str, str] = {}
    values: dict[str, Any] = {}
    for i, (name, value) in enumerate(inputs.items()):
        if not name.isidentifier():
            raise GanymedeError(f"input name {name!r} is not a Python identifier")
        if hasattr(value, "to_parquet") and hasattr(value, "columns"):
            frames[name] = f"input-{i}.parquet"
            value.to_parquet(inbox / frames[name])
        elif isinstance(value, dict) and value and all(hasattr(v, "to_parquet") for v in value.values()):
            for j, frame in enumerate(value.values()):
                frame.to_parquet(inbox / f"input-{i}-{j}.parquet")
            values[name] = {"__frames__": {str(k): f"input-{i}-{j}.parquet" for j, k in enumerate(value)}}
        else:
            json.dumps(value)  # only JSON-able values cross the boundary
            values[name] = value
    for name, source in files.items():
        target = Path(name).name
        if target.startswith(".") or target in RESULT_FILES or target == CONFIG_NAME:
            raise GanymedeError(f"input file name {name!r} is reserved by the sandbox; rename it")
        shutil.copyfile(source, inbox / target)
    search, readable = _interpreter_paths()
    config = {
        "code": code,
        "frames": frames,
        "values": values,
        "result_name": result_name,
        "sys_path": search,
        "readable": readable,
        "system_readable": _system_readable(),
        "module_file": os.path.realpath(__file__),
        "executable": sys.executable,
        "allowed_modules": sorted(allowed_modules),
        "denied_modules": sorted(DENIED_RUNTIME_MODULES),
        "charts": charts,
        "preload": list(preload),
        "limits": limits.__dict__,
        "weak_ok": weak_ok,
        "disable": sorted(disable),
    }
    (inbox / CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")
    # the code runs as another uid: it must read its inputs, and nothing else of the host's work dir
    for path in inbox.iterdir():
        path.chmod(0o644)
    inbox.chmod(0o755)
    return config


def _child_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the first `cap` bytes: the child never blocks on a full pipe,
    and the host never holds more than `cap` of what it printed."""

    def __init__(self, fd: int, cap: int, flood: int | None = None) -> None:
        super().__init__(daemon=True)
        self.fd, self.cap, self.flood = fd, cap, flood
        self.data = bytearray()
        self.truncated = False
        self.flooded = False
        self.total = 0
        #: called once when more than `flood` bytes came: printing is not free work for the host to drain.
        self.on_flood: Any = None

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                self.total += len(chunk)
                room = self.cap - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                if len(chunk) > room:
                    self.truncated = True
                if self.flood is not None and self.total > self.flood and not self.flooded:
                    self.flooded = True
                    if self.on_flood is not None:
                        self.on_flood()
        except OSError:
            pass
        finally:
            os.close(self.fd)


_warned_weak = False


def _warn_weak(missing: list[str]) -> None:
    global _warned_weak
    if not _warned_weak:
        _warned_weak = True
        print(
            f"WARNING: the sandbox runs WITHOUT kernel isolation (missing: {', '.join(missing)}) because "
            f"{WEAK_ENV}=1: generated code can reach this machine's files, sockets and processes",
            file=sys.stderr,
        )


def _execute(workdir: Path, config: dict[str, Any], limits: Limits) -> SandboxResult:
    from ganymede.apps.tables.safe_files import terminal_safe

    started = time.monotonic()
    pipes = {name: os.pipe() for name in ("status", "violations", "stdout", "stderr")}
    caps = {"status": 64 * 1024, "violations": 64 * 1024, "stdout": limits.output_chars * 4}
    flood = {"stdout": OUTPUT_FLOOD_BYTES, "stderr": OUTPUT_FLOOD_BYTES}
    drains = {
        name: _Drain(r, caps.get(name, limits.output_chars * 4), flood.get(name)) for name, (r, _) in pipes.items()
    }
    env = _child_env(str(workdir / "in"))
    env["GANYMEDE_SANDBOX_FDS"] = f"{pipes['status'][1]},{pipes['violations'][1]}"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.realpath(__file__), "--launch", str(workdir)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=pipes["stdout"][1],
            stderr=pipes["stderr"][1],
            pass_fds=(pipes["status"][1], pipes["violations"][1]),
            start_new_session=True,  # its own process group, so the whole group can be killed
        )
    finally:
        for _, write_end in pipes.values():
            os.close(write_end)
    for drain in drains.values():
        drain.on_flood = lambda: _kill_group(proc)
        drain.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc)
    for drain in drains.values():
        drain.join(timeout=5)  # every writer is dead; a pipe still open would mean a process escaped
    seconds = time.monotonic() - started

    status = bytes(drains["status"].data).decode("utf-8", errors="replace").splitlines()
    layers = [line[6:] for line in status if line.startswith("layer ")]
    code_started = "start" in status
    refused = next((line[8:] for line in status if line.startswith("refused ")), None)
    if refused is not None or (proc.returncode == EXIT_REFUSED and not code_started):
        raise SandboxUnavailableError(
            f"the sandbox cannot isolate code on this machine (missing: {refused or 'kernel layers'})",
            f"run on Linux with unprivileged user namespaces, or set {WEAK_ENV}=1 to run with only the "
            "in-process layers (unsafe for untrusted code)",
        )
    missing = [layer for layer in REQUIRED_LAYERS if layer not in layers]
    if missing:
        _warn_weak(missing)

    def text(name: str) -> str:
        raw = bytes(drains[name].data).decode("utf-8", errors="replace")
        safe = terminal_safe(raw)
        clipped = safe[: limits.output_chars]
        more = drains[name].truncated or len(safe) > limits.output_chars
        return clipped + ("\n[output truncated]" if more else "")

    violations = [
        terminal_safe(line[10:])[:300]
        for line in bytes(drains["violations"].data).decode("utf-8", errors="replace").splitlines()
        if line.startswith("violation ")
    ][:20]
    result = SandboxResult(ok=False, stdout=text("stdout"), stderr=text("stderr"), seconds=seconds)
    result.isolation, result.violations = layers, violations
    code = proc.returncode
    report = _read_report(workdir / "out" / RESULT_NAME, result)
    flooded = drains["stdout"].flooded or drains["stderr"].flooded
    if flooded:
        result.limit = "output"
        result.error = f"stopped: it printed more than {OUTPUT_FLOOD_BYTES // 2**20} MB"
    elif timed_out:
        result.limit, result.error = "wall", f"stopped: it ran longer than the {limits.wall_seconds:g} s time limit"
    elif violations or code in (EXIT_BLOCKED, -signal.SIGSYS):
        # the run ended at the refusal (exit status and the refusal pipe): nothing the code did after counts
        what = violations[0] if violations else "it tried to start a process or run a program"
        result.blocked, result.kind, result.error = True, "error", f"blocked by the sandbox: {what}"
        if not violations:
            result.violations = [what]
    elif code in (-signal.SIGXCPU, -signal.SIGKILL) and report is None:
        result.limit, result.error = "cpu", f"stopped: it used more than {limits.cpu_seconds} s of CPU time"
    elif not code_started:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit status {code}"]
        result.error = f"the sandbox could not start the code ({tail[0]})"
    elif report is None:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit status {code}"]
        result.error = result.error or f"the sandboxed process ended without a result ({tail[0]})"
    elif code != 0:
        result.error = f"the sandboxed process failed (exit status {code})"
    else:
        _fill_from_report(result, report, workdir / "out", limits)
    if result.error:
        result.error = terminal_safe(result.error)
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_plain(path: Path | str, cap: int) -> bytes | None:
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


REPORT_CAP = 4 * 1024 * 1024


def _read_report(path: Path, result: SandboxResult) -> dict[str, Any] | None:
    """The result report, parsed with size and depth limits; a hostile one sets `result.error`."""
    from ganymede.apps.tables.safe_files import UnsafeInputError, loads_bounded

    data = _read_plain(path, REPORT_CAP)
    if data is None:
        return None
    try:
        report = loads_bounded(data, REPORT_CAP)
    except UnsafeInputError as exc:
        result.error = f"the result was refused: {exc}"
        return None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _inside(folder: Path, name: Any, cap: int) -> bytes | None:
    """The bytes of a result file the child named, only one of the names the launcher copies out."""
    if not isinstance(name, str) or name not in RESULT_FILES:
        return None
    return _read_plain(folder / name, cap)


def _fill_from_report(result: SandboxResult, report: dict[str, Any], folder: Path, limits: Limits) -> None:
    from ganymede.apps.tables.safe_files import (
        UnsafeInputError,
        read_parquet_bounded,
        terminal_safe_frame,
        terminal_safe_value,
    )

    error = report.get("error")
    if isinstance(error, dict):
        result.error_type = str(error.get("type", "Error"))[:100]
        message = str(error.get("message", ""))[:2000]
        result.error = f"{result.error_type}: {message}"
        if result.error_type == "MemoryError":
            result.limit = "memory"
            result.error = f"stopped: it needed more than the {limits.memory_mb} MB memory limit"
        elif "No space left on device" in message or "Disk quota" in message:
            result.limit = "disk"
            result.error = f"stopped: it wrote more than the {limits.disk_mb} MB disk limit ({message[:200]})"
        elif "can't start new thread" in message or "Resource temporarily unavailable" in message:
            result.limit = "processes"
            result.error = f"stopped: it started more than the {limits.processes} threads/processes limit"
        elif "File too large" in message:
            result.limit = "file_size"
        result.kind = "error"
        return
    cap = limits.file_size_mb * 1024 * 1024
    charts = report.get("charts", [])
    for name in charts[:10] if isinstance(charts, list) else []:
        png = _inside(folder, name, cap)
        if png and png.startswith(b"\x89PNG"):
            result.charts.append(png)
    kind = str(report.get("kind", "none"))
    result.kind, result.ok = kind, True
    if kind in ("dataframe", "series"):
        data = _inside(folder, report.get("file"), cap)
        if data is None:
            result.ok, result.error = False, "the result table is missing"
            return
        try:
            frame = read_parquet_bounded(data)
        except UnsafeInputError as exc:
            result.ok, result.kind, result.error = False, "error", f"the result table was refused: {exc}"
            return
        except Exception as exc:  # a corrupt file from the code: its failure, not the host's
            result.ok, result.kind = False, "error"
            result.error = f"the result table cannot be read: {type(exc).__name__}: {str(exc)[:200]}"
            return
        # text the code produced reaches the user's terminal when the table is shown: made safe here
        frame = terminal_safe_frame(frame)
        if kind == "series":
            series = frame.iloc[:, 0]
            name = report.get("name")
            series.name = terminal_safe_value(name if isinstance(name, str) or name is None else str(name))
            result.value = series
        else:
            result.value = frame
    else:
        result.value = terminal_safe_value(report.get("value"))


@lru_cache(maxsize=1)
def isolation_layers() -> list[str]:
    """Which layers this machine gives the sandbox (probed once with a trivial run)."""
    result = run_code("result = 1", preload=(), check=False, charts=False, allow_weak=True)
    return result.isolation


# -- child side: confinement ---------------------------------------------------------------------------
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


@lru_cache(maxsize=1)
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _os_error(what: str) -> OSError:
    import ctypes

    number = ctypes.get_errno()
    return OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    import ctypes

    def arg(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    if _libc().mount(arg(source), arg(target), arg(fstype), ctypes.c_ulong(flags), arg(data)) != 0:
        raise _os_error(f"mount {target}")


def _enter_namespaces(layers: list[str]) -> tuple[bool, bool]:
    """New user, network, IPC, PID, mount, UTS and cgroup namespaces for this launcher (and so for the
    code it forks). Returns (mount namespace usable, the code must drop from root to INNER_ID).

    The code runs as uid INNER_ID inside. As a normal user that is the user's own uid; as root it is
    SANDBOX_HOST_ID, which owns nothing on the host and which RLIMIT_NPROC counts (the kernel never
    limits root's processes), written into the maps by a helper that stays outside with root's rights."""
    if not sys.platform.startswith("linux"):
        return False, False
    libc = _libc()
    root = os.geteuid() == 0
    full = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWCGROUP
    mapper, go = 0, -1
    if root:
        ready, go = os.pipe()
        launcher = os.getpid()
        mapper = os.fork()
        if mapper == 0:  # the helper: still root in the host's user namespace
            os.close(go)
            status = 1
            if os.read(ready, 1) == b"1":
                try:
                    lines = f"0 0 1\n{INNER_ID} {SANDBOX_HOST_ID} 1\n"
                    for kind in ("uid_map", "gid_map"):
                        with open(f"/proc/{launcher}/{kind}", "w") as handle:
                            handle.write(lines)
                    status = 0
                except OSError:
                    pass
            os._exit(status)
        os.close(ready)
    flags = 0
    for attempt in (full, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC, CLONE_NEWUSER | CLONE_NEWNET):
        if libc.unshare(attempt) == 0:
            flags = attempt
            break
    mapped = False
    if root:
        os.write(go, b"1" if flags else b"0")
        os.close(go)
        _, status = os.waitpid(mapper, 0)
        mapped = bool(flags) and os.waitstatus_to_exitcode(status) == 0
    elif flags:
        try:
            with open("/proc/self/setgroups", "w") as handle:
                handle.write("deny")
            # A non-zero uid inside, so exec drops every capability the new namespace granted.
            with open("/proc/self/uid_map", "w") as handle:
                handle.write(f"{INNER_ID} {os.getuid()} 1")
            with open("/proc/self/gid_map", "w") as handle:
                handle.write(f"{INNER_ID} {os.getgid()} 1")
            mapped = True
        except OSError:
            pass
    if not flags:
        return False, root
    layers.append("user-namespace")
    names = {
        CLONE_NEWNET: "network-namespace",
        CLONE_NEWIPC: "ipc-namespace",
        CLONE_NEWPID: "pid-namespace",
        CLONE_NEWUTS: "uts-namespace",
        CLONE_NEWCGROUP: "cgroup-namespace",
    }
    layers.extend(name for flag, name in names.items() if flags & flag)
    return bool(flags & CLONE_NEWNS) and mapped, root and mapped


def _remount_readonly(source: str, target: str) -> None:
    """Make a bind mount read-only, keeping the flags the kernel locks for a user namespace."""
    locked = os.statvfs(source).f_flag
    keep = MS_NOSUID
    for st_flag, ms_flag in (
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if locked & st_flag:
            keep |= ms_flag
    with contextlib.suppress(OSError):  # still unwritable: Landlock, and files the code's uid does not own
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)


def _expose(root: str, path: str, done: set[str], depth: int = 0) -> None:
    """Make host `path` visible, read-only, at the same path under `root`; symlinks on the way are
    recreated as symlinks (so /lib -> usr/lib keeps working) and their targets exposed in turn."""
    path = os.path.normpath(path)
    if depth > 16 or not path.startswith("/") or any(path == d or path.startswith(d + "/") for d in done):
        return
    parts = path.strip("/").split("/")
    current = ""
    for i, part in enumerate(parts):
        current += "/" + part
        if os.path.islink(current):
            target = os.readlink(current)
            inner = root + current
            os.makedirs(os.path.dirname(inner), exist_ok=True)
            if not os.path.lexists(inner):
                os.symlink(target, inner)
            resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
            _expose(root, os.path.join(resolved, *parts[i + 1 :]), done, depth + 1)
            return
    if not os.path.exists(path):
        return
    inner = root + path
    if os.path.isdir(path):
        os.makedirs(inner, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(inner), exist_ok=True)
        open(inner, "a").close()  # an empty file to mount over
    _mount(path, inner, None, MS_BIND | MS_REC)
    _remount_readonly(path, inner)
    done.add(path)


def _build_root(workdir: str, config: dict[str, Any], layers: list[str]) -> None:
    """The sandbox's whole file system, in this launcher's private mount namespace: a small read-only
    tmpfs root holding the interpreter and libraries (read-only binds), four devices, and the work dir,
    a tmpfs of `disk_mb` (the total-disk cap) with the inputs bound read-only into it."""
    limits = config["limits"]
    root = os.path.join(workdir, "root")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=4096,mode=0755")
    done: set[str] = set()
    paths = {*config["readable"], *config["system_readable"], config["module_file"], config["executable"]}
    for path in sorted(paths, key=len):
        if path == INNER_WORKDIR or path.startswith(INNER_WORKDIR + "/"):
            raise OSError(f"{path} collides with the sandbox's work dir {INNER_WORKDIR}")
        _expose(root, path, done)
    os.makedirs(root + "/dev", exist_ok=True)
    for device in ("null", "zero", "urandom", "random"):
        inner = f"{root}/dev/{device}"
        open(inner, "a").close()  # an empty file to mount over
        _mount(f"/dev/{device}", inner, None, MS_BIND)
    work = root + INNER_WORKDIR
    os.mkdir(work)
    _mount(
        "tmpfs",
        work,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={int(limits['disk_mb'])}m,nr_inodes={int(limits['files'])},mode=0700,uid={INNER_ID},gid={INNER_ID}",
    )
    inbox = os.path.join(workdir, "in")
    for name in sorted(os.listdir(inbox)):
        source, inner = os.path.join(inbox, name), os.path.join(work, name)
        open(inner, "a").close()  # an empty file to mount over
        _mount(source, inner, None, MS_BIND)
        _remount_readonly(source, inner)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    layers.append("tmpfs-disk-cap")


def _enter_root(workdir: str) -> str:
    """In the code's first process: a mount namespace of its own whose root is the tmpfs built by the
    launcher; the host's file system is detached, so a path outside simply does not exist."""
    import platform

    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        raise _os_error("unshare(CLONE_NEWNS)")
    number = {"x86_64": 155, "aarch64": 41, "arm64": 41}.get(platform.machine())
    if number is None:
        raise OSError("pivot_root: unknown architecture")
    os.chdir(os.path.join(workdir, "root"))
    if libc.syscall(number, b".", b".") != 0:
        raise _os_error("pivot_root")
    if libc.umount2(b".", MNT_DETACH) != 0:
        raise _os_error("umount2")
    os.chdir(INNER_WORKDIR)
    return INNER_WORKDIR


def _drop_to_inner_user() -> None:
    """As root inside the namespace (the host was root): become INNER_ID for good, with no groups."""
    os.setgroups([])
    os.setresgid(INNER_ID, INNER_ID, INNER_ID)
    os.setresuid(INNER_ID, INNER_ID, INNER_ID)


def _set_limits(limits: dict[str, Any], layers: list[str]) -> None:
    import resource

    mb = 1024 * 1024
    wanted = [
        (resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1),
        (resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * mb, limits["file_size_mb"] * mb),
        (resource.RLIMIT_NPROC, limits["processes"], limits["processes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"], limits["open_files"]),
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
    """A seccomp filter: threads may still start; a fork, vfork, clone of a process or exec kills the run;
    socket() and io_uring fail."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import platform

    machine = platform.machine()
    if machine == "x86_64":
        arch, clone, clone3, fork, vfork, execve, execveat = 0xC000003E, 56, 435, 57, 58, 59, 322
        sock, io_uring = 41, 425
    elif machine in ("aarch64", "arm64"):
        arch, clone, clone3, execve, execveat = 0xC00000B7, 220, 435, 221, 281
        fork = vfork = 0xFFFFFFFF  # no such calls on arm64
        sock, io_uring = 198, 425
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
        (jge, 13, 0, 0x40000000),  # 4: x32 ABI -> kill
        (jeq, 11, 0, clone3),  # 5: -> ENOSYS, so libc falls back to clone, whose flags we can read
        (jeq, 11, 0, fork),  # 6 -> kill: the host sees SIGSYS, a verdict the code cannot erase
        (jeq, 10, 0, vfork),  # 7 -> kill
        (jeq, 9, 0, execve),  # 8 -> kill
        (jeq, 8, 0, execveat),  # 9 -> kill
        (jeq, 5, 0, sock),  # 10 -> EPERM: no socket at all, even one won in a race with the audit hook
        (jeq, 4, 0, io_uring),  # 11 -> EPERM: io_uring could open sockets past this filter
        (jeq, 0, 2, clone),  # 12: clone -> check flags; other calls -> allow
        (ld, 0, 0, 16),  # 13: clone flags (args[0], low half)
        (jset, 0, 3, clone_thread),  # 14: a thread -> allow, a process -> kill
        (ret, 0, 0, allow),  # 15
        (ret, 0, 0, errno | 1),  # 16: EPERM (glibc copes: e.g. its nscd lookup falls back)
        (ret, 0, 0, errno | 38),  # 17: ENOSYS
        (ret, 0, 0, kill),  # 18: SECCOMP_RET_KILL_PROCESS
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


def _launch(workdir: str) -> None:
    """Confine, fork the code's first process (PID 1 of its namespace), wait for it, copy its results
    out; never returns. Runs no code of the user's: the layers it reports are set before any exists."""
    status_fd, violations_fd = (int(x) for x in os.environ.pop("GANYMEDE_SANDBOX_FDS").split(","))

    def say(line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(status_fd, (line + "\n").encode())

    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # passing on SIGSYS/SIGXCPU below must not dump core
    inbox = os.path.join(workdir, "in")
    with open(os.path.join(inbox, CONFIG_NAME), encoding="utf-8") as handle:
        config = json.load(handle)
    limits = config["limits"]
    layers: list[str] = []
    kernel = "kernel" not in config["disable"]
    mounts, drop = _enter_namespaces(layers) if kernel else (False, False)
    if mounts:
        try:
            _build_root(workdir, config, layers)
        except OSError as exc:
            print(f"sandbox: no private file system ({exc})", file=sys.stderr)
            mounts = False
    planned = [*layers, "mount-namespace"] if mounts else layers
    missing = [layer for layer in REQUIRED_LAYERS if layer not in planned]
    if missing and not config["weak_ok"]:
        say("refused " + ", ".join(missing))
        os._exit(EXIT_REFUSED)
    for layer in layers:
        say(f"layer {layer}")
    guard_r, guard_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _confine_and_exec(config, workdir, mounts, drop, guard_r, guard_w, status_fd, violations_fd, say)
    os.close(guard_r)
    os.close(status_fd)
    os.close(violations_fd)
    # The launcher ends the run itself a little after the host's wall limit, so nothing outlives a host
    # that died; the host normally kills the whole process group first.
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.setitimer(signal.ITIMER_REAL, float(limits["wall_seconds"]) + 2.0)
    _, status = os.waitpid(pid, 0)  # PID 1 gone: the kernel has killed every process of its namespace
    signal.setitimer(signal.ITIMER_REAL, 0)
    source = os.path.join(workdir, "root") + INNER_WORKDIR if mounts else inbox
    _copy_results(source, os.path.join(workdir, "out"), limits)
    os.close(guard_w)
    if os.WIFSIGNALED(status):
        with contextlib.suppress(OSError, ValueError):  # SIGKILL/SIGSTOP cannot be given a handler
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _confine_and_exec(
    config: dict[str, Any],
    workdir: str,
    mounts: bool,
    drop: bool,
    guard_r: int,
    guard_w: int,
    status_fd: int,
    violations_fd: int,
    say: Any,
) -> None:
    """The code's first process: dies with the launcher, enters its own root, drops to the inner uid,
    takes Landlock and the resource limits, then execs the interpreter that runs the code."""
    import select

    try:
        os.close(guard_w)
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([guard_r], [], [], 0)[0]:  # the launcher died before the line above
            os._exit(EXIT_SETUP)
        os.close(guard_r)
        cwd = os.path.join(workdir, "in")
        if mounts:
            try:
                cwd = _enter_root(workdir)
                say("layer mount-namespace")
            except OSError as exc:
                if not config["weak_ok"]:
                    say("refused mount-namespace")
                    print(f"sandbox: {exc}", file=sys.stderr)
                    os._exit(EXIT_REFUSED)
        os.chdir(cwd)
        if drop:
            if cwd != INNER_WORKDIR:  # no private root (weak mode): the inner uid must write its folder
                os.chown(cwd, INNER_ID, INNER_ID)
            _drop_to_inner_user()
        layers: list[str] = []
        readable = [*config["readable"], *config["system_readable"], config["module_file"]]
        if "kernel" not in config["disable"]:
            _landlock(readable, cwd, layers)
        _set_limits(config["limits"], layers)
        for layer in layers:
            say(f"layer {layer}")
        env = _child_env(cwd)
        env["GANYMEDE_SANDBOX_FDS"] = f"{status_fd},{violations_fd}"
        executable = config["executable"]
        os.execve(executable, [executable, "-I", "-S", config["module_file"], "--run", CONFIG_NAME], env)
    except BaseException as exc:  # a setup failure is reported, never a traceback
        with contextlib.suppress(OSError):
            os.write(2, f"sandbox: setup failed: {exc}\n".encode())
    os._exit(EXIT_SETUP)


def _copy_results(source: str, target: str, limits: dict[str, Any]) -> None:
    """Copy the result files (known names, regular files, size-capped) to where the host reads them."""
    cap = int(limits["file_size_mb"]) * 1024 * 1024
    for name in RESULT_FILES:
        data = _read_plain(os.path.join(source, name), REPORT_CAP if name == RESULT_NAME else cap)
        if data is None:
            continue
        fd = os.open(os.path.join(target, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


# -- child side: the audit hook and the run ------------------------------------------------------------
def _install_audit_hook(workdir: str, readable: list[str], denied_modules: frozenset[str], report_fd: int) -> None:
    """Refuse file access outside the work dir, processes, sockets, ctypes, signals and pickle loading.

    A refusal is written to the host's pipe and ends the run at once (exit status EXIT_BLOCKED): the
    code can neither catch it and carry on nor erase the record. The hook is defence in depth; the
    kernel layers hold without it."""
    import _thread

    write, end = os.write, os._exit  # bound now: the code may replace os.write / os._exit later
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
            "gc.get_objects",  # the ways to reach this hook's closure and neuter it
            "gc.get_referrers",
            "gc.get_referents",
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
    busy: set[int] = set()  # threads inside the hook; per thread, so another thread cannot slip past
    get_ident = _thread.get_ident

    def within(path: Any, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == root or real.startswith(root + os.sep) for root in roots)

    def deny(what: str) -> None:
        line = "violation " + what.replace("\n", " ")[:300] + "\n"
        try:
            write(report_fd, line.encode("utf-8", errors="replace"))
        finally:
            end(EXIT_BLOCKED)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
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
            busy.discard(me)

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
    status_fd, report_fd = (int(x) for x in os.environ.pop("GANYMEDE_SANDBOX_FDS", "-1,-1").split(","))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes raise EFBIG instead of killing us
    sys.path[:0] = config["sys_path"]
    workdir = os.getcwd()  # the launcher put us there: /sandbox in our own root, else the host's folder
    report: dict[str, Any] = {}
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
    layers: list[str] = []
    disable = set(config["disable"])
    if not disable & {"in-process", "seccomp"}:
        _seccomp_no_new_processes(layers)
    if not disable & {"in-process", "audit-hook"}:
        _install_audit_hook(workdir, readable, frozenset(config["denied_modules"]), report_fd)
        layers.append("audit-hook")
    # the last words on the status pipe; closed before the code exists, so it cannot add to them
    with contextlib.suppress(OSError):
        os.write(status_fd, "".join(f"layer {layer}\n" for layer in layers).encode() + b"start\n")
    with contextlib.suppress(OSError):
        os.close(status_fd)
    _reserve_space(workdir)
    try:
        code = compile(config["code"], "<code>", "exec")
        try:
            exec(code, namespace)
        finally:
            os.chdir(workdir)  # results are written where the launcher looks, wherever the code went
        _describe_result(namespace.get(config["result_name"]), report)
        if plt is not None:
            report["charts"] = []
            for i, number in enumerate(plt.get_fignums()[:10]):
                name = f"chart-{i + 1}.png"
                plt.figure(number).savefig(name, dpi=100, bbox_inches="tight")
                report["charts"].append(name)
    except BaseException as exc:  # the user's error, reported back as data
        report["error"] = {"type": type(exc).__name__, "message": _error_message(exc)}
    _write_report(report, workdir)


def _error_message(exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<code>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{str(exc)[:2000]}{where}"


def _describe_result(value: Any, report: dict[str, Any]) -> None:
    """Turn `result` into JSON, or a Parquet file for tables. Never pickle."""
    # only if already loaded: a value can only be theirs if the code imported them, and importing them
    # now, under the audit hook, would pull in modules it refuses
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
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


RESERVE_NAME = ".sandbox-reserve"


def _reserve_space(workdir: str) -> None:
    """Hold 1 MB (and an inode) of the work dir's disk cap back, so the report can still be written
    after the code filled the disk: _write_report gives it back first."""
    with contextlib.suppress(OSError):
        fd = os.open(os.path.join(workdir, RESERVE_NAME), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, 1 << 20)
        finally:
            os.close(fd)


def _write_report(report: dict[str, Any], workdir: str) -> None:
    text = json.dumps(report, default=str)
    target = os.path.join(workdir, RESULT_NAME)  # absolute: the code may have changed directory
    for attempt in range(2):
        try:
            with open(target + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(target + ".tmp", target)
            return
        except OSError:
            if attempt:
                raise
            with contextlib.suppress(OSError):
                os.remove(os.path.join(workdir, RESERVE_NAME))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--launch":
        _launch(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--run":
        _run(sys.argv[2])
    else:
        sys.exit("usage: sandbox.py --launch WORKDIR | --run CONFIG (started by run_code)")
