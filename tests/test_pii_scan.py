"""No clear resident ID or mobile number anywhere past ODS: a scan of everything the platform keeps
and serves after cleaning.

Scanned, for both banks' published day: every file of the bank's lake but its ODS tables (raw
extracts, where clear PII belongs) — every DWD and quarantine Iceberg table's data files (every day
and snapshot on disk, the published day's included) and metadata (table metadata JSON, manifest lists,
manifests with their column bounds), the DWS day history, reconciliations and quality results —, every
table of each warehouse/<bank>.duckdb (DWS, ADS, seeds), every table of each bank's serving
schema, and every row of every dataset Superset serves (queried as admin via the chart-data API).
A clear resident ID is 18 characters whose check character is right (granary.pipeline.idcard); a mobile
number is 1[3-9] + 9 digits, as a whole value or inside a longer string. Tokens are 64 hex
characters, so a match must not touch a letter or digit on either side.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.lake import day_files
from support.scan import avro_strings, nested_strings

from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.config import settings
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant
from granary.lake import tables
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
        self.files: set[Path] = set()
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
    scan_files(scan, "planted", tmp_path)
    assert scan.findings == [f"planted/part-00000.parquet.id_number_masked: clear resident_id {CLEAR_ID!r}"]


def test_scan_reads_iceberg_metadata(tmp_path: Path) -> None:
    """The scan finds a clear value in an Iceberg table's metadata, not only in its data files: in the
    manifests' column bounds (Avro) and in the table metadata (JSON); and in any other file."""
    from pyiceberg.catalog.sql import SqlCatalog

    phone, other_phone = "13800138000", "13912345678"
    bank = tmp_path / "lake" / "bank"
    lake = SqlCatalog("planted", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=bank.parent.as_uri())
    lake.create_namespace("bank")
    rows = pa.table({"note": [phone, "nothing here"], "n": pa.array([1, 2], pa.int32())})
    table = lake.create_table(
        "bank.dwd_planted",
        schema=rows.schema,
        location=(bank / "dwd_planted").as_uri(),
        properties={**tables.TABLE_PROPERTIES, "comment": f"call {other_phone}"},
    )
    table.append(rows)
    (bank / "notes.txt").write_text(f"line one\ncall {other_phone} now\n", encoding="utf-8")
    (bank / "ods_raw").mkdir()
    (bank / "ods_raw" / "raw.txt").write_text(f"{phone}\n", encoding="utf-8")  # a folder left out
    scan = Scan()
    scan_files(scan, "planted", bank, skip=["ods_raw"])

    def found_in(suffix: str, value: str) -> bool:
        return any(
            f.split(": clear ", 1)[0].rsplit(".", 1)[0].endswith(suffix) and value in f for f in scan.findings
        )

    assert found_in(".parquet", repr(phone)), scan.findings  # the data file
    assert found_in("-m0.avro", repr(phone)), scan.findings  # the manifest's lower bound of `note`
    assert found_in(".metadata.json", other_phone), scan.findings  # the table's properties
    assert found_in("notes.txt", other_phone), scan.findings
    assert all(phone in f or other_phone in f for f in scan.findings), scan.findings
    assert not any("ods_raw" in f for f in scan.findings) and not any(
        "ods_raw" in f.parts for f in scan.files
    )


# --- sources -------------------------------------------------------------------------------------


def scan_files(scan: Scan, where: str, directory: Path, skip: Iterable[str] = ()) -> None:
    """Every file under `directory` but those in its folders named in `skip`, whatever it is: Parquet
    (every string column), Avro (Iceberg manifest lists and manifests: the header and every string or
    binary value, column bounds included), JSON (every string), anything else as text, line by line."""
    skipped = {directory / name for name in skip}
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        if skipped & set(file.parents):
            continue
        scan.files.add(file)
        at = f"{where}/{file.relative_to(directory).as_posix()}"
        if file.suffix == ".parquet":
            table = pq.read_table(file)
            for name, column in zip(table.column_names, table.columns, strict=True):
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    scan.check(at, name, column.to_pylist())
        elif file.suffix == ".avro":
            scan.check(at, "avro", map(without_snapshot_ids, avro_strings(file)))
        else:
            text = file.read_bytes().decode("utf-8", errors="replace")
            kind, values = "text", text.splitlines()
            if file.suffix == ".json":
                with contextlib.suppress(json.JSONDecodeError):  # JSON that is not: scanned as text
                    kind, values = "json", [without_snapshot_ids(v) for v in nested_strings(json.loads(text))]
            scan.check(at, kind, values)


# Iceberg names a manifest list after its snapshot, `snap-<snapshot id>-…`: a random 18- or 19-digit
# number whose last digit is an ID number's check digit one time in eleven. It is Iceberg's, not data.
SNAPSHOT_FILE = re.compile(r"snap-\d+-")


def without_snapshot_ids(value: str) -> str:
    return SNAPSHOT_FILE.sub("snap-", value)


def test_iceberg_snapshot_file_names_are_not_ids() -> None:
    snapshot = 276236308151020564  # a snapshot id seen in a manifest list's name, with a valid check digit
    assert clear_pii(str(snapshot)) == "resident_id"
    assert clear_pii(without_snapshot_ids(f"file:/lake/b/t/metadata/snap-{snapshot}-1-ab12.avro")) is None
    assert clear_pii(without_snapshot_ids(f"id {CLEAR_ID}")) == "resident_id"  # data is still caught


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
        lake = settings().lake_root / tenant.code
        # Every file of the bank's lake but its ODS tables' (data and metadata): only ODS holds the raw
        # extracts, clear PII included, and so may its manifests' column bounds.
        ods = [p.name for p in lake.iterdir() if p.name.startswith(tables.table_name("ods", ""))]
        assert ods, f"no ODS table in {lake}"
        scan_files(scan, tenant.code, lake, skip=ods)
        scanned = {f.resolve() for f in scan.files}
        for table in contracts():
            for layer in ("dwd", "quarantine"):
                # The day's data files and the table's metadata files were all scanned.
                assert tables.day_written(tenant.code, layer, table, published_day.dt), (layer, table)
                day = {Path(f).resolve() for f in day_files(tenant.code, layer, table, published_day.dt)}
                assert day <= scanned, (layer, table, sorted(day - scanned))
                metadata = (lake / tables.table_name(layer, table) / "metadata").resolve()
                assert any(f.parent == metadata for f in scanned), metadata

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
