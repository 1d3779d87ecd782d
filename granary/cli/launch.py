"""The `granary` command: hand the command to the resident worker if there is one, else run it here.

Standard library only, so a task that reaches a worker pays ~50 ms of Python start instead of
seconds of imports (typer, pyspark's Connect client, Great Expectations, dbt). The worker
(granary.stack.worker) runs the very same CLI, in a process forked from its warm parent, with this
process's arguments, environment, working directory and standard streams: the output goes where
this process's would, and its exit code is this process's.

`GRANARY_WORKER` names the worker's socket; `granary airflow start` sets it for every task.
Without it, or when nothing answers there, the CLI runs in this process as usual.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

from granary.stack import wire


def hand_over(socket_path: str, argv: list[str]) -> int | None:
    """Run `granary <argv>` in the worker; its exit code, or None if the worker cannot take it."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(socket_path)
        # Our stdin, stdout and stderr travel with the request: the worker's child writes to them.
        socket.send_fds(conn, [wire.request(argv)], [0, 1, 2])
    except OSError:
        conn.close()
        return None
    child = 0

    def forward(signum: int, _frame: object) -> None:
        # Airflow stops a task with SIGTERM: the command's process group gets it, as if it ran here.
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    with conn:
        for reply in wire.replies(conn):
            if wire.REFUSED in reply:
                return None
            if "pid" in reply:
                child = reply["pid"]
            if "exit" in reply:
                return reply["exit"]
    # The worker went away mid-command (stopped or killed): an engine failure, worth a retry.
    print(f"error: the granary worker at {socket_path} stopped before the command finished", file=sys.stderr)
    return 1


def main() -> None:
    socket_path = os.environ.get("GRANARY_WORKER")
    if socket_path:
        code = hand_over(socket_path, sys.argv[1:])
        if code is not None:
            sys.exit(code)
        print(f"granary: no worker took the command at {socket_path}; running it here", file=sys.stderr)
    from granary.cli.app import main as cli_main

    cli_main()
