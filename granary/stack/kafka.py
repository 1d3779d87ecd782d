"""A Kafka broker in KRaft mode, run from Apache's own jars (jvm/kafka/pom.xml, fetched by setup).

Kafka has no Debian package; its broker is plain Java. `granary kafka start` formats the storage
once (a one-node quorum, `--standalone`), then runs `kafka.Kafka` in the background, like
`granary spark start`. It listens on GRANARY_KAFKA_BOOTSTRAP, its controller on the next port;
data and logs are under the run dir. In a container, `python -m granary.stack.kafka` runs the same broker
in the foreground on every interface (docker/compose.yaml). At scale the setting points at the
province's own Kafka cluster instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.processes import running_pid, stop_processes
from granary.stack.jars import kafka_classpath

START_TIMEOUT_S = 90.0
HEAP = "-Xmx512m"  # a broker for a province's intraday events needs little; Spark needs the memory
MARKER = b"kafka.Kafka"
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def host_port() -> tuple[str, int]:
    value = settings().kafka_bootstrap
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"GRANARY_KAFKA_BOOTSTRAP '{value}' is not host:port (the broker's address)")
    return host, int(port)


def _dir() -> Path:
    return settings().run_dir / "kafka"


def _pid_file() -> Path:
    return _dir() / "broker.pid"


def log_file() -> Path:
    return _dir() / "broker.log"


def answers(timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(host_port(), timeout=timeout):
            return True
    except OSError:
        return False


def _server_properties(host: str, port: int, bind: str) -> str:
    """A one-node broker and controller, advertised as `host`, listening on `bind`."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={host}:{port + 1}",
            f"listeners=PLAINTEXT://{bind}:{port},CONTROLLER://{bind}:{port + 1}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={_dir() / 'data'}",
            "num.partitions=1",
            # One broker: every internal topic has one replica.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "",
        ]
    )


def _java(*args: str, **kwargs) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise EngineError(
            "Java is not installed: the Kafka broker needs Java 17 (apt-get install openjdk-17-jre-headless)"
        )
    return [
        java,
        HEAP,
        f"-Dlog4j2.configurationFile={_dir() / 'log4j2.properties'}",
        "-cp",
        kafka_classpath(),
        *args,
    ]


def _prepare(bind: str) -> Path:
    """Write the broker's configuration and format its storage the first time; returns the properties."""
    host, port = host_port()
    run = _dir()
    run.mkdir(parents=True, exist_ok=True)
    (run / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
    props = run / "server.properties"
    props.write_text(_server_properties(host, port, bind), encoding="utf-8")
    if not (run / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        done = subprocess.run(
            _java("kafka.tools.StorageTool", "format", "--config", str(props), "--cluster-id", cluster_id,
                  "--standalone"),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise EngineError(
                f"formatting Kafka's storage in {run / 'data'} failed: {done.stdout}{done.stderr}"
            )
    return props


def start() -> None:
    """Start the broker in the background and wait until it takes connections (no-op if one answers)."""
    if answers():
        return
    host, port = host_port()
    props = _prepare(bind=host)
    with open(log_file(), "ab") as log:
        broker = subprocess.Popen(
            _java("kafka.Kafka", str(props)),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    _pid_file().write_text(str(broker.pid), encoding="utf-8")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if answers():
            return
        if broker.poll() is not None:
            raise EngineError(
                f"the Kafka broker exited during start-up (exit {broker.returncode}); {_log_tail()}"
            )
        time.sleep(0.5)
    raise EngineError(
        f"the Kafka broker did not answer on {host}:{port} within {START_TIMEOUT_S:.0f}s; {_log_tail()}"
    )


def run_foreground() -> None:
    """Replace this process with the broker, on every interface (one broker per container)."""
    args = _java("kafka.Kafka", str(_prepare(bind="0.0.0.0")))
    os.execv(args[0], args)


def stop() -> None:
    """Stop the broker this machine started (its data stays for the next start)."""
    pid = running_pid(_pid_file(), MARKER)
    if pid is None:
        if answers():
            host, port = host_port()
            raise EngineError(
                f"something answers on {host}:{port} but granary did not start it (no live pid in "
                f"{_pid_file()}); stop it where it was started"
            )
        _pid_file().unlink(missing_ok=True)
        return
    stop_processes([pid], 60.0, marker=MARKER)
    _pid_file().unlink(missing_ok=True)


def _log_tail(lines: int = 20) -> str:
    if not log_file().exists():
        return "no broker log"
    text = log_file().read_text(encoding="utf-8", errors="replace").splitlines()
    return f"{log_file()}:\n" + "\n".join(text[-lines:])


if __name__ == "__main__":
    run_foreground()
