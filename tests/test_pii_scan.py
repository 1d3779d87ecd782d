"""No clear resident ID or mobile number anywhere past ODS: a scan of everything the platform keeps
and serves after cleaning.

Scanned, for both banks' published day: every DWD and quarantine partition in the lake, every
table of each warehouse/<bank>.duckdb (DWS, ADS, seeds), every table of each bank's serving
schema, and every row of every dataset Superset serves (queried as admin via the chart-data API).
A clear resident ID is 18 characters whose check character is right (granary.pipeline.idcard); a mobile
number is 1[3-9] + 9 digits, as a whole value or inside a longer string. Tokens are 64 hex
characters, so a match must not touch a letter or digit on either side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant
from granary.pipeline.idcard import check_digit, make_id

PHONE = re.compile(r"^1[3-9]\d{9}$")
EMBEDDED_PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")


def clear_pii(value: object) -> str | None:
    """What kind of clear PII the value is or holds ('resident_id' / 'phone'), else None."""
    if not isinstance(value, str):
        return None
    for candidate in ID_SHAPE.findall(value):
        if check_digit(candidate[:17]) == candidate[17].upper():
            return "resident_id"
    if PHONE.match(value) or EMBEDDED_PHONE.search(value):
        return "phone"
    return None


class Scan:
    """Findings and coverage of one scan: where each clear value was, and what was looked at."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.tables: set[str] = set()
        self.values = 0

    def check(self, where: str, column: str, values: Iterable[object]) -> None:
        self.tables.add(where)
        for value in values:
            self.values += 1
            kind = clear_pii(value)
            if kind and len(self.findings) < 50:
                self.findings.append(f"{where}.{column}: clear {kind} {value!r}")


# --- the detector itself: it must catch what it is meant to catch -------------------------------

CLEAR_ID = make_id("341021", date(1980, 1, 1), 123)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (CLEAR_ID, "resident_id"),
        (f"证件号:{CLEAR_ID};", "resident_id"),
        ("13800138000", "phone"),
        ("联系电话13912345678", "phone"),
        ("tel 19912345678 (home)", "phone"),
        (CLEAR_ID[:3] + "*" * 11 + CLEAR_ID[-4:], None),  # the mask
        ("138****8000", None),
        (CLEAR_ID[:17] + ("0" if CLEAR_ID[17] != "0" else "1"), None),  # wrong check digit: not an ID
        ("12800138000", None),  # 12x is not a mobile prefix
        ("a" * 20 + "13800138000" + "f" * 33, None),  # inside a hex token
        ("20261120", None),
        (None, None),
        (13800138000, None),  # numbers are not string columns
    ],
)
def test_detector(value: object, kind: str | None) -> None:
    assert clear_pii(value) == kind


def test_scan_fails_on_a_planted_value(tmp_path: Path) -> None:
    """The same scan path the real test uses, over a Parquet file with one clear ID planted."""
    table = pa.table({"id_number_masked": ["341***********0011", CLEAR_ID], "n": [1, 2]})
    pq.write_table(table, tmp_path / "part-00000.parquet")
    scan = Scan()
    scan_parquet_dir(scan, "planted", tmp_path)
    assert scan.findings == [f"planted.id_number_masked: clear resident_id {CLEAR_ID!r}"]


# --- sources -------------------------------------------------------------------------------------


def scan_parquet_dir(scan: Scan, where: str, directory: Path) -> None:
    for file in sorted(directory.rglob("*.parquet")):
        table = pq.read_table(file)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                scan.check(where, name, column.to_pylist())


def warehouse_tables(db: Path) -> Iterator[tuple[str, str, list[str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? and data_type = 'VARCHAR'",
                    [schema, table],
                ).fetchall()
            ]
            yield schema, table, columns


def scan_warehouse(scan: Scan, db: Path) -> set[str]:
    names = set()
    with duckdb.connect(str(db), read_only=True) as con:
        for schema, table, columns in list(warehouse_tables(db)):
            names.add(table)
            for column in columns:
                values = con.execute(f'select "{column}" from "{schema}"."{table}"').fetchall()
                scan.check(f"{db.name}:{table}", column, (v for (v,) in values))
    return names


def scan_serving_schema(scan: Scan, tenant: Tenant) -> set[str]:
    schema = tenant.serving_schema
    names = set()
    with admin_connect(serving_database(tenant)) as conn:
        columns = conn.execute(
            "select table_name, column_name from information_schema.columns where table_schema = %s "
            "and data_type in ('text', 'character varying', 'character') order by 1, 2",
            (schema,),
        ).fetchall()
        names = {
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s", (schema,)
            ).fetchall()
        }
        for table, column in columns:
            values = conn.execute(f'select "{column}" from "{schema}"."{table}"').fetchall()
            scan.check(f"{schema}.{table}", column, (v for (v,) in values))
    return names


# --- the scan ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_clear_pii_after_ods(published_day) -> None:
    scan = Scan()
    for tenant in published_day.tenants:
        for table in contracts():
            dwd = paths.partition(paths.dwd_table(tenant.code, table), published_day.dt)
            assert any(dwd.glob("*.parquet")), dwd
            scan_parquet_dir(scan, f"{tenant.code}.dwd.{table}", dwd)
            quarantine = paths.partition(paths.quarantine_table(tenant.code, table), published_day.dt)
            scan_parquet_dir(scan, f"{tenant.code}.quarantine.{table}", quarantine)

        in_warehouse = scan_warehouse(scan, paths.warehouse_db(tenant.code))
        assert any(t.startswith("dws_") for t in in_warehouse), in_warehouse
        assert {"ads_customer_profile", "ads_customer_tag", "ads_data_quality"} <= in_warehouse

        served = scan_serving_schema(scan, tenant)
        assert {"ads_customer_profile", "publish_info"} <= served
    assert scan.values > 10_000, "the scan looked at too little to mean anything"
    assert not scan.findings, "\n".join(scan.findings)


def dataset_rows(client, dataset_id: int) -> tuple[str, list[dict]]:
    """Every row of a dataset, all columns, through Superset's chart-data API."""
    dataset = client.call("GET", f"/api/v1/dataset/{dataset_id}")["result"]
    columns = [c["column_name"] for c in dataset["columns"]]
    query = {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": columns, "metrics": [], "row_limit": 1_000_000}],
        "result_format": "json",
        "result_type": "full",
    }
    body = client.call("POST", "/api/v1/chart/data", json=query)
    return f"{dataset['schema']}.{dataset['table_name']}", body["result"][0]["data"]


@pytest.mark.slow
def test_no_clear_pii_in_superset_datasets(superset_stack) -> None:
    from granary.superset.provision import admin_client

    client = admin_client()
    datasets = client.list_all("dataset")
    schemas = {d["schema"] for d in datasets}
    assert {f.tenant.serving_schema for f in superset_stack.banks.values()} <= schemas
    scan = Scan()
    for dataset in datasets:
        where, rows = dataset_rows(client, dataset["id"])
        assert rows, f"dataset {where} returned no rows"
        for column in rows[0]:
            scan.check(where, column, (r[column] for r in rows))
    assert len(scan.tables) == len(datasets)
    assert not scan.findings, "\n".join(scan.findings)
