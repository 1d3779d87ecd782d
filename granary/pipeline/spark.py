"""The client side of Spark: a session on the Connect server, and the job helpers every step shares.

The server itself (start, stop, its jars) is granary.stack.spark_server.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlparse

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from granary.catalog.sources import SourceContract
from granary.core.config import settings
from granary.core.errors import DataError, EngineError, TableFailures


def host_port() -> tuple[str, int]:
    url = settings().spark_remote
    parsed = urlparse(url.split(";", 1)[0])
    if parsed.scheme != "sc" or not parsed.hostname:
        raise EngineError(
            f"GRANARY_SPARK_REMOTE '{url}' is not a Spark Connect URL like sc://127.0.0.1:15002"
        )
    return parsed.hostname, parsed.port or 15002


def server_answers(timeout: float = 1.0) -> bool:
    """True if something accepts connections at the configured Spark Connect address."""
    host, port = host_port()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def get_session():  # -> pyspark.sql.SparkSession (import kept lazy: it costs ~3 s)
    """A client session on the configured Spark Connect server.

    pyspark caches one session per process whatever URL it is later given, so a cached
    session on another server, or a closed one, is stopped and replaced here.
    """
    if not server_answers():
        raise EngineError(
            f"no Spark Connect server answers at {settings().spark_remote}; "
            "run `granary spark start` (or point GRANARY_SPARK_REMOTE at a running server)"
        )
    from pyspark.sql import SparkSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    remote = settings().spark_remote
    cached = ConnectSession.getActiveSession() or ConnectSession._get_default_session()
    if cached is not None:
        if not cached.client.is_closed and _endpoint(remote) == cached.client._builder.endpoint:
            return cached
        close_client_session()
    # The generic builder, not Connect's own: it also switches pyspark.sql.functions to Connect mode.
    return SparkSession.builder.remote(remote).getOrCreate()


def _endpoint(remote: str) -> str:
    """host:port of an sc:// URL, as the Connect client reports its endpoint."""
    return remote.removeprefix("sc://").split("/", 1)[0].split(";", 1)[0]


def close_client_session() -> None:
    """Close this process's cached Spark Connect session, if any.

    Closing before a server stops also spares a ~10-minute retry loop at process exit.
    """
    if "pyspark.sql.connect.session" not in sys.modules:
        return
    from pyspark.sql.connect.session import SparkSession

    for session in (SparkSession.getActiveSession(), SparkSession._get_default_session()):
        if session is not None:
            session.stop()


@contextmanager
def spark_errors(what: str) -> Iterator[None]:
    """Turn a Spark failure into an EngineError that says what was being done."""
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"Spark failed while {what}: {first}") from exc


R = TypeVar("R")


def run_per_table(
    verb: str,
    tenant_code: str,
    sources: Sequence[SourceContract],
    run: Callable[[SourceContract], R],
    summary: Callable[[R], str],
) -> None:
    """Run one job step over a bank's tables, a progress line each (stderr, so stdout stays clean).

    A DataError on one table does not stop the others; all of them are raised together at the end
    (TableFailures, which names the tables).
    """
    failures: dict[str, str] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        tasks = {
            s.table: progress.add_task(f"{verb} {tenant_code} {s.table} {s.title_zh}", total=1, start=False)
            for s in sources
        }
        for source in sources:
            task = tasks[source.table]
            progress.start_task(task)
            try:
                result = run(source)
            except DataError as exc:
                failures[source.table] = str(exc)
                gist = str(exc).splitlines()[0][:100]
                progress.update(
                    task, completed=1, description=f"[red]✗[/] {verb} {tenant_code} {source.table}: {gist}"
                )
                continue
            progress.update(
                task,
                completed=1,
                description=f"[green]✓[/] {verb} {tenant_code} {source.table}: {summary(result)}",
            )
    if failures:
        raise TableFailures(failures)
