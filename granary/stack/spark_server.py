"""The Spark Connect server every Spark job talks to: started and stopped on this machine.

One long-running server (`granary spark start`) lets a job start work in seconds instead of
paying JVM start-up per task; at scale `GRANARY_SPARK_REMOTE` points at a cluster's server.
The server is Spark's own SparkConnectServer class, run by pyspark's `sbin/spark-daemon.sh` from the
installed package (pyspark 4.1's wheel ships the daemon script, not the start/stop wrappers over it).
Clients reach it through granary.pipeline.spark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.processes import BATCH_NICENESS, alive
from granary.pipeline.spark import host_port, server_answers

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
    from granary.lake import iceberg
    from granary.stack import jars

    conf = {**jars.spark_jars_conf(), **iceberg.spark_catalog_conf()}
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

    `master` attaches it to a standalone cluster (spark://host:7077, see granary.stack.cluster)
    instead of running jobs in its own JVM (local mode).
    """
    if server_answers():
        return
    from granary.lake import iceberg

    iceberg.ensure_catalog()  # the lake's tables are named in it: the server is no use without it
    if not _java_present():
        raise EngineError(
            "Java is not installed (no JAVA_HOME, no `java` on PATH); Spark needs Java 17: "
            "apt-get install -y openjdk-17-jre-headless, then run `granary spark start` again"
        )
    host, port = host_port()
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
    host, port = host_port()
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
