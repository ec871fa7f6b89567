"""A writing process kept warm for the dashboard.

Every change to a shared store runs in a child process (crmflow.store): a
fatal engine error there never takes the dashboard down, and the
dashboard's own connection to the file is closed meanwhile. Starting Python
and importing pandas and DuckDB for each change costs one to three seconds,
more than a rename or a small upload itself, and ten people saving at once
wait for ten such starts in turn. So the dashboard keeps one launcher: a
Python process with the writing modules imported, no database open and no
thread of its own. For each change it forks a child, which runs exactly what
a new child process runs (crmflow.store._child_run: the same request, the
same answer file, the dashboard's environment and folder of the moment) and
exits; its errors go to a file the dashboard reads, as they came on a pipe
before. A launcher that is gone (killed, or failed to start) is started
again for the next change, and a change that could not be handed to it runs
in a new process as before. A change handed over whose launcher then died
is treated as a child that died: the dashboard looks at the store to see
whether the change was made, and never runs it twice.

Only the dashboard uses it (:func:`keep_warm`); a command makes one change
and exits, so a launcher would only add a process.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

_HEAD = struct.Struct(">q")
_lock = threading.Lock()
_launcher: subprocess.Popen | None = None
_enabled = False


def child_env() -> dict[str, str]:
    """This process's environment, with crmflow importable from its checkout."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def keep_warm() -> None:
    """Hand this process's changes to a launcher from now on, and start it now
    (it imports while the dashboard serves its first page)."""
    global _enabled
    with _lock:
        _enabled = True
        _start()


def enabled() -> bool:
    return _enabled


def _start() -> subprocess.Popen | None:
    global _launcher
    if _launcher is not None and _launcher.poll() is None:
        return _launcher
    try:
        _launcher = subprocess.Popen([sys.executable, "-m", "crmflow.writer"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env())
    except OSError:
        _launcher = None
    return _launcher


def _stop() -> None:
    global _launcher
    if _launcher is not None:
        try:
            _launcher.kill()
            _launcher.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
    _launcher = None


def _read(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise EOFError
    return data


def run(request: dict[str, Any], stderr_path: str) -> tuple[bool, int | None]:
    """Run ``request`` (crmflow.store.run_in_child's) in a child forked by the
    launcher: (handed over, the child's exit status as subprocess gives it, or
    None when the launcher died meanwhile). Not handed over: the caller runs
    it in a new process."""
    if not _enabled:
        return False, None
    with _lock:
        proc = _start()
        if proc is None or proc.stdin is None or proc.stdout is None:
            return False, None
        payload = pickle.dumps({**request, "env": dict(os.environ), "cwd": os.getcwd(), "stderr": stderr_path})
        try:
            proc.stdin.write(_HEAD.pack(len(payload)) + payload)
            proc.stdin.flush()
        except (OSError, ValueError):  # the launcher is gone: nothing was handed over
            _stop()
            return False, None
        try:
            return True, _HEAD.unpack(_read(proc.stdout, _HEAD.size))[0]
        except (OSError, ValueError, EOFError):  # it died during the change: as a child that died
            _stop()
            return True, None


# --------------------------------------------------------------------------- the launcher process
def _die_with_the_launcher() -> None:
    """Linux: this child is killed when the launcher dies (a killed launcher
    leaves no change running that the dashboard would not wait for; it is
    then told as a child that died)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the launcher died before prctl took hold
        os._exit(1)


def _child(request: dict[str, Any]) -> int:
    """In the forked child: the dashboard's environment and folder, errors to
    the file, then the change (crmflow.store._child_run)."""
    _die_with_the_launcher()
    fd = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # never into the launcher's answers
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # TMPDIR as the dashboard has it now
    os.chdir(request["cwd"])
    from crmflow import store

    return store._child_run(request["path"], request["op"], request["args"], request["kwargs"],
                            Path(request["answer"]))


def main() -> int:
    # what a change imports, imported once (no database is opened, no thread started)
    import crmflow.demo  # noqa: F401
    import crmflow.excel  # noqa: F401
    import crmflow.ingest  # noqa: F401
    import crmflow.results  # noqa: F401
    import crmflow.stages  # noqa: F401
    import crmflow.store  # noqa: F401
    import crmflow.survey_ingest  # noqa: F401

    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            size = _HEAD.unpack(_read(requests, _HEAD.size))[0]
            request = pickle.loads(_read(requests, size))
        except EOFError:  # the dashboard has gone
            return 0
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        answers.write(_HEAD.pack(os.waitstatus_to_exitcode(status)))
        answers.flush()


if __name__ == "__main__":
    sys.exit(main())
