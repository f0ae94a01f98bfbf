"""Python processes for the tests without paying for the imports each time.

`python -m has_tf.<app> ...` and `python -c <code> ...` start by importing
TensorFlow, Keras and TFDS: seconds of CPU per process, most of a short
integration test. A test worker starts one server (`python
tests/app_server.py`) that imports them and has_tf's library packages
once; each request forks a child that runs as the interpreter would
(`runpy.run_module(..., run_name="__main__")` or the code as `__main__`;
`sys.argv`, `sys.path[0]`, the working directory, PYTHONPATH and
TF_CONFIG, stdout and stderr to files, a new session on request, the exit
status from `SystemExit` or 1 after a traceback). The server never
imports the apps' modules: each defines its absl flags when run.

The fork happens before any TensorFlow op has run (no TensorFlow runtime
or thread pool yet; the idle BLAS threads of NumPy and SciPy have their
own fork handlers). A request whose environment differs from the server's
other than in those two runs as a plain subprocess instead (backends and
TFDS read theirs at import).

`start(argv, ...)` gives a `subprocess.Popen`-like handle, `run(argv, ...)`
a `subprocess.CompletedProcess` (text stdout and stderr).

Protocol, one JSON object a line. Requests: `{"id", "argv", "cwd",
"stdout", "stderr", "env", "new_session"}`; answers: `{"id",
"pid"}` when the child starts and `{"id", "returncode"}` when it ends
(negative: killed by that signal, as `subprocess` reports it).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile

PRELOAD = (
    "numpy",
    "scipy.ndimage",
    "tensorflow",
    "keras",
    "tensorflow_datasets",
    "has_tf.tasks",
    "has_tf.config",
    "has_tf.methods",
    "has_tf.runs",
)

TIMEOUT = 600

# Variables nothing reads at import: a request may set them for its child
# (TF_CONFIG is read when a distribution strategy is made).
PER_PROCESS = ("PYTHONPATH", "TF_CONFIG")

# --- the server ------------------------------------------------------------


def _exit_status(error: SystemExit) -> int:
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: dict) -> None:
    """Runs in the forked child; never returns."""
    import atexit
    import runpy
    import traceback

    status = 1
    try:
        if request["new_session"]:
            os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, fd)
            os.close(out)
        flag, target, *args = request["argv"]
        os.environ.update(request["env"])
        if "PYTHONPATH" in request["env"]:
            # As Python's start: PYTHONPATH's entries after the first.
            extra = request["env"]["PYTHONPATH"].split(os.pathsep)
            sys.path[1:1] = [os.path.abspath(p) for p in extra if p]
        try:
            if flag == "-m":
                sys.argv = [target, *args]
                sys.path[0] = os.getcwd()
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                sys.argv = ["-c", *args]
                sys.path[0] = ""
                main = type(sys)("__main__")
                sys.modules["__main__"] = main
                exec(compile(target, "<string>", "exec"), vars(main))
            status = 0
        except SystemExit as error:
            status = _exit_status(error)
        except BaseException:
            traceback.print_exc()
            status = 1
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return -os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _say(answer: dict) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def serve() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    _say({"ready": True})
    running = {}  # pid -> request id
    pending = b""
    requests = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([requests], [], [], 0.05)
        if ready:
            chunk = os.read(requests, 65536)
            if not chunk:
                break  # the worker is gone
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(request)
                running[pid] = request["id"]
                _say({"id": request["id"], "pid": pid})
        while running:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if pid in running:
                _say(
                    {"id": running.pop(pid), "returncode": _status(wait_status)}
                )


# --- the client (in the test worker) ----------------------------------------


def _environ() -> dict:
    """The environment a process would get, as the server compares it."""
    return {
        k: v
        for k, v in os.environ.items()
        if k != "PYTEST_CURRENT_TEST" and k not in PER_PROCESS
    }


class _Server:
    def __init__(self):
        self.environ = _environ()
        self._pending = b""
        self._answers = {}
        self._ids = itertools.count()
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._read(lambda: "ready" in self._answers, TIMEOUT)

    def _read(self, done, timeout) -> bool:
        """Reads answers until `done()` or `timeout` seconds; unbuffered, so
        `select` sees everything not yet taken."""
        fd = self.process.stdout.fileno()
        while not done():
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return False
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("tests/app_server.py stopped")
            self._pending += chunk
            while b"\n" in self._pending:
                line, self._pending = self._pending.split(b"\n", 1)
                answer = json.loads(line)
                key = answer.pop("id", "ready")
                self._answers.setdefault(key, {}).update(answer)
        return True

    def start(self, argv, cwd, env, new_session, files) -> _Child:
        request = dict(
            id=next(self._ids),
            argv=list(argv),
            cwd=str(cwd or os.getcwd()),
            stdout=files[0],
            stderr=files[1],
            env=env,
            new_session=new_session,
        )
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        answer = self._answers.setdefault(request["id"], {})
        self._read(lambda: "pid" in answer, TIMEOUT)
        return _Child(argv, files, server=self, answer=answer)


class _Child:
    """A process of the tests', as much of `subprocess.Popen` as they use:
    `pid`, `args`, `returncode`, `poll`, `wait`, `send_signal`, `kill`, and
    `stdout` / `stderr` (text, once it has ended). A forked child of the
    server (`process` None) or a plain subprocess."""

    def __init__(self, argv, files, server=None, answer=None, process=None):
        self.args = [sys.executable, *argv]
        self._files, self._server, self._answer = files, server, answer
        self._process = process
        self.pid = process.pid if process else answer["pid"]
        self.returncode = self.stdout = self.stderr = None

    def _ended(self, timeout) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._answer = {"returncode": self._process.returncode}
            return True
        return self._server._read(lambda: "returncode" in self._answer, timeout)

    def _finish(self):
        self.returncode = self._answer["returncode"]
        texts = []
        for path in self._files:
            with open(path, errors="replace") as file:
                texts.append(file.read())
        self.stdout, self.stderr = texts
        shutil.rmtree(os.path.dirname(self._files[0]), ignore_errors=True)

    def poll(self):
        if self.returncode is None and self._ended(0):
            self._finish()
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._finish()
        return self.returncode

    def send_signal(self, sig):
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)


_SERVERS = []


def _files():
    scratch = tempfile.mkdtemp(prefix="app_server_")
    return os.path.join(scratch, "stdout"), os.path.join(scratch, "stderr")


def start(argv, cwd=None, env=None, new_session=False) -> _Child:
    """Starts `python *argv` (`argv` = `["-m", module, ...]` or `["-c",
    code, ...]`) in `cwd` with `env` added to this environment; returns a
    Popen-like handle (its output goes to files: no pipe fills up)."""
    env = dict(env or {})
    own = {k: env.pop(k) for k in PER_PROCESS if k in env}
    now = _environ()
    files = _files()
    if argv[0] in ("-m", "-c") and {**now, **env} == now:
        if _SERVERS and _SERVERS[0].environ != now:
            _SERVERS.pop().process.kill()  # a test changed os.environ
        if not _SERVERS:
            _SERVERS.append(_Server())
        return _SERVERS[0].start(argv, cwd, own, new_session, files)
    full = {**os.environ, **env, **own}
    with open(files[0], "w") as out, open(files[1], "w") as err:
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=cwd,
            env=full,
            stdout=out,
            stderr=err,
            start_new_session=new_session,
        )
    return _Child(argv, files, process=process)


def run(argv, cwd=None, env=None, timeout=TIMEOUT):
    """`python *argv` to its end: a `subprocess.CompletedProcess`."""
    child = start(argv, cwd=cwd, env=env)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise
    return subprocess.CompletedProcess(
        child.args, child.returncode, child.stdout, child.stderr
    )


if __name__ == "__main__":
    serve()
