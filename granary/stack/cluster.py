"""A standalone Spark cluster (master + workers) from pyspark's own scripts, and the Connect server on it.

Scale-out is configuration: the `granary` CLI only knows GRANARY_SPARK_REMOTE, and a Connect
server started with `--master spark://…` runs every job on the cluster's executors instead
of in its own JVM. pyspark's wheel ships `sbin/spark-daemon.sh` but not start-master.sh /
start-worker.sh, which are thin wrappers around it; this module calls spark-daemon.sh the
same way (daemons on one machine, for tests and trials) or `bin/spark-class` in the
foreground (one daemon per container, see docker/compose.yaml):

    python -m granary.stack.cluster master  --host 0.0.0.0 --port 7077 --webui-port 8080
    python -m granary.stack.cluster worker  spark://spark-master:7077 --cores 2 --memory 6g
    python -m granary.stack.cluster connect spark://spark-master:7077 --driver-memory 4g

The lake must be at the same path on the Connect server and every worker (a shared
filesystem): executors read landing files and write Parquet themselves.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests

from granary.core import config
from granary.core.errors import EngineError
from granary.pipeline.spark import close_client_session
from granary.stack.spark_server import SERVER_CONF, daemon_args, jvm_properties_args, spark_home

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
START_TIMEOUT_S = 90.0
# The daemons only route work: a small heap each leaves the memory to executors.
DAEMON_MEMORY = "512m"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class StandaloneCluster:
    """A master and its workers on this machine, as spark-daemon.sh daemons (pid files, logs)."""

    run_dir: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    webui_port: int = field(default_factory=free_port)
    workers: int = 2
    cores_per_worker: int = 1
    memory_per_worker: str = "1g"

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def ident(self) -> str:
        # spark-daemon.sh names pid files spark-<ident>-<class>-<n>.pid: one cluster, one ident.
        return f"granary-cluster-{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOG_DIR=str(self.run_dir / "logs"),
            SPARK_PID_DIR=str(self.run_dir / "pids"),
            SPARK_WORKER_DIR=str(self.run_dir / "work"),
            SPARK_LOCAL_DIRS=str(self.run_dir / "tmp"),
            SPARK_IDENT_STRING=self.ident,
            SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
            SPARK_LOCAL_IP=self.host,
        )
        env.pop("SPARK_NO_DAEMONIZE", None)  # spark-daemon.sh would run in the foreground
        return env

    def _daemon(self, action: str, cls: str, instance: int, *args: str) -> None:
        script = spark_home() / "sbin" / "spark-daemon.sh"
        done = subprocess.run(
            [str(script), action, cls, str(instance), *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise EngineError(
                f"spark-daemon.sh {action} {cls.rsplit('.', 1)[-1]} {instance} failed "
                f"(exit {done.returncode}): {done.stdout}{done.stderr}\n{self.log_tail()}"
            )

    def pid_file(self, cls: str, instance: int) -> Path:
        return self.run_dir / "pids" / f"spark-{self.ident}-{cls}-{instance}.pid"

    def log_tail(self, lines: int = 15) -> str:
        logs = sorted((self.run_dir / "logs").glob("*.out"), key=lambda p: p.stat().st_mtime)
        if not logs:
            return "(no daemon log)"
        text = logs[-1].read_text(encoding="utf-8", errors="replace").splitlines()
        return f"{logs[-1]}:\n" + "\n".join(text[-lines:])

    def status(self) -> dict:
        """The master's own view (its web UI's /json/): workers, cores, running applications."""
        response = requests.get(f"http://{self.host}:{self.webui_port}/json/", timeout=5)
        response.raise_for_status()
        return response.json()

    def alive_workers(self) -> int:
        try:
            return sum(w.get("state") == "ALIVE" for w in self.status().get("workers", []))
        except requests.RequestException:
            return 0

    def start(self) -> str:
        """Start the master and the workers; return the master URL once every worker registered."""
        for sub in ("logs", "pids", "work", "tmp"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self._daemon(
            "start", MASTER_CLASS, 1,
            "--host", self.host, "--port", str(self.port), "--webui-port", str(self.webui_port),
        )  # fmt: skip
        self._wait(lambda: _answers(self.host, self.port), f"the Spark master on {self.host}:{self.port}")
        for n in range(1, self.workers + 1):
            self._daemon(
                "start", WORKER_CLASS, n,
                "--host", self.host, "--webui-port", str(free_port()),
                "--cores", str(self.cores_per_worker), "--memory", self.memory_per_worker,
                self.master_url,
            )  # fmt: skip
        self._wait(lambda: self.alive_workers() == self.workers, f"{self.workers} workers registering")
        return self.master_url

    def _wait(self, ready, what: str) -> None:  # ready: Callable[[], bool]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.5)
        self.stop()
        raise EngineError(f"timed out after {START_TIMEOUT_S:.0f}s waiting for {what}; {self.log_tail()}")

    def stop(self) -> None:
        """Stop the workers, then the master (each only if its pid file says it runs)."""
        daemons = [(WORKER_CLASS, n) for n in range(self.workers, 0, -1)] + [(MASTER_CLASS, 1)]
        for cls, n in daemons:
            if self.pid_file(cls, n).exists():
                self._daemon("stop", cls, n)


@contextmanager
def standalone_cluster(run_dir: Path, **kwargs) -> Iterator[StandaloneCluster]:
    cluster = StandaloneCluster(run_dir, **kwargs)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


# --- the client side: which server a process talks to ------------------------------------


@contextmanager
def use_remote(url: str) -> Iterator[None]:
    """Point this process at another Spark Connect server for the block, then back."""
    saved = os.environ.get("GRANARY_SPARK_REMOTE")
    close_client_session()
    os.environ["GRANARY_SPARK_REMOTE"] = url
    config.settings.cache_clear()
    try:
        yield
    finally:
        close_client_session()
        if saved is None:
            os.environ.pop("GRANARY_SPARK_REMOTE", None)
        else:
            os.environ["GRANARY_SPARK_REMOTE"] = saved
        config.settings.cache_clear()


# --- the same day on two servers: a cluster must give the local server's results ----------


# --- foreground daemons, one per container ----------------------------------------------


def connect_server_args(master: str, remote: str, driver_memory: str | None) -> list[str]:
    """spark-submit options for a Connect server in a container, attached to `master`.

    Executors on other hosts call back to the driver: it binds to every interface,
    advertises the host name from GRANARY_SPARK_REMOTE, and uses fixed ports a firewall or
    a Kubernetes Service can name.
    """
    parsed = urlparse(remote.split(";", 1)[0])
    conf = {
        **SERVER_CONF,
        "spark.master": master,
        "spark.connect.grpc.binding.address": "0.0.0.0",
        "spark.connect.grpc.binding.port": str(parsed.port or 15002),
        "spark.driver.host": parsed.hostname or "127.0.0.1",
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.driver.port": "7078",
        "spark.blockManager.port": "7079",
    }
    if driver_memory:
        conf["spark.driver.memory"] = driver_memory
    args = jvm_properties_args(config.settings().run_dir / "spark" / "conf")
    for name, value in conf.items():
        args += ["--conf", f"{name}={value}"]
    return args


def _exec(args: list[str]) -> None:
    env = dict(os.environ, SPARK_HOME=str(spark_home()), SPARK_NO_DAEMONIZE="1")
    os.execve(args[0], args, env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m granary.stack.cluster", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="role", required=True)
    master = sub.add_parser("master", help="run a standalone master in the foreground")
    master.add_argument("--host", default="0.0.0.0")
    master.add_argument("--port", type=int, default=7077)
    master.add_argument("--webui-port", type=int, default=8080)
    worker = sub.add_parser("worker", help="run a worker in the foreground")
    worker.add_argument("master_url")
    worker.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    worker.add_argument("--memory", default="1g")
    worker.add_argument("--webui-port", type=int, default=8081)
    connect = sub.add_parser("connect", help="run the Spark Connect server in the foreground on a cluster")
    connect.add_argument("master_url")
    connect.add_argument("--driver-memory", default=None)
    args = parser.parse_args(argv)

    home = spark_home()
    if args.role == "master":
        _exec(
            [str(home / "bin" / "spark-class"), MASTER_CLASS,
             "--host", args.host, "--port", str(args.port), "--webui-port", str(args.webui_port)]
        )  # fmt: skip
    elif args.role == "worker":
        _exec(
            [str(home / "bin" / "spark-class"), WORKER_CLASS, "--cores", str(args.cores),
             "--memory", args.memory, "--webui-port", str(args.webui_port), args.master_url]
        )  # fmt: skip
    else:
        remote = config.settings().spark_remote
        _exec(
            [*daemon_args("submit"), *connect_server_args(args.master_url, remote, args.driver_memory)]
        )  # fmt: skip


if __name__ == "__main__":
    main()
