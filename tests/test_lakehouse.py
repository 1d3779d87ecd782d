"""The lakehouse spike: one Iceberg table written by Spark, read by DuckDB at the same snapshot.

Real engines: the Spark Connect server with the Iceberg runtime from Maven Central, Iceberg's JDBC
catalog in PostgreSQL, pyiceberg's SQL catalog on the same tables, DuckDB.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from decimal import Decimal

import duckdb
import psycopg
import pytest
from psycopg import sql

from granary.core import config
from granary.lake import iceberg

TABLE = "spike.loan_balance"
DAY_1 = [
    ("L001", "qingshan", Decimal("1200.50"), date(2026, 1, 1)),
    ("L002", "qingshan", Decimal("80.00"), date(2026, 1, 1)),
]
DAY_2 = [
    ("L001", "qingshan", Decimal("1100.50"), date(2026, 1, 2)),
    ("L003", "qingshan", Decimal("5.25"), date(2026, 1, 2)),
]


def _values(rows) -> str:
    return ", ".join(f"('{a}', '{b}', {c}, date'{d.isoformat()}')" for a, b, c, d in rows)


def _duckdb_rows(snapshot_id: int | None = None) -> tuple[int, list[tuple]]:
    con = duckdb.connect()
    view, read = iceberg.duckdb_relation(con, TABLE, snapshot_id)
    return read, con.sql(f"select loan_id, tenant, balance, dt from {view} order by dt, loan_id").fetchall()


@pytest.mark.slow
def test_spark_writes_duckdb_reads_the_same_snapshot(spark):
    iceberg.ensure_catalog()
    iceberg.ensure_catalog()  # idempotent
    spark.sql("create namespace if not exists lake.spike")
    spark.sql(f"drop table if exists lake.{TABLE} purge")
    spark.sql(
        f"create table lake.{TABLE} (loan_id string, tenant string, balance decimal(18,2), dt date) "
        "using iceberg partitioned by (dt)"
    )
    spark.sql(f"insert into lake.{TABLE} values {_values(DAY_1)}")
    spark.sql(f"insert into lake.{TABLE} values {_values(DAY_2)}")

    snapshots = [
        row.snapshot_id
        for row in spark.sql(
            f"select snapshot_id from lake.{TABLE}.snapshots order by committed_at"
        ).collect()
    ]
    assert len(snapshots) == 2
    spark_rows = [tuple(r) for r in spark.sql(f"select * from lake.{TABLE} order by dt, loan_id").collect()]
    assert spark_rows == sorted(DAY_1 + DAY_2, key=lambda r: (r[3], r[0]))

    # DuckDB, through the same catalog, reads the current snapshot Spark committed, row for row.
    read, rows = _duckdb_rows()
    assert read == snapshots[-1]
    assert rows == spark_rows
    # And time travel agrees: both engines at the first snapshot see day 1 only.
    first = [
        tuple(r)
        for r in spark.sql(
            f"select * from lake.{TABLE} version as of {snapshots[0]} order by dt, loan_id"
        ).collect()
    ]
    read, rows = _duckdb_rows(snapshots[0])
    assert read == snapshots[0]
    assert rows == first == sorted(DAY_1)

    # One catalog: the metadata file Spark's JDBC catalog points at is the one pyiceberg loaded.
    s = config.settings()
    with psycopg.connect(
        host=s.pg_host, port=s.pg_port, dbname=iceberg.catalog_database(),
        user=iceberg.catalog_role(), password=iceberg.catalog_password(),
    ) as conn:  # fmt: skip
        (location,) = conn.execute(
            "select metadata_location from iceberg_tables where table_namespace = %s and table_name = %s",
            tuple(TABLE.split(".")),
        ).fetchone()
    assert iceberg.catalog().load_table(TABLE).metadata_location == location
    spark_latest = (
        spark.sql(f"select file from lake.{TABLE}.metadata_log_entries order by timestamp desc limit 1")
        .collect()[0]
        .file
    )
    assert spark_latest == location


@pytest.mark.slow
def test_other_logins_cannot_open_the_catalog(spark):
    """The catalog names every bank's tables: only its own login (and the admin) may connect."""
    iceberg.ensure_catalog()
    s = config.settings()
    stranger, password = f"granary_stranger_{os.getpid()}", secrets.token_urlsafe(16)
    with psycopg.connect(s.pg_admin_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(stranger), sql.Literal(password)
            )
        )
        try:
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                psycopg.connect(
                    host=s.pg_host, port=s.pg_port, dbname=iceberg.catalog_database(),
                    user=stranger, password=password,
                )  # fmt: skip
        finally:
            admin.execute(sql.SQL("drop role {}").format(sql.Identifier(stranger)))
