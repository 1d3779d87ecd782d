"""The streaming spike: a KRaft broker from Apache's Maven jars, read by Spark's Kafka source.

Real components only: `granary kafka start|stop` runs the broker, a librdkafka producer publishes,
and Structured Streaming on the session's Spark Connect server reads the records back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from granary.core import config
from granary.stack import kafka

GRANARY = str(Path(sys.executable).with_name("granary"))


def _free_pair() -> int:
    """A port whose next port is free too (the broker's controller listens there)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two adjacent free ports")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([GRANARY, *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"granary {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def broker(granary_env: Path) -> Iterator[str]:
    os.environ["GRANARY_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{_free_pair()}"
    config.settings.cache_clear()
    _cli("kafka", "start")
    yield config.settings().kafka_bootstrap
    _cli("kafka", "stop")
    assert not kafka.answers()
    del os.environ["GRANARY_KAFKA_BOOTSTRAP"]
    config.settings.cache_clear()


def _publish(bootstrap: str, topic: str, records: list[dict]) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(60)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for record in records:
        producer.produce(topic, key=record["customer_token"], value=json.dumps(record, ensure_ascii=False))
    assert producer.flush(60) == 0


def _read_back(spark, bootstrap: str, topic: str, query: str) -> list[dict]:
    """Everything on the topic, through Structured Streaming (one availableNow run into a memory sink)."""
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("cast(key as string) as key", "cast(value as string) as value", "partition", "offset")
    )
    running = stream.writeStream.format("memory").queryName(query).trigger(availableNow=True).start()
    running.awaitTermination(180)
    assert running.exception() is None
    rows = spark.sql(f"select * from {query}").collect()
    return [
        {**json.loads(r.value), "_key": r.key, "_partition": r.partition, "_offset": r.offset} for r in rows
    ]


RECORDS = [
    {
        "customer_token": f"tok{i:03d}",
        "txn_id": f"T{i:05d}",
        "amount": round(i * 13.7, 2),
        "channel": "手机银行",
    }
    for i in range(40)
]


@pytest.mark.slow
def test_spark_structured_streaming_reads_what_was_published(broker: str, spark):
    _publish(broker, "spike_txn", RECORDS)
    got = _read_back(spark, broker, "spike_txn", "spike_txn_read")
    assert sorted((r["txn_id"], r["amount"], r["channel"], r["_key"]) for r in got) == sorted(
        (r["txn_id"], r["amount"], r["channel"], r["customer_token"]) for r in RECORDS
    )
    # Both partitions were written and read, each from offset 0 without a gap.
    by_partition: dict[int, list[int]] = {}
    for r in got:
        by_partition.setdefault(r["_partition"], []).append(r["_offset"])
    assert set(by_partition) == {0, 1}
    assert all(sorted(offsets) == list(range(len(offsets))) for offsets in by_partition.values())


@pytest.mark.slow
def test_a_restarted_broker_keeps_its_topics(broker: str, spark):
    _publish(broker, "spike_restart", RECORDS[:5])
    _cli("kafka", "stop")
    assert not kafka.answers()
    _cli("kafka", "start")
    _cli("kafka", "start")  # already running: a no-op
    got = _read_back(spark, broker, "spike_restart", "spike_restart_read")
    assert sorted(r["txn_id"] for r in got) == [r["txn_id"] for r in RECORDS[:5]]
