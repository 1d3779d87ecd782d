"""The resident worker: the `granary` CLI with its heavy imports already done, for Airflow's tasks.

A task that starts the CLI afresh pays for its imports before any work: typer and the package
~1.5 CPU-s, pyspark's Connect client ~5 s more, Great Expectations 8-19 s, dbt ~8 s (measured,
dags/README.md). Hundreds of tasks a night on two cores spend most of their time there. The
worker imports all of it once, then forks a child per command: the child is a copy of the warm
process and runs the same CLI code a person runs, with the task's arguments, environment,
working directory and standard streams (passed over the socket by granary.cli.launch). Forking
keeps each command in its own process, so a crash, a leak or a global left behind by one
command never reaches the next, and a stop (SIGTERM to the task) stops the command's group.

The parent never touches Spark, PostgreSQL or the settings: it holds no connection or thread a
child could inherit half-open. It watches the package's files: when they change it starts a
successor, which imports the new code and takes the socket over when ready, and finishes what it
runs; in between, commands are refused and run in the task's own process (slower, never stale).

    granary worker start | stop | status       (`granary airflow start` starts it too)
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.processes import BATCH_NICENESS, running_pid, stop_processes
from granary.stack import wire

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole granary package
# The application the worker serves, named (not imported): the CLI sits above this module.
APP = "granary.cli.app:app"
# Everything a task's command imports, so no child imports anything heavy again.
PRELOAD = (
    "granary.cli.app",
    "granary.pipeline.run",
    "granary.pipeline.ingest",
    "granary.pipeline.clean",
    "granary.pipeline.validate",
    "granary.pipeline.transform",
    "granary.serving.publish",
    "granary.pipeline.route",
    "granary.province.ops",
    "granary.superset.refresh",
    "pyspark.sql.connect.session",
    "pyspark.sql.functions",
    "great_expectations",
    "dbt.cli.main",
    "duckdb",
    "psycopg",
    "pyiceberg.catalog.sql",
    "pyiceberg.io.pyarrow",
)
START_TIMEOUT_S = 300.0  # the imports take ~30 s on a quiet machine, minutes on a saturated one
MARKER = b"granary.stack.worker"


def socket_path() -> Path:
    return settings().run_dir / "worker.sock"


def _pid_file(sock: Path | None = None) -> Path:
    """Written by the worker that owns the socket (a reload's successor writes its own)."""
    return (sock or socket_path()).with_name("worker.pid")


def log_file() -> Path:
    return settings().run_dir / "worker.log"


def running() -> int | None:
    return running_pid(_pid_file(), MARKER)


def _processes(sock: Path) -> list[int]:
    """Every worker process serving `sock`: the owner, and one retiring after a reload."""
    wanted = [MARKER, str(sock).encode()]
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if all(w in cmdline for w in wanted):
                found.append(int(entry.name))
    return found


def answers() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(socket_path()))
        except OSError:
            return False
    return True


def start(timeout: float = START_TIMEOUT_S) -> None:
    """Start the worker in the background (no-op if it runs) and wait until it takes commands."""
    if running() and answers():
        return
    settings().run_dir.mkdir(parents=True, exist_ok=True)
    with log_file().open("ab") as log:
        proc = _spawn(socket_path(), log.fileno())
    deadline = time.monotonic() + timeout
    while not answers():
        if proc.poll() is not None:
            raise EngineError(
                f"the granary worker exited while starting (exit {proc.returncode}); see {log_file()}"
            )
        if time.monotonic() > deadline:
            raise EngineError(f"the granary worker did not answer within {timeout:.0f}s; see {log_file()}")
        time.sleep(0.3)


def _spawn(sock: Path, log_fd: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "granary.stack.worker", str(sock)],
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=sock.parent,
    )


def stop(timeout: float = 30.0) -> None:
    """Stop the worker (and one retiring after a reload); commands they run get SIGTERM, as a
    stopped Airflow task's would."""
    stop_processes(_processes(socket_path()), timeout, marker=MARKER)
    _pid_file().unlink(missing_ok=True)


# --- the server ---------------------------------------------------------------------------


def code_fingerprint() -> tuple[int, float]:
    """How many source files the package has and when the newest changed: a change means reload."""
    files = [p for pattern in ("*.py", "*.yaml", "*.j2") for p in PACKAGE_DIR.rglob(pattern)]
    return len(files), max((p.stat().st_mtime for p in files), default=0.0)


@dataclass
class Command:
    conn: socket.socket
    pid: int
    pidfd: int
    argv: list[str]
    started: float = field(default_factory=time.monotonic)
    client_gone: bool = False


def _log(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    conn.settimeout(10)
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < wire.HEADER.size:  # `answers()` connects and hangs up: a probe, not a command
        raise ConnectionError("no request")
    (length,) = wire.HEADER.unpack_from(data)
    body = data[wire.HEADER.size :]
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        body += chunk
    conn.settimeout(None)
    return json.loads(body), fds


def _run_child(request: dict, fds: list[int], inherited: list[int]) -> None:
    """In the forked child: become the command's process, run the CLI, exit with its code."""
    code = 1
    try:
        os.setpgid(0, 0)  # its own group: a stop reaches whatever the command starts
        os.setpriority(os.PRIO_PROCESS, 0, BATCH_NICENESS)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in inherited:
            with contextlib.suppress(OSError):
                os.close(fd)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        settings.cache_clear()
        sys.argv = ["granary", *request["argv"]]
        module, _, name = APP.partition(":")
        app = getattr(importlib.import_module(module), name)
        try:
            app(args=request["argv"], prog_name="granary")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        from granary.pipeline.spark import close_client_session

        close_client_session()  # the server keeps a session per client until told
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - whatever happened, the task must hear an exit code
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _bind(path: Path) -> tuple[socket.socket, int]:
    """Listen on a fresh socket, then rename it onto `path`: a worker already there (the one this
    replaces after a reload) serves until the rename, and no client ever finds no socket."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}")
    fresh.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(fresh))
    os.chmod(fresh, 0o600)  # commands run as this user: only this user may send them
    listener.listen(64)
    os.rename(fresh, path)
    _pid_file(path).write_text(str(os.getpid()))
    return listener, path.stat().st_ino


def _owns(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except FileNotFoundError:
        return False


def serve(path: Path) -> None:
    """Preload, then take commands on the socket at `path` until SIGTERM or until another
    worker takes the socket over (its successor after a code change)."""
    began = time.perf_counter()
    for module in PRELOAD:
        importlib.import_module(module)
    assert settings.cache_info().currsize == 0, "a preloaded module read the settings at import"
    fingerprint = code_fingerprint()
    gc.collect()
    gc.freeze()  # the warm heap stays shared with every child (copy-on-write) instead of copied
    listener, inode = _bind(path)
    _log(f"worker {os.getpid()} ready on {path} ({time.perf_counter() - began:.1f}s of imports)")

    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    commands: dict[int, Command] = {}  # pidfd -> command
    stopping = False
    retiring = False  # a successor is (being) started: finish what runs, take nothing new

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def inherited() -> list[int]:
        conns = [c.conn.fileno() for c in commands.values()]
        return [listener.fileno(), selector.fileno(), *conns, *commands]

    while not ((stopping or retiring) and not commands):
        if stopping:
            for command in commands.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(command.pid, signal.SIGTERM)
        if not retiring and not _owns(path, inode):
            retiring = True
            _log(
                f"worker {os.getpid()}: another worker took over {path}; finishing {len(commands)} command(s)"
            )
        for key, _events in selector.select(timeout=1.0):
            if key.data == "accept":
                conn, _ = listener.accept()
                try:
                    request, fds = _read_request(conn)
                except (OSError, ValueError) as exc:  # ConnectionError is an OSError
                    if str(exc) != "no request":
                        _log(f"bad request: {exc}")
                    conn.close()
                    continue
                if not (stopping or retiring) and code_fingerprint() != fingerprint:
                    # The package changed: a successor imports the new code and takes the socket
                    # over when ready; until then commands run in their own process (refused here).
                    retiring = True
                    _spawn(path, sys.stdout.fileno())
                    _log(f"worker {os.getpid()}: the package changed; starting a successor")
                if stopping or retiring:
                    for fd in fds:
                        os.close(fd)
                    wire.send(conn, {wire.REFUSED: "the worker is stopping or reloading"})
                    conn.close()
                    continue
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                pid = os.fork()
                if pid == 0:
                    _run_child(request, fds, inherited() + [conn.fileno()])
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                commands[pidfd] = Command(conn, pid, pidfd, request["argv"])
                selector.register(pidfd, selectors.EVENT_READ, "exit")
                selector.register(conn, selectors.EVENT_READ, ("client", pidfd))
                wire.send(conn, {"pid": pid})
            elif key.data == "exit":
                command = commands.pop(key.fd)
                _, status = os.waitpid(command.pid, 0)
                code = os.waitstatus_to_exitcode(status)
                selector.unregister(key.fd)
                os.close(key.fd)
                if not command.client_gone:
                    selector.unregister(command.conn)
                wire.send(command.conn, {"exit": code if code >= 0 else 128 - code})
                command.conn.close()
                seconds = time.monotonic() - command.started
                _log(f"pid {command.pid} exit {code} in {seconds:.1f}s: granary {' '.join(command.argv)}")
            else:  # the client's side: it only ever closes (a task killed before the command ended)
                command = commands[key.data[1]]
                if not command.conn.recv(1):
                    command.client_gone = True
                    selector.unregister(command.conn)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(command.pid, signal.SIGTERM)
                    _log(f"pid {command.pid}: its task went away; stopped")
    listener.close()
    if _owns(path, inode):
        path.unlink(missing_ok=True)
        _pid_file(path).unlink(missing_ok=True)
    _log(f"worker {os.getpid()} stopped")


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
    # Straight out: the interpreter's teardown only prints duckdb's binding-leak noise into the log.
    os._exit(0)
