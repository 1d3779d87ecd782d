"""`granary erase`: after three published days, one customer's data is gone from every file, and
nobody else's moved.

A bank of its own (the session's banks stay as their fixture built them), run for three days by the
real CLI; then the customer is erased and every file under the lake and the warehouse is scanned
(decoded where the format compresses, and byte for byte), and so is every relation file of the bank's
serving database after the erasure's own VACUUM. Real engines throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from support.cli import granary
from support.scan import file_strings

from granary.core import config, paths
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import Tenant, get_tenant
from granary.lake import erasure as lake_erasure
from granary.lake import tables
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving

pytestmark = pytest.mark.slow

CODE = "anfeng"  # a bank of tenants/ that no other test runs
# Days of its own: generating a bank's days rewrites the province's provider files of those days,
# and a later rerun of the published days (test_slice) would route nothing from them.
DAYS = (date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 3))
SERVING_DB = f"granary_serving_erasure_test_{os.getpid()}"


@pytest.fixture(scope="module")
def bank(spark_remote: str, serving_db: str, granary_worker: str) -> Iterator[Tenant]:
    from granary.generate import generate

    with pytest.MonkeyPatch.context() as mp:
        # Serving databases of its own prefix: drop_serving also drops the prefix's province database.
        mp.setenv("GRANARY_SERVING_DB", SERVING_DB)
        config.settings.cache_clear()
        tenant = get_tenant(CODE)
        drop_serving([tenant])
        init_serving([tenant])
        generate([tenant], list(DAYS), scale=0.01, seed=23)
        for day in DAYS:
            granary("run", "--tenant", CODE, "--date", day.isoformat(), worker=granary_worker)
        yield tenant
        drop_serving([tenant])
        tables.drop_namespace(CODE)
    config.settings.cache_clear()


def _customer(tenant: Tenant) -> str:
    """A customer with a loan and a deposit on the last day, whose name no other customer has
    (a name is not an identifier: another customer's must stay)."""
    rows = tables.read_days(CODE, "ods", "customer", [max(DAYS)]).to_pylist()
    names: dict[str, int] = {}
    for row in rows:
        names[row["customer_name"]] = names.get(row["customer_name"], 0) + 1
    borrowers = {r["customer_id"] for r in tables.read_days(CODE, "dwd", "loan", [max(DAYS)]).to_pylist()}
    savers = {
        r["customer_id"] for r in tables.read_days(CODE, "dwd", "deposit_account", [max(DAYS)]).to_pylist()
    }
    candidates = sorted(
        r["customer_id"]
        for r in rows
        if names[r["customer_name"]] == 1 and r["customer_id"] in borrowers & savers
    )
    assert candidates, "no borrower with a deposit and a name of their own"
    return candidates[0]


def _files() -> list[Path]:
    lake = sorted(p for p in paths.lake_dir(CODE).rglob("*") if p.is_file())
    warehouse = paths.warehouse_db(CODE)
    return [*lake, *sorted(warehouse.parent.glob(f"{warehouse.name}*"))]


def _found(values: set[str], prefixes: set[str]) -> dict[str, set[str]]:
    """Which of the values (or, in Avro manifests, the 16-character column bounds of them) each
    file under the bank's lake and its warehouse holds."""
    hits: dict[str, set[str]] = {}
    for file in _files():
        for text in file_strings(file):
            seen = {v for v in values if v in text}
            if file.suffix == ".avro":
                seen |= {p for p in prefixes if p in text}
            if seen:
                hits.setdefault(str(file), set()).update(seen)
    return hits


def _warehouse_holds(values: set[str]) -> set[str]:
    """The values any string column of any warehouse table holds (DuckDB compresses its blocks)."""
    found = set()
    with duckdb.connect(str(paths.warehouse_db(CODE)), read_only=True) as con:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " where data_type = 'VARCHAR' and not internal"
        ).fetchall()
        for schema, table, column in columns:
            rows = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
            found |= {v for (v,) in rows if v in values}
    return found


def _serving_relation_files(tenant: Tenant) -> list[Path]:
    with admin_connect(serving_database(tenant)) as conn:
        (data_dir,) = conn.execute("show data_directory").fetchone()
        rels = conn.execute(
            "select pg_relation_filepath(c.oid) from pg_class c where pg_relation_filepath(c.oid) is not null"
        ).fetchall()
    found = []
    for (rel,) in rels:
        base = Path(data_dir) / rel
        found += [p for p in base.parent.glob(f"{base.name}*") if p.is_file()]
    return found


def _serving_bytes_hold(tenant: Tenant, values: set[str]) -> set[str]:
    found = set()
    for file in _serving_relation_files(tenant):
        data = file.read_bytes()
        found |= {v for v in values if v.encode("utf-8") in data}
    return found


def _others(tenant: Tenant, customer: str) -> dict[str, str]:
    """A digest of every other customer's rows: in DWD (every table with a customer id, every day)
    and in the serving database's tags and profiles."""
    digests = {}
    for table, name in tables.layer_tables(CODE, "dwd").items():
        rows = tables.read_days(CODE, "dwd", table, DAYS)
        if "customer_id" in rows.column_names:
            kept = sorted(
                json.dumps(r, sort_keys=True, default=str)
                for r in rows.to_pylist()
                if r["customer_id"] != customer
            )
            digests[name] = hashlib.sha256("\n".join(kept).encode()).hexdigest()
    with admin_connect(serving_database(tenant)) as conn:
        for table in ("ads_customer_tag", "ads_customer_profile"):
            rows = conn.execute(
                f"select * from {tenant.serving_schema}.{table} where customer_id <> %s order by 1, 2",
                (customer,),
            ).fetchall()
            digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def test_erase_a_customer_from_every_file(bank: Tenant, granary_worker: str) -> None:
    customer = _customer(bank)
    identity = lake_erasure.identify(CODE, customer)
    values = identity.values()
    resident_ids = identity.resident_ids
    assert len(resident_ids) >= 2, "the customer's ID number, clear and as a token"
    prefixes = {v[:16] for v in values if len(v) > 16}
    before = _others(bank, customer)
    days_held = sum(
        r["customer_id"] == customer for r in tables.read_days(CODE, "dwd", "customer", DAYS).to_pylist()
    )

    # Positive controls: the scans see the customer before the erasure.
    held = _found(values, prefixes)
    assert any("dwd_customer" in f for f in held) and any("ods_customer" in f for f in held)
    assert _warehouse_holds(values)
    assert _serving_bytes_hold(bank, values)

    dry = granary("erase", "--tenant", CODE, "--customer", customer, "--dry-run", worker=granary_worker)
    assert "would remove" in dry.stdout and "dwd_customer" in dry.stdout
    assert _found(values, prefixes).keys() == held.keys()  # nothing changed

    done = granary("erase", "--tenant", CODE, "--customer", customer, worker=granary_worker)
    assert "removed" in done.stdout

    assert _found(values, prefixes) == {}
    assert _warehouse_holds(values) == set()
    assert _serving_bytes_hold(bank, values) == set()
    assert lake_erasure.rows_held(CODE, identity) == {}
    assert _others(bank, customer) == before
    with admin_connect(province_database()) as conn:
        status, removed = conn.execute(
            "select status, removed from ops.erasure where tenant = %s and customer_id = %s order by id desc",
            (CODE, customer),
        ).fetchone()
    assert status == "done" and removed["lake"]["dwd_customer"] == days_held
    assert removed["serving"] and removed["warehouse"]
