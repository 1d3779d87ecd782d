"""The services this machine runs in the background (Spark Connect, Superset, Airflow):
whether a pid from a pid file is still the process we started."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

# Batch work (the Spark server, the worker's commands) runs below the services that keep the night
# moving and answer people: Airflow's scheduler and api-server, PostgreSQL's readers, Superset. On
# two cores, the scheduler starved by four busy tasks took 30-70 s per loop and, past its health
# check, reset its own running tasks as orphans (measured at 51 banks).
BATCH_NICENESS = 10


def alive(pid: int, marker: bytes | None = None) -> bool:
    """True if `pid` runs (and, given a marker, its command line contains it: pids are recycled)."""
    if pid <= 0:  # 0 and -1 mean "any child" to waitpid and "the group" to kill
        return False
    try:
        # Reap it first if it is our own exited child: a zombie still answers kill(pid, 0).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    if marker is None:
        return True
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def running_pid(pid_file: Path, marker: bytes | None = None) -> int | None:
    """The pid in `pid_file` if that process still runs, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid, marker) else None


def stop_processes(
    pids: list[int], grace_s: float = 30.0, group: bool = False, marker: bytes | None = None
) -> None:
    """SIGTERM to each (to its process group if `group`), up to `grace_s` in all for them to exit,
    then SIGKILL to those still there. `marker` as in alive(): a recycled pid is left alone."""
    kill = os.killpg if group else os.kill
    for pid in pids:
        if alive(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(alive(pid, marker) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if alive(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                kill(pid, signal.SIGKILL)
    # SIGKILL is not refused, but a killed process that is not our child stays a zombie until its
    # parent reaps it: wait briefly, never forever.
    deadline = time.monotonic() + 5.0
    while any(alive(pid, marker) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
