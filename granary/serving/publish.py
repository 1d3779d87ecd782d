"""Publish a bank's ADS tables from its DuckDB warehouse to its own serving database.

The day is built in a staging schema inside the bank's database (one transaction: a killed
publisher leaves nothing half-built behind), then swapped in by renaming schemas in one short
transaction that first takes every live table's lock: a reader's statement resolves all its
table names before the swap or after it, so it sees the old day or the new day, never half of
one. Leftovers of a killed publish (staging, retired schemas) are dropped by the next publish.
Every publish is recorded in the province database (ops.publish_log).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import duckdb
import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError, EngineError
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import Tenant
from granary.serving import history
from granary.serving.connection import AUDITOR
from granary.serving.databases import init_serving  # noqa: F401  (re-exported: callers import it from here)

console = Console(stderr=True)

# Indexes the loan systems' lookups need; columns absent from a table are skipped.
LOOKUP_COLUMNS = ("customer_id", "indicator_code")
# The swap waits at most this long per try for readers to let go of the live tables: shorter than
# PostgreSQL's deadlock_timeout (1 s), so a reader is never the victim of a deadlock with the swap.
SWAP_LOCK_TIMEOUT = "200ms"
SWAP_DEADLINE_SECONDS = 120.0
# Publishing is background work: the loan systems' lookups come first on a small machine.
PUBLISH_NICENESS = 19


_PG_TYPES = {
    "VARCHAR": "text",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "HUGEINT": "numeric",
    "SMALLINT": "smallint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def _pg_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return duck_type.replace("DECIMAL", "numeric")
    return _PG_TYPES.get(duck_type, "text")


def _ads_tables(warehouse: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, table) of every model the dbt project tags `publish`, as the build recorded them
    (macros/publish_manifest.sql), that the warehouse holds."""
    try:
        return warehouse.execute(
            """
            select m.table_schema, m.table_name from publish_manifest m
            join information_schema.tables t using (table_schema, table_name)
            where t.table_type = 'BASE TABLE'
            order by m.table_name
            """
        ).fetchall()
    except duckdb.CatalogException:
        return []  # built before the manifest existed, or never built: the caller says what to do


def publish(tenant: Tenant, dt: date) -> dict[str, int]:
    """Copy the bank's ADS tables for `dt` into its serving database and swap them in.

    On any failure the previous day keeps serving, and the error says which day that is.
    """
    db_file = paths.warehouse_db(tenant.code)
    if not db_file.exists():
        raise DataError(
            f"{db_file}: no warehouse for bank {tenant.code}; run `granary transform --tenant {tenant.code} "
            f"--date {dt}` first"
        )
    started = time.perf_counter()
    log_id = _log_start(tenant, dt)
    swapped: list[bool] = []  # set once the new day is in: a failure after it is only cleanup
    try:
        warehouse = duckdb.connect(str(db_file), read_only=True)
        try:
            counts = _publish(warehouse, tenant, dt, log_id, swapped)
        finally:
            warehouse.close()
    except (psycopg.Error, EngineError, DataError) as exc:
        serving = serving_day(tenant)
        now = f"day {serving} is serving" if serving else "nothing is served for this bank yet"
        if swapped:
            message = f"published {tenant.code} {dt}, but cleaning up after the swap failed: {exc}"
        else:
            message = f"publish of {tenant.code} {dt} failed, nothing changed ({now}): {exc}"
        _log_end(log_id, "ok" if swapped else "failed", None, message)
        if isinstance(exc, DataError):
            raise DataError(message) from exc
        raise EngineError(message + " — fix the cause and run `granary publish` again") from exc
    _log_end(log_id, "ok", sum(counts.values()), None)
    console.print(
        f"[green]✓[/] published {tenant.code} {dt} to {serving_database(tenant)}: {len(counts)} tables, "
        f"{sum(counts.values())} rows in {time.perf_counter() - started:.1f}s"
    )
    return counts


def _publish(
    warehouse: duckdb.DuckDBPyConnection, tenant: Tenant, dt: date, log_id: int, swapped: list[bool]
) -> dict[str, int]:
    live = tenant.serving_schema
    staging, retired = f"{live}__staging", f"{live}__retired"
    tables = _ads_tables(warehouse)
    if not tables:
        raise DataError(
            f"{paths.warehouse_db(tenant.code)}: no tables tagged `publish`; did `granary transform` succeed?"
        )
    series = next((f'"{s}"."{t}"' for s, t in tables if t == history.SERIES_TABLE), None)
    if series is None:
        raise DataError(
            f"{paths.warehouse_db(tenant.code)}: no {history.SERIES_TABLE}; run `granary transform` first"
        )
    counts: dict[str, int] = {}
    with admin_connect(serving_database(tenant), autocommit=True, application_name="granary publish") as conn:
        # One publisher per bank at a time; a killed one's session lock dies with its connection.
        # (A publisher killed a moment ago may still hold it until its server process notices.)
        try:
            conn.execute("set lock_timeout = '30s'")
            conn.execute("select pg_advisory_lock(hashtext('granary publish'))")
            conn.execute("reset lock_timeout")
        except psycopg.errors.LockNotAvailable as exc:
            raise EngineError(
                f"another publish of bank {tenant.code} is running; wait for it to end"
            ) from exc
        _set_cpu_priority(conn, PUBLISH_NICENESS)
        _mark_abandoned(tenant, log_id)
        # Leftovers of a publish that was killed: never served (staging) or no longer (retired).
        for schema in (staging, retired):
            _drop_schema(conn, schema, must=True)
        history.ensure_history(conn, tenant)
        history.drop_staged(conn, tenant)
        history.keep_replaced(conn, tenant)
        # Serving never goes back in time: an older day (a rerun, a backfill) goes into history only.
        serving_now = _served_day(conn, live)
        forward = serving_now is None or dt >= serving_now
        with conn.transaction(), Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"publish {tenant.code} {dt}", total=len(tables) + 1)
            if forward:
                conn.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
                for schema_name, table in tables:
                    counts[table] = _copy_table(warehouse, conn, f'"{schema_name}"."{table}"', staging, table)
                    progress.advance(task)
                _write_publish_info(conn, tenant, dt, staging, counts)
                history.create_views(conn, tenant, staging)
                _grant_reader(conn, tenant, staging)
            history_rows = history.stage_day(conn, warehouse, series, tenant, dt)
            counts[f"{tenant.history_schema}.{history.SERIES_TABLE}"] = history_rows
        _set_cpu_priority(conn, 0)

        def swap_in(conn: psycopg.Connection) -> None:
            history.swap_day(conn, tenant, dt, log_id, history_rows, _lake_snapshots(warehouse))
            if forward:
                _rename_schemas(conn, staging, live, retired)

        if not _in_short_lock_waits(conn, swap_in):
            raise EngineError(
                f"readers held the live tables of {live} for {SWAP_DEADLINE_SECONDS:.0f}s; the new day "
                f"stays staged (find long queries in pg_stat_activity)"
            )
        swapped.append(True)
        history.keep_replaced(conn, tenant)
        history.expire(conn, tenant, settings().serving_retention_days)
        if not forward:
            console.print(
                f"[yellow]![/] {tenant.code} {dt} is older than the day served ({serving_now}), which keeps "
                f"serving; {dt}'s history was replaced"
            )
        elif not _drop_schema(conn, retired, must=False):
            # A reader still holds the old day: harmless, the next publish drops it.
            console.print(f"[yellow]![/] old day of {tenant.code} kept in {retired} (a reader held it)")
    return counts


def _lake_snapshots(warehouse: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """The lake snapshots the build read (granary.pipeline.transform writes them), if it says."""
    found = warehouse.execute(
        "select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?",
        [history.LAKE_SNAPSHOT_TABLE],
    ).fetchone()[0]
    if not found:
        return None
    return dict(
        warehouse.execute(
            f"select table_name, snapshot_id from main.{history.LAKE_SNAPSHOT_TABLE}"
        ).fetchall()
    )


def _copy_table(
    warehouse: duckdb.DuckDBPyConnection, conn: psycopg.Connection, source: str, schema: str, table: str
) -> int:
    columns = warehouse.execute(f"describe {source}").fetchall()
    target = sql.Identifier(schema, table)
    conn.execute(
        sql.SQL("create table {} ({})").format(
            target,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_pg_type(dtype)))
                for name, dtype, *_ in columns
            ),
        )
    )
    names = [name for name, *_ in columns]
    result = warehouse.execute(f"select * from {source}")
    rows = 0
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(
        target, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn.cursor().copy(copy_sql) as copy:
        while batch := result.fetchmany(10_000):
            for row in batch:
                copy.write_row(row)
            rows += len(batch)
    for column in LOOKUP_COLUMNS:
        if column in names:
            conn.execute(sql.SQL("create index on {} ({})").format(target, sql.Identifier(column)))
    conn.execute(sql.SQL("analyze {}").format(target))
    return rows


def _set_cpu_priority(conn: psycopg.Connection, niceness: int) -> None:
    """Set this process's and its PostgreSQL server process's niceness. The copy runs at the lowest
    priority so readers' lookups are not queued behind it; the swap, which readers wait on, at the
    normal one. Only possible where the server is on this host and we may renice it (root, or the
    same user); elsewhere the publish simply runs at normal priority."""
    targets = [0]
    if _server_on_this_host(conn.info.host):
        targets.append(conn.info.backend_pid)
    for pid in targets:
        with contextlib.suppress(OSError):  # priority is an optimisation, never a reason to fail
            os.setpriority(os.PRIO_PROCESS, pid, niceness)


def _server_on_this_host(host: str) -> bool:
    """A Unix socket directory, or a name that resolves to a loopback address."""
    if host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _write_publish_info(
    conn: psycopg.Connection, tenant: Tenant, dt: date, schema: str, counts: dict[str, int]
) -> None:
    info = sql.Identifier(schema, "publish_info")
    conn.execute(
        sql.SQL(
            "create table {} (tenant text, dt date, published_at timestamptz,"
            " table_name text, row_count bigint)"
        ).format(info)
    )
    published_at = datetime.now(UTC)
    with conn.cursor().copy(sql.SQL("copy {} from stdin").format(info)) as copy:
        for table, n in counts.items():
            copy.write_row((tenant.code, dt, published_at, table, n))


def _grant_reader(conn: psycopg.Connection, tenant: Tenant, schema: str) -> None:
    role, target = sql.Identifier(tenant.reader_role), sql.Identifier(schema)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(target, role))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(target, role))
    # pgaudit object logging: reads of tables the auditor may SELECT are logged (granary.serving.audit).
    conn.execute(
        sql.SQL("grant select on all tables in schema {} to {}").format(target, sql.Identifier(AUDITOR))
    )


def _in_short_lock_waits(conn: psycopg.Connection, work: Callable[[psycopg.Connection], None]) -> bool:
    """Run `work` in one transaction whose lock waits (SWAP_LOCK_TIMEOUT) and statements (800 ms)
    are short, again every 50 ms until it gets its locks; False if readers held them past
    SWAP_DEADLINE_SECONDS.

    Readers queued behind a lock request wait for it: short tries keep their wait under a second.
    And a reader can hold a table of the old day for a moment (a prepared plan locks the tables it
    was planned on, by OID, before it notices the swap and replans): waiting longer than
    deadlock_timeout could make that reader a deadlock victim; a short wait, retried, never does.
    """
    deadline = time.monotonic() + SWAP_DEADLINE_SECONDS
    while True:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
                conn.execute("set local statement_timeout = '800ms'")
                work(conn)
            return True
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _rename_schemas(conn: psycopg.Connection, staging: str, live: str, retired: str) -> None:
    """In the swap transaction: lock the live tables, rename live -> retired and staging -> live.

    The locks make the swap wait for statements in flight on the old day (and new statements wait
    for the swap, a few milliseconds): a statement naming several tables then resolves them all
    on one side of the swap.
    """
    rename_schema = sql.SQL("alter schema {} rename to {}")
    tables = [
        sql.Identifier(live, name)
        for (name,) in conn.execute(
            "select tablename from pg_tables where schemaname = %s order by tablename", (live,)
        ).fetchall()
    ]
    if tables:
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(", ").join(tables)))
        conn.execute(rename_schema.format(sql.Identifier(live), sql.Identifier(retired)))
    conn.execute(rename_schema.format(sql.Identifier(staging), sql.Identifier(live)))


def _drop_schema(conn: psycopg.Connection, schema: str, must: bool) -> bool:
    """Drop a schema that no statement may name any more, in short lock waits. False if readers
    kept it busy past the deadline (only allowed when not `must`)."""

    def drop(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))

    if _in_short_lock_waits(conn, drop):
        return True
    if must:
        raise EngineError(f"readers kept {schema} busy for {SWAP_DEADLINE_SECONDS:.0f}s")
    return False


def serving_day(tenant: Tenant) -> date | None:
    """The business date the bank's database serves now (None if nothing is published)."""
    try:
        with admin_connect(serving_database(tenant)) as conn:
            return _served_day(conn, tenant.serving_schema)
    except (psycopg.Error, EngineError):
        return None


def _served_day(conn: psycopg.Connection, live: str) -> date | None:
    (table,) = conn.execute("select to_regclass(%s)", (f"{live}.publish_info",)).fetchone()
    if table is None:
        return None
    latest = sql.SQL("select max(dt) from {}").format(sql.Identifier(live, "publish_info"))
    return conn.execute(latest).fetchone()[0]


def _log_start(tenant: Tenant, dt: date) -> int:
    """A 'running' row in the province's publish log."""
    try:
        with admin_connect(province_database(), autocommit=True) as conn:
            (log_id,) = conn.execute(
                "insert into ops.publish_log (tenant, dt, status) values (%s, %s, 'running') returning id",
                (tenant.code, dt),
            ).fetchone()
            return log_id
    except (psycopg.Error, EngineError) as exc:
        raise EngineError(
            f"province database {province_database()} is missing or unreachable ({exc}); "
            "run `granary serving init` first"
        ) from exc


def _mark_abandoned(tenant: Tenant, current: int) -> None:
    """Called holding the bank's publish lock: any other 'running' row is a publisher that was killed."""
    with admin_connect(province_database(), autocommit=True) as conn:
        conn.execute(
            "update ops.publish_log set status = 'abandoned', finished_at = now(),"
            " message = 'the publisher stopped before finishing (killed?)'"
            " where tenant = %s and status = 'running' and id <> %s",
            (tenant.code, current),
        )


def _log_end(log_id: int, status: str, rows: int | None, message: str | None) -> None:
    try:
        with admin_connect(province_database(), autocommit=True) as conn:
            conn.execute(
                "update ops.publish_log set status = %s, finished_at = now(), row_count = %s, message = %s"
                " where id = %s",
                (status, rows, message, log_id),
            )
    except (psycopg.Error, EngineError):
        pass  # the log is the province's record, not the bank's data: never fail a publish over it
