"""Publish a bank's ADS tables from its DuckDB warehouse to its Postgres serving schema.

The day is built in a staging schema and swapped in by renaming schemas in one short
transaction: readers see the old day or the new day, never half of one. Renames touch no
table locks, so readers in flight finish on the old tables; the old schema is dropped after.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime

import duckdb
import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from granary import paths
from granary.config import settings
from granary.errors import DataError
from granary.secrets import tenant_password
from granary.serving import admin_connect
from granary.tenants import Tenant

console = Console(stderr=True)

# Indexes the loan systems' lookups need; columns absent from a table are skipped.
LOOKUP_COLUMNS = ("customer_id", "indicator_code")


def init_serving(tenants: Iterable[Tenant]) -> None:
    """Serving database, PUBLIC stripped, one login role per bank (idempotent)."""
    s = settings()
    with admin_connect("postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (s.serving_db,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(s.serving_db)))
        conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(s.serving_db)))
    with admin_connect(autocommit=True) as conn:
        conn.execute("revoke all on schema public from public")
        for tenant in tenants:
            _ensure_role(conn, tenant)
    console.print(f"[green]✓[/] serving database {s.serving_db} ready")


def _ensure_role(conn: psycopg.Connection, tenant: Tenant) -> None:
    role = sql.Identifier(tenant.reader_role)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (tenant.reader_role,)).fetchone()
    # Roles are cluster-wide: converge an existing one to this installation's password.
    verb = "alter" if exists else "create"
    conn.execute(
        sql.SQL(verb + " role {} login noinherit password {}").format(
            role, sql.Literal(tenant_password(tenant.code))
        )
    )
    db = sql.Identifier(settings().serving_db)
    conn.execute(sql.SQL("grant connect on database {} to {}").format(db, role))
    conn.execute(
        sql.SQL("alter role {} set search_path = {}").format(role, sql.Identifier(tenant.serving_schema))
    )


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
    """(schema, table) of every ADS model in the warehouse: everything named ads_*."""
    return warehouse.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_name like 'ads\\_%' escape '\\' and table_type = 'BASE TABLE'
        order by table_name
        """
    ).fetchall()


def publish(tenant: Tenant, dt: date) -> dict[str, int]:
    """Copy the bank's ADS tables for `dt` into its serving schema and swap them in."""
    db_file = paths.warehouse_db(tenant.code)
    if not db_file.exists():
        raise DataError(
            f"{db_file}: no warehouse for bank {tenant.code}; run `granary transform --tenant {tenant.code} "
            f"--date {dt}` first"
        )
    live = tenant.serving_schema
    staging, retired = f"{live}__staging", f"{live}__retired"
    counts: dict[str, int] = {}
    started = time.perf_counter()
    warehouse = duckdb.connect(str(db_file), read_only=True)
    try:
        tables = _ads_tables(warehouse)
        if not tables:
            raise DataError(f"{db_file}: no ads_* tables; did `granary transform` succeed for {dt}?")
        with admin_connect() as conn, Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"publish {tenant.code} {dt}", total=len(tables))
            # Leftovers of a publish that was killed: never served, safe to drop.
            for schema in (staging, retired):
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
            for schema_name, table in tables:
                counts[table] = _copy_table(warehouse, conn, f'"{schema_name}"."{table}"', staging, table)
                progress.advance(task)
            _write_publish_info(conn, tenant, dt, staging, counts)
            _grant_reader(conn, tenant, staging)
            conn.commit()
        _swap(tenant, staging, live, retired)
    finally:
        warehouse.close()
    console.print(
        f"[green]✓[/] published {tenant.code} {dt}: {len(counts)} tables, "
        f"{sum(counts.values())} rows in {time.perf_counter() - started:.1f}s"
    )
    return counts


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


def _swap(tenant: Tenant, staging: str, live: str, retired: str) -> None:
    """One transaction of renames; the old day is dropped after readers let go of it."""
    with admin_connect() as conn:
        conn.execute("set local lock_timeout = '10s'")
        has_live = conn.execute("select 1 from pg_namespace where nspname = %s", (live,)).fetchone()
        if has_live:
            conn.execute(
                sql.SQL("alter schema {} rename to {}").format(sql.Identifier(live), sql.Identifier(retired))
            )
        conn.execute(
            sql.SQL("alter schema {} rename to {}").format(sql.Identifier(staging), sql.Identifier(live))
        )
        conn.commit()
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(retired)))
        conn.commit()
