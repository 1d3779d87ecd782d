"""The resident worker's wire protocol, shared by the `granary` entry point and the worker.

Standard library only: the entry point (granary.cli.launch) imports it before anything heavy.
A request is a 4-byte length then JSON (argv, environment, working directory), sent with the
caller's stdin, stdout and stderr as file descriptors; replies are JSON lines: the command's
pid, then its exit code, or REFUSED when the worker cannot take it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from collections.abc import Iterator

HEADER = struct.Struct("!I")  # the request's length, then the request (JSON)
# The worker refuses when its code is older than the checkout's: run here instead.
REFUSED = "refused"


def request(argv: list[str]) -> bytes:
    body = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    return HEADER.pack(len(body)) + body


def replies(conn: socket.socket) -> Iterator[dict]:
    buffer = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


def send(conn: socket.socket, message: dict) -> None:
    """One reply; a caller that went away is not the worker's error."""
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")
