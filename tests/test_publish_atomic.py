"""Atomic publish under fire: readers loop over the SQL contract with the bank's role while the
publisher is SIGKILLed before, during and right after the copy and during the swap. Every read
must return a complete day (the old one or the new one) and no read may fail; the next publish
must then succeed and clean up what the killed ones left.

Two builds of the serving day are published alternately, as reruns of it would be: the bank's
real build (the `published_day` warehouse) and a corrected copy of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import psycopg
import pytest
from day_fixtures import PublishedDay
from test_serving_contract import contract_queries

from granary.core import paths
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import Tenant
from granary.serving.connection import tenant_connect

pytestmark = pytest.mark.slow

GRANARY = str(Path(sys.executable).with_name("granary"))
READERS = 4
# One statement that says which day serves and how big each table of it is: it must match one day.
DAY_SHAPE = """
select (select max(dt) from publish_info), (select count(*) from publish_info),
       (select count(*) from ads_customer_tag), (select count(*) from ads_customer_tag_history),
       (select count(*) from ads_customer_profile), (select count(*) from ads_indicator_value),
       (select count(*) from ads_tag_dict), (select max(dt) from ads_customer_tag),
       (select max(dt) from ads_indicator_value),
       (select count(*) filter (where value > 0) from ads_indicator_value)
"""


@dataclass
class Reads:
    ok: int = 0
    failures: list[str] = field(default_factory=list)  # a read that raised
    torn: list[str] = field(default_factory=list)  # a read that matched neither day
    lock: threading.Lock = field(default_factory=threading.Lock)


def _queries() -> list[tuple[str, str]]:
    """The day shape and the contract's queries, but those over every publish ever made (the audit
    views), whose answer grows with each publish by design."""
    audit = ("ads_indicator_version", "ads_publish_log")
    stable = [(name, q) for name, q in contract_queries() if not any(view in q for view in audit)]
    return [("day shape", DAY_SHAPE), *stable]


def _normal(rows: list[tuple]) -> list[tuple]:
    """Rows comparable across publishes of the same day: publish times (timestamps) left out."""
    return sorted(tuple(None if isinstance(v, datetime) else v for v in row) for row in rows)


def _answers(tenant: Tenant) -> dict[str, list[tuple]]:
    with tenant_connect(tenant, autocommit=True) as conn:
        return {name: _normal(conn.execute(q).fetchall()) for name, q in _queries()}


def _publish(tenant: Tenant, warehouse: Path, day: date) -> subprocess.Popen:
    shutil.copyfile(warehouse, paths.warehouse_db(tenant.code))
    return subprocess.Popen(
        [GRANARY, "publish", "--tenant", tenant.code, "--date", day.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _publish_to_end(tenant: Tenant, warehouse: Path, day: date) -> str:
    proc = _publish(tenant, warehouse, day)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"publish {tenant.code} {day} exited {proc.returncode}:\n{out[-3000:]}"
    return out


def _reader(
    tenant: Tenant, days: dict[str, dict[str, list[tuple]]], stop: threading.Event, reads: Reads
) -> None:
    queries = _queries()
    with tenant_connect(tenant, autocommit=True) as conn:
        while not stop.is_set():
            for name, query in queries:
                try:
                    got = _normal(conn.execute(query).fetchall())
                except psycopg.Error as exc:
                    with reads.lock:
                        reads.failures.append(f"{name}: {type(exc).__name__}: {exc}")
                    continue
                with reads.lock:
                    if any(got == answers[name] for answers in days.values()):
                        reads.ok += 1
                    else:
                        reads.torn.append(f"{name}: {got[:3]}")


@contextmanager
def _readers(tenant: Tenant, days: dict[str, dict[str, list[tuple]]]) -> Iterator[Reads]:
    reads, stop = Reads(), threading.Event()
    threads = [threading.Thread(target=_reader, args=(tenant, days, stop, reads)) for _ in range(READERS)]
    for t in threads:
        t.start()
    try:
        yield reads
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


def _publisher_backend(conn: psycopg.Connection, tenant: Tenant) -> tuple[int, str, bool] | None:
    """(pid, query, waiting for a lock) of the publisher's session in the bank's database."""
    return conn.execute(
        """
        select a.pid, a.query, exists (select 1 from pg_locks l where l.pid = a.pid and not l.granted)
        from pg_stat_activity a where a.application_name = 'granary publish' and a.datname = %s
        """,
        (serving_database(tenant),),
    ).fetchone()


def _staged(conn: psycopg.Connection, tenant: Tenant) -> bool:
    return bool(
        conn.execute(
            "select 1 from pg_namespace where nspname = %s", (f"{tenant.serving_schema}__staging",)
        ).fetchone()
    )


@contextmanager
def _readers_hold_the_live_day(tenant: Tenant) -> Iterator[None]:
    """A reader transaction keeping a live table in use, so the swap must wait for it."""
    with tenant_connect(tenant) as conn:
        conn.execute("select count(*) from publish_info").fetchone()
        yield
        conn.rollback()


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILL the publisher as soon as `ready()`; False if it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait(timeout=300)
    return False


def test_readers_see_a_whole_day_while_the_publisher_is_killed(
    published_day: PublishedDay, tmp_path: Path
) -> None:
    tenant = published_day.tenants[0]
    day = published_day.dt
    corrected = tmp_path / "corrected.duckdb"
    shutil.copyfile(published_day.warehouses[(tenant.code, day)], corrected)
    with duckdb.connect(str(corrected)) as wh:  # a corrected extract: other values, a tag fewer
        wh.execute("update ads_indicator_value set value = value + 1 where grain <> 'customer'")
        wh.execute(
            "delete from ads_customer_tag where customer_id = (select min(customer_id) from ads_customer_tag)"
        )
    warehouses = {"built": published_day.warehouses[(tenant.code, day)], "corrected": corrected}
    # What each build looks like through the contract (read once each, nobody publishing).
    days: dict[str, dict[str, list[tuple]]] = {}
    for version in warehouses:
        _publish_to_end(tenant, warehouses[version], day)
        days[version] = _answers(tenant)
    assert days["built"]["day shape"] != days["corrected"]["day shape"], (
        "the two builds must differ to tell them apart"
    )
    started = time.perf_counter()
    _publish_to_end(tenant, warehouses["built"], day)
    full_seconds = time.perf_counter() - started

    monitor = admin_connect(serving_database(tenant), autocommit=True)

    def in_copy() -> bool:
        backend = _publisher_backend(monitor, tenant)
        return bool(backend and backend[1].lower().startswith("copy"))

    def in_swap() -> bool:
        backend = _publisher_backend(monitor, tenant)
        return bool(backend and backend[2] and "lock table" in backend[1].lower())

    def kill(proc: subprocess.Popen, point: str) -> bool:
        if point == "before the copy (starting up)":
            return _kill_when(proc, lambda: True)
        if point == "during the copy":
            return _kill_when(proc, in_copy)
        if point.startswith("at "):
            return _kill_when(proc, _after(full_seconds * float(point.split()[1].rstrip("%")) / 100))
        # Keep the live day in use so the publisher stops at the swap: kill it with the new day
        # staged and committed but not swapped in, or while it is inside the swap's transaction.
        with _readers_hold_the_live_day(tenant):
            return _kill_when(
                proc, (lambda: _staged(monitor, tenant)) if point.startswith("right") else in_swap
            )

    points = [
        "before the copy (starting up)",
        "during the copy",
        "right after the copy, before the swap",
        "during the swap",
        *(f"at {share}% of a publish" for share in (30, 60, 90)),
    ]
    killed: list[str] = []
    with _readers(tenant, days) as reads:
        version = "corrected"
        for point in points:
            for _attempt in range(3):
                if kill(_publish(tenant, warehouses[version], day), point):
                    killed.append(point)
                    break
            assert not reads.failures and not reads.torn, (point, reads.failures[:5], reads.torn[:5])
            # A publish that completes, swapping the other build in under the readers.
            _publish_to_end(tenant, warehouses[version], day)
            version = "built" if version == "corrected" else "corrected"
        time.sleep(0.5)
    monitor.close()

    print(f"\natomic publish: killed {killed}; {reads.ok} reads, all whole; a publish {full_seconds:.1f}s")
    assert {"during the copy", "right after the copy, before the swap", "during the swap"} <= set(killed), (
        killed
    )
    assert len(killed) >= 5, killed
    assert reads.failures == [], reads.failures[:10]
    assert reads.torn == [], reads.torn[:10]
    assert reads.ok > 100 * len(killed)

    # After the kills: the next publish succeeds, leaves no staging or retired schema, and the
    # province's log tells the killed publishes from the good ones.
    _publish_to_end(tenant, warehouses["built"], day)
    assert _answers(tenant) == days["built"]
    with admin_connect(serving_database(tenant)) as conn:
        schemas = {n for (n,) in conn.execute("select nspname from pg_namespace where nspname like 't\\_%'")}
        # history: the day's partitions only, no staged or set-aside one left behind
        left = conn.execute(
            "select tablename from pg_tables where schemaname = %s and tablename ~ '_(new|v[0-9]+)$'",
            (tenant.history_schema,),
        ).fetchall()
    assert schemas == {tenant.serving_schema, tenant.history_schema}, schemas
    assert left == [], left
    with admin_connect(province_database()) as conn:
        statuses = dict(
            conn.execute(
                "select status, count(*) from ops.publish_log where tenant = %s group by status",
                (tenant.code,),
            ).fetchall()
        )
    # Each publisher killed after it began its log row (surely those killed in the copy, after it
    # and in the swap) left a 'running' row: the next publish, holding the bank's publish lock,
    # marked it abandoned.
    assert statuses.get("abandoned", 0) >= 3, statuses
    assert "running" not in statuses, statuses
    assert statuses["ok"] >= len(points) + 4, statuses


def _after(seconds: float) -> Callable[[], bool]:
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


def test_a_failed_publish_leaves_the_previous_day_serving_and_says_so(
    published_day: PublishedDay, tmp_path: Path
) -> None:
    """A warehouse whose last ADS table PostgreSQL rejects (a NUL in text): the copy fails mid-way."""
    tenant = published_day.tenants[1]
    day = published_day.dt
    before = _answers(tenant)
    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(published_day.warehouses[(tenant.code, day)], broken)
    with duckdb.connect(str(broken)) as wh:
        wh.execute("create table ads_zz_broken as select 'a' || chr(0) || 'b' as note")
        # Published like any model tagged `publish` (the build's manifest lists it last).
        wh.execute(
            "insert into publish_manifest select table_schema, 'ads_zz_broken' from publish_manifest limit 1"
        )
    proc = _publish(tenant, broken, day)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    assert f"publish of {tenant.code} {day} failed, nothing changed (day {day} is serving)" in " ".join(
        out.split()
    )
    assert _answers(tenant) == before
    with admin_connect(province_database()) as conn:
        status, message = conn.execute(
            "select status, message from ops.publish_log where tenant = %s order by id desc limit 1",
            (tenant.code,),
        ).fetchone()
    assert status == "failed" and "nothing changed" in message
    _publish_to_end(tenant, published_day.warehouses[(tenant.code, day)], day)
    assert _answers(tenant) == before
    assert os.path.exists(paths.warehouse_db(tenant.code))
