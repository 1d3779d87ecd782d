"""`granary erase`: a customer's personal information out of every place the bank's data lives.

The right to erasure (删除权, Personal Information Protection Law art. 47): the customer's rows leave
the lake (every layer, every day, every file: granary.lake.erasure), the warehouse (rewritten into a
new file: freed DuckDB blocks still hold old bytes), the serving database (deleted and VACUUM FULL:
granary.serving.erasure), the quality gate's records of the days, and Superset's cached chart
results. Each request is recorded in the province's `ops.erasure`. What stays, and for how long
(aggregates, the raw extracts, WAL and backups): docs/erasure.md.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from granary.core import paths
from granary.core.postgres import admin_connect, province_database
from granary.core.tenants import Tenant
from granary.lake import erasure as lake_erasure
from granary.lake.erasure import Identity, conditions, sql_filter
from granary.province import ops
from granary.serving import erasure as serving_erasure


@dataclass
class Erasure:
    tenant: str
    customer_id: str
    dry_run: bool
    removed: dict[str, dict[str, int]] = field(default_factory=dict)  # place -> what -> rows or files


def erase(spark_session, tenant: Tenant, customer_id: str, dry_run: bool = False) -> Erasure:  # noqa: ANN001
    """Erase (or, with dry_run, count) the customer's data in every place; `spark_session()` gives
    the Spark session the lake's deletes run on (not opened for a dry run)."""
    identity = lake_erasure.identify(tenant.code, customer_id)
    done = Erasure(tenant.code, customer_id, dry_run)
    if dry_run:
        done.removed["lake"] = lake_erasure.rows_held(tenant.code, identity)
        done.removed["warehouse"] = _warehouse(paths.warehouse_db(tenant.code), identity, delete=False)
        done.removed["serving"] = serving_erasure.rows_held(tenant, identity)
        done.removed["quality records"] = _quality_records(tenant, identity, scrub=False)
        return done
    request = _record_start(tenant, customer_id)
    try:
        done.removed["lake"] = lake_erasure.erase(spark_session(), tenant.code, identity)
        done.removed["warehouse"] = _warehouse(paths.warehouse_db(tenant.code), identity, delete=True)
        done.removed["serving"] = serving_erasure.erase(tenant, identity)
        done.removed["quality records"] = _quality_records(tenant, identity, scrub=True)
        from granary.superset import service

        done.removed["superset cache"] = {"cached results dropped": service.clear_data_cache()}
    except Exception as exc:
        _record_end(request, "failed", done, str(exc))
        raise
    _record_end(request, "done", done, None)
    return done


def _warehouse(db: Path, identity: Identity, delete: bool) -> dict[str, int]:
    """The customer's rows in the bank's DuckDB warehouse; deleted, the file is written anew."""
    if not db.exists():
        return {}
    found = {}
    with duckdb.connect(str(db), read_only=not delete) as con:
        tables = con.execute(
            "select schema_name, table_name, list(column_name order by column_index) from duckdb_columns()"
            " where not internal group by all order by all"
        ).fetchall()
        for schema, table, columns in tables:
            matches = conditions(columns, identity)
            if not matches:
                continue
            relation = f'"{schema}"."{table}"'
            (count,) = con.execute(f"select count(*) from {relation} where {sql_filter(matches)}").fetchone()
            if count:
                found[f"{schema}.{table}"] = count
                if delete:
                    con.execute(f"delete from {relation} where {sql_filter(matches)}")
    if delete and found:
        fresh = db.with_name(f".{db.stem}.erased.duckdb")
        fresh.unlink(missing_ok=True)
        with duckdb.connect() as con:
            con.execute(f"attach '{db}' as old (read_only)")
            con.execute(f"attach '{fresh}' as fresh")
            con.execute("copy from database old to fresh")
        db.with_name(db.name + ".wal").unlink(missing_ok=True)
        os.replace(fresh, db)
    return found


def _quality_records(tenant: Tenant, identity: Identity, scrub: bool) -> dict[str, int]:
    """The quality gate's records (results, Data Docs) can quote a failing row's values: each file
    of the bank's days that holds one of the customer's values, with the value replaced."""
    values = sorted(identity.values(), key=len, reverse=True)
    found = {}
    root = paths.lake_dir(tenant.code) / "quality"
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            rows = pq.read_table(path)
            text = json.dumps(rows.to_pylist(), ensure_ascii=False, default=str)
            hits = sum(text.count(v) for v in values)
            if hits and scrub:
                pq.write_table(pa.Table.from_pylist(_scrubbed(rows.to_pylist(), values), rows.schema), path)
        else:
            text = path.read_text(encoding="utf-8", errors="ignore")
            hits = sum(text.count(v) for v in values)
            if hits and scrub:
                for value in values:
                    text = text.replace(value, ERASED)
                path.write_text(text, encoding="utf-8")
        if hits:
            found[str(path.relative_to(paths.lake_dir(tenant.code)))] = hits
    return found


ERASED = "[已删除 erased]"


def _scrubbed(rows: list[dict], values: list[str]) -> list[dict]:
    def clean(value):  # noqa: ANN001, ANN202 - any Arrow value
        if isinstance(value, str):
            for erased in values:
                value = value.replace(erased, ERASED)
        elif isinstance(value, list):
            value = [clean(v) for v in value]
        elif isinstance(value, dict):
            value = {k: clean(v) for k, v in value.items()}
        return value

    return [clean(row) for row in rows]


def _record_start(tenant: Tenant, customer_id: str) -> int:
    with admin_connect(province_database()) as conn:
        ops.ensure_schema(conn)
        (request,) = conn.execute(
            "insert into ops.erasure (tenant, customer_id, requested_by, status)"
            " values (%s, %s, %s, 'running') returning id",
            (tenant.code, customer_id, getpass.getuser()),
        ).fetchone()
    return request


def _record_end(request: int, status: str, done: Erasure, message: str | None) -> None:
    with admin_connect(province_database()) as conn:
        conn.execute(
            "update ops.erasure set status = %s, finished_at = now(), removed = %s, message = %s"
            " where id = %s",
            (status, json.dumps(done.removed, ensure_ascii=False), message, request),
        )
