"""The lake's table format: Apache Iceberg, its catalog in PostgreSQL, read by Spark and by DuckDB.

Spark writes and reads through the Iceberg runtime (jvm/spark/pom.xml) and Iceberg's JDBC catalog;
everything outside the JVM (dbt on DuckDB, checks, audits) reads the same tables through
pyiceberg's SQL catalog, which keeps the same two tables in the same database. One name per
table in both engines: `<namespace>.<table>` in the catalog named CATALOG ("lake").

The catalog database (GRANARY_LAKE_CATALOG, default `granary_lakehouse`) belongs to the login role
of the same name, with a generated password (secrets dir); PUBLIC may not connect to it.
Why Iceberg, and Spark 4.1: docs/lakehouse.md.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

from psycopg import sql

from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.paths import PROVINCE
from granary.core.postgres import admin_connect, ensure_database
from granary.core.secrets import read_or_create

CATALOG = "lake"


def catalog_database() -> str:
    return settings().lake_catalog


def catalog_role() -> str:
    """Named like its database; roles are cluster-wide, so a second installation sets its own name."""
    return settings().lake_catalog


def password_file() -> Path:
    return settings().secrets_dir / "lakehouse.pg.password"


def catalog_password() -> str:
    import secrets as random

    return read_or_create(password_file(), lambda: random.token_urlsafe(24))


def warehouse() -> Path:
    """Where the tables' data and metadata files live: `<lake root>/<namespace>/<table>/`, so a bank's
    namespace is its own folder of the lake."""
    return settings().lake_root


def spark_catalog_conf() -> dict[str, str]:
    """The Spark settings that make `lake.<namespace>.<table>` an Iceberg table in the JDBC catalog.

    They hold the catalog login's password: granary.pipeline.spark writes them to an owner-only properties
    file, never to a command line."""
    s = settings()
    prefix = f"spark.sql.catalog.{CATALOG}"
    return {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "jdbc",
        f"{prefix}.uri": f"jdbc:postgresql://{s.pg_host}:{s.pg_port}/{catalog_database()}",
        f"{prefix}.jdbc.user": catalog_role(),
        f"{prefix}.jdbc.password": catalog_password(),
        # V1 also records views; pyiceberg's SQL catalog reads the same tables either way.
        f"{prefix}.jdbc.schema-version": "V1",
        f"{prefix}.warehouse": warehouse().as_uri(),
        # No cached table state: pyiceberg commits too, and a reader must see the catalog's current one.
        f"{prefix}.cache-enabled": "false",
        # Spark's SQL extensions for Iceberg: CALL procedures (expiry, compaction), MERGE, metadata DDL.
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    }


def ensure_catalog() -> None:
    """The catalog's login role and database exist, the database owned by that role, CONNECT for it
    and the admin only (idempotent; the role's password converges to the secrets dir's)."""
    role = sql.Identifier(catalog_role())
    with admin_connect(autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (catalog_role(),)).fetchone()
        verb = "alter" if exists else "create"
        # INHERIT: it creates the catalog's tables in its database's public schema as that database's
        # owner (pg_database_owner), a privilege a NOINHERIT role would not use.
        conn.execute(
            sql.SQL(verb + " role {} login inherit nocreatedb nocreaterole password {}").format(
                role, sql.Literal(catalog_password())
            )
        )
        ensure_database(conn, catalog_database(), owner=catalog_role())
    # The catalog's two tables, made now, once: every Spark session and pyiceberg client creates them
    # when missing, and two doing so at once (a bank's first night, banks side by side) collide.
    # Spark's JDBC catalog at schema V1 also records each entry's type.
    _open_catalog.cache_clear()
    catalog()
    with admin_connect(catalog_database(), autocommit=True) as conn:
        conn.execute("alter table iceberg_tables add column if not exists iceberg_type varchar(5)")
    ensure_namespace(PROVINCE)  # the province's own tables (granary.lake.province)


def ensure_namespace(namespace: str) -> None:
    """The namespace exists (two writers creating it at once collide in PostgreSQL: one of them wins)."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError
    from sqlalchemy.exc import IntegrityError

    with contextlib.suppress(NamespaceAlreadyExistsError, IntegrityError):
        catalog().create_namespace_if_not_exists(namespace)


def drop_catalog() -> None:
    """Drop the catalog's database and role (scratch installations and test sessions): the tables'
    files stay under the warehouse folder."""
    with admin_connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(catalog_database()))
        )
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(catalog_role())))
    _open_catalog.cache_clear()


def catalog():  # -> pyiceberg.catalog.sql.SqlCatalog (import kept lazy)
    """pyiceberg's view of the same catalog Spark writes: tables, snapshots, files (one per process
    and catalog address: opening one costs a connection pool)."""
    s = settings()
    uri = (
        f"postgresql+psycopg://{catalog_role()}:{catalog_password()}"
        f"@{s.pg_host}:{s.pg_port}/{catalog_database()}"
    )
    return _open_catalog(uri, warehouse().as_uri())


@functools.lru_cache(maxsize=4)
def _open_catalog(uri: str, warehouse_uri: str):
    from pyiceberg.catalog.sql import SqlCatalog

    for attempt in range(3):
        try:
            return SqlCatalog(CATALOG, uri=uri, warehouse=warehouse_uri)
        except Exception as exc:  # SQLAlchemy's OperationalError names the cause; keep it
            # Opening a new catalog creates its two tables: two processes doing it at once collide
            # in PostgreSQL (a duplicate type name); another try finds them made.
            racing = "already exists" in str(exc) or "duplicate key" in str(exc)
            if racing and attempt < 2:
                time.sleep(0.5)
                continue
            raise EngineError(
                f"cannot open the lake catalog {uri.rsplit('@', 1)[-1]}: {exc}. "
                "Is PostgreSQL running, and has `granary lake init` created the catalog?"
            ) from exc
    raise AssertionError("unreachable")


def duckdb_relation(conn: Any, identifier: str, snapshot_id: int | None = None, view: str | None = None):
    """Register `identifier` (namespace.table) at `snapshot_id` (default: current) as a DuckDB view.

    pyiceberg plans the scan from the catalog (the snapshot's data files, deletes applied, columns by
    field id, so renamed or added columns read right) into Arrow, which DuckDB queries in place.
    Returns (view name, snapshot id read)."""
    table = catalog().load_table(identifier)
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.current_snapshot()
    if snapshot is None:
        raise EngineError(f"lake table {identifier} has no snapshot {snapshot_id or '(current)'}")
    name = view or identifier.replace(".", "__")
    table.scan(snapshot_id=snapshot.snapshot_id).to_duckdb(name, connection=conn)
    return name, snapshot.snapshot_id
