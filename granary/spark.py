"""The Spark Connect server every Spark job talks to, and the client session to it.

One long-running server (`granary spark start`) lets a job start work in seconds instead of
paying JVM start-up per task; at scale `GRANARY_SPARK_REMOTE` points at a cluster's server.
The server is Spark's own SparkConnectServer class, run by pyspark's `sbin/spark-daemon.sh` from the
installed package (pyspark 4.1's wheel ships the daemon script, not the start/stop wrappers over it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from granary import paths
from granary.catalog.sources import SourceContract
from granary.config import settings
from granary.errors import DataError, EngineError
from granary.processes import BATCH_NICENESS, alive

# Local mode on a 2-core box that also runs Postgres, Superset and Airflow: both cores,
# a 4 GiB driver heap (the whole of Spark in local mode), few shuffle partitions for
# bank-sized tables (tens of thousands of rows per source and day).
SERVER_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.session.timeZone": "Asia/Shanghai",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.ui.enabled": "false",
    # Spark 4 reads only UTF-8/UTF-16/… unless told to use the JDK's charsets; banks export GBK.
    "spark.sql.legacy.javaCharsets": "true",
}
START_TIMEOUT_S = 120.0
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def daemon_args(verb: str) -> list[str]:
    """spark-daemon.sh's command line for the Connect server: what start-connect-server.sh runs."""
    args = [str(spark_home() / "sbin" / "spark-daemon.sh"), verb, CONNECT_SERVER_CLASS, "1"]
    return args + ["--name", "Spark Connect server"] if verb == "submit" else args


# Warnings only, except the server's own start/stop lines: the INFO log grows by a line per RPC.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.connect.name = org.apache.spark.sql.connect.service.SparkConnectServer
logger.connect.level = info
"""


def _host_port() -> tuple[str, int]:
    url = settings().spark_remote
    parsed = urlparse(url.split(";", 1)[0])
    if parsed.scheme != "sc" or not parsed.hostname:
        raise EngineError(
            f"GRANARY_SPARK_REMOTE '{url}' is not a Spark Connect URL like sc://127.0.0.1:15002"
        )
    return parsed.hostname, parsed.port or 15002


def server_answers(timeout: float = 1.0) -> bool:
    """True if something accepts connections at the configured Spark Connect address."""
    host, port = _host_port()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spark_home() -> Path:
    """pyspark's package directory is a complete SPARK_HOME (jars, bin, sbin)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _server_dir() -> Path:
    return settings().run_dir / "spark"


def _server_env(host: str, port: int) -> dict[str, str]:
    run = _server_dir()
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOG_DIR=str(run / "logs"),
        SPARK_PID_DIR=str(run / "pids"),
        SPARK_CONF_DIR=str(run / "conf"),
        # One pid file per port: two servers (e.g. a test session's) never share one.
        SPARK_IDENT_STRING=f"granary-{port}",
        PYSPARK_PYTHON=sys.executable,
        SPARK_NICENESS=str(BATCH_NICENESS),  # spark-daemon.sh starts the server under `nice`
    )
    if host in ("127.0.0.1", "localhost"):
        env["SPARK_LOCAL_IP"] = "127.0.0.1"  # a local server's driver listens on loopback only
    return env


def _pid_file(port: int) -> Path:
    return _server_dir() / "pids" / f"spark-granary-{port}-{CONNECT_SERVER_CLASS}-1.pid"


def _log_tail(lines: int = 20) -> str:
    logs = sorted((_server_dir() / "logs").glob("*.out"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return "(no server log)"
    text = logs[-1].read_text(encoding="utf-8", errors="replace").splitlines()
    return f"{logs[-1]}:\n" + "\n".join(text[-lines:])


def jvm_properties_args(conf_dir: Path) -> list[str]:
    """spark-submit's `--properties-file` with the fetched jars (spark.jars) and the lake catalog.

    The catalog login's password is in it, so it is written owner-only and never on a command line."""
    from granary import jars, lakehouse

    conf = {**jars.spark_jars_conf(), **lakehouse.spark_catalog_conf()}
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "granary-jvm.properties"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"{name} {value}\n" for name, value in conf.items())
    return ["--properties-file", str(path)]


def _java_present() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def start_connect_server(master: str | None = None) -> None:
    """Start the Spark Connect server and wait until it answers (no-op if one answers).

    `master` attaches it to a standalone cluster (spark://host:7077, see granary.cluster)
    instead of running jobs in its own JVM (local mode).
    """
    if server_answers():
        return
    if not _java_present():
        raise EngineError(
            "Java is not installed (no JAVA_HOME, no `java` on PATH); Spark needs Java 17: "
            "apt-get install -y openjdk-17-jre-headless, then run `granary spark start` again"
        )
    host, port = _host_port()
    run = _server_dir()
    for sub in ("logs", "pids", "conf", "tmp", "work"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    (run / "conf" / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
    conf = {
        **SERVER_CONF,
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.local.dir": str(run / "tmp"),
        "spark.sql.warehouse.dir": str(run / "work" / "warehouse"),
    }
    if master:
        conf["spark.master"] = master
    args = [*daemon_args("submit"), *jvm_properties_args(run / "conf")]
    for name, value in conf.items():
        args += ["--conf", f"{name}={value}"]
    done = subprocess.run(
        args, cwd=run / "work", env=_server_env(host, port), capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise EngineError(
            f"spark-daemon.sh could not start the Connect server (exit {done.returncode}): "
            f"{done.stdout}{done.stderr}\n{_log_tail()}"
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    pid_file = _pid_file(port)
    while time.monotonic() < deadline:
        if server_answers():
            return
        if pid_file.exists() and not alive(int(pid_file.read_text().strip() or 0)):
            raise EngineError(f"the Spark Connect server exited during start-up; its log:\n{_log_tail()}")
        time.sleep(0.5)
    raise EngineError(
        f"the Spark Connect server did not answer on {host}:{port} within {START_TIMEOUT_S:.0f}s; "
        f"its log:\n{_log_tail()}"
    )


def stop_connect_server() -> None:
    """Stop the server this machine started on the configured port (and wait until it is gone)."""
    host, port = _host_port()
    pid_file = _pid_file(port)
    if not pid_file.exists():
        if server_answers():
            raise EngineError(
                f"something answers on {host}:{port} but granary did not start it "
                f"(no pid file {pid_file}); stop it where it was started"
            )
        return
    pid = int(pid_file.read_text().strip() or 0)
    subprocess.run(
        daemon_args("stop"),
        env=_server_env(host, port),
        capture_output=True,
        text=True,
        timeout=60,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and pid and alive(pid):
        time.sleep(0.3)
    if pid and alive(pid):
        raise EngineError(f"the Spark Connect server (pid {pid}) did not stop within 60s")
    pid_file.unlink(missing_ok=True)


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

    A DataError on one table does not stop the others; all of them are raised together at the end.
    """
    failures: list[str] = []
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
                failures.append(str(exc))
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
        raise DataError("\n".join(failures))


def write_partition(df, table_dir: Path, dt: date, empty: bool = False) -> Path:  # df: without `dt`
    """Write one day of a table as a single Parquet file with a fixed name; returns the partition dir.

    Dynamic partition overwrite replaces exactly that day. The caller orders `df`; one
    partition gives one file, and Spark's run-specific file name (a job UUID) and .crc
    side files are replaced by `part-00000.parquet`, so a rerun gives byte-identical files.
    A day with no rows still gets a partition holding a schema-only file, so readers find it
    (partitionBy writes nothing for an empty frame and would leave the old day in place).
    """
    from pyspark.sql import functions as F

    target = paths.partition(table_dir, dt)
    if empty:
        df.coalesce(1).write.mode("overwrite").parquet(str(target))
    else:
        (
            df.withColumn("dt", F.lit(dt.isoformat()).cast("date"))
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy("dt")
            .parquet(str(table_dir))
        )
    _fix_file_names(target)
    return target


def _fix_file_names(partition_dir: Path) -> None:
    for side_file in [*partition_dir.glob(".*.crc"), *partition_dir.glob("_SUCCESS")]:
        side_file.unlink()
    parts = sorted(partition_dir.glob("part-*.parquet"))
    for index, part in enumerate(parts):
        part.rename(partition_dir / f"part-{index:05d}.parquet")
