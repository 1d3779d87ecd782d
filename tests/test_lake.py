"""The lake as Iceberg tables: every layer in the catalog, and a source contract that grows.

Real engines: the Spark Connect server with the Iceberg runtime, the JDBC catalog in PostgreSQL,
pyiceberg on the same tables.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from granary.catalog import sources
from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline import dws_history

pytestmark = pytest.mark.slow


def test_every_layer_is_an_iceberg_table_in_the_banks_namespace(published_day) -> None:
    """After a published day: each contract table's ODS, DWD and quarantine, and each day-history
    model, is an Iceberg table of the bank's namespace, partitioned by its day column; no table
    keeps a `dt=` folder, and nothing else of the bank's lake is Parquet under one."""
    from granary.lake.iceberg import catalog

    manifest = settings().run_dir / "dbt" / published_day.tenants[0].code / "target" / "manifest.json"
    models = dws_history.history_models(manifest)
    assert "dws_measure__history" in models and "ads_customer_tag_history" in models
    layers = ("ods", "dwd", "quarantine")
    for tenant in published_day.tenants:
        lake = paths.lake_dir(tenant.code)
        expected = {tables.table_name(layer, t) for layer in layers for t in contracts()}
        expected |= {*models, tables.table_name(*dws_history.BUILD_DAY)}
        assert set(tables.tables_of(tenant.code)) == expected
        for name in expected:
            layer, _ = tables.split_name(name)
            table = catalog().load_table(f"{tenant.code}.{name}")
            assert table.format_version == 2
            wanted = tables.wanted_properties(name).items() - {("format-version", "2")}
            assert wanted <= table.properties.items(), name
            [field] = table.spec().fields
            assert table.schema().find_field(field.source_id).name == tables.day_column(layer)
            assert table.location().endswith(f"{lake.relative_to(lake.parent.parent)}/{name}")
        day_folders = [p.relative_to(lake) for p in lake.rglob("dt=*") if p.is_dir()]
        assert [p for p in day_folders if p.parts[0] in expected] == []
        # day folders hold the quality gate's and cleaning's JSON records and Data Docs, no data
        assert [p for p in day_folders if any((lake / p).rglob("*.parquet"))] == []
        assert dws_history.lake_days(tenant.code, published_day.dt) == list(published_day.days[:-1])
    # the province's own table: the external data ledger, partitioned by day, no folder of days
    ledger = catalog().load_table(f"{paths.PROVINCE}.ledger")
    [field] = ledger.spec().fields
    assert ledger.schema().find_field(field.source_id).name == "dt"
    banks = {t.code for t in published_day.tenants}
    assert {r["bank"] for r in ledger.scan(selected_fields=("bank",)).to_arrow().to_pylist()} >= banks
    assert list((settings().lake_root / paths.PROVINCE).rglob("dt=*")) == []


# --- a contract that grows -------------------------------------------------------------------------

BANK = Tenant(
    code="lakegrow", name_zh="测试丙银行", name_en="Test Evolving Bank", county_code="341122",
    county_zh="丙县", encoding="utf-8", customers_sf1=100, branches=1,
)  # fmt: skip
OLD_DAY, NEW_DAY = date(2026, 4, 1), date(2026, 4, 2)
NEW_COLUMN = {"name": "green_loan", "type": "string", "nullable": True}


def _loans(header: list[str], extra: list[str] | None = None) -> str:
    rows = [
        ["L000000000001", "C0000000001", "B01", "M01", "AGRI", "A", "Y", "50000.00", "20000.50", "0.0435",
         "20250101", "20270101", "0", "1"],
        ["L000000000002", "C0000000002", "B01", "M01", "BIZ", "C", "N", "80000.00", "70000.00", "0.0500",
         "20250101", "20270101", "0", "1"],
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(row + ([extra[i]] if extra else []) for i, row in enumerate(rows))
    return buffer.getvalue()


def _land(dt: date, text: str) -> None:
    path = paths.landing_file(BANK.code, dt, "loan")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _files_and_hashes(layer: str, dt: date) -> dict[str, str]:
    return {
        path: hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for _, path in tables.day_files(BANK.code, layer, "loan", [dt])
    }


@contextmanager
def _grown_contract(folder: Path) -> Iterator[None]:
    """The source contracts with one more loan column, as a bank's core system adds it."""
    folder.mkdir(exist_ok=True)
    for path in sources.SOURCES_DIR.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.stem == "loan":
            raw["columns"].append(NEW_COLUMN)
        (folder / path.name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources, "SOURCES_DIR", folder)
        sources.contracts.cache_clear()
        try:
            yield
        finally:
            sources.contracts.cache_clear()


@pytest.fixture(scope="module")
def evolved(spark_remote, granary_env: Path) -> dict[str, dict[str, str]]:
    """OLD_DAY ingested and cleaned under the contract as it is, NEW_DAY under the grown one; the
    value is OLD_DAY's data files (path -> hash) per layer right after it was written."""
    from granary.pipeline.clean import clean
    from granary.pipeline.ingest import ingest

    _land(OLD_DAY, _loans(sources.contract("loan").column_names))
    ingest(BANK, OLD_DAY, ["loan"])
    clean(BANK, OLD_DAY, ["loan"])
    old_files = {layer: _files_and_hashes(layer, OLD_DAY) for layer in ("ods", "dwd")}
    with _grown_contract(granary_env / "grown-sources"):
        _land(NEW_DAY, _loans(sources.contract("loan").column_names, extra=["Y", ""]))
        ingest(BANK, NEW_DAY, ["loan"])
        clean(BANK, NEW_DAY, ["loan"])
    return old_files


@pytest.mark.parametrize("layer", ["ods", "dwd"])
def test_a_column_added_to_a_contract_reads_null_on_older_days(evolved, layer: str) -> None:
    assert evolved[layer], "the older day has data files"
    rows = tables.read_days(BANK.code, layer, "loan", [OLD_DAY, NEW_DAY]).to_pylist()
    by_day = {d: {r["loan_id"]: r["green_loan"] for r in rows if r["dt"] == d} for d in (OLD_DAY, NEW_DAY)}
    assert by_day[OLD_DAY] == {"L000000000001": None, "L000000000002": None}
    assert by_day[NEW_DAY] == {"L000000000001": "Y", "L000000000002": None}
    # metadata only: the older day's data files are the same files, byte for byte
    assert _files_and_hashes(layer, OLD_DAY) == evolved[layer]


def test_a_column_dropped_from_a_contract_is_refused(evolved) -> None:
    """With the column in the table, the contract as it was would drop it: refused, saying how."""
    from granary.pipeline.ingest import ingest

    day = date(2026, 4, 3)
    _land(day, _loans(sources.contract("loan").column_names))
    with pytest.raises(DataError, match=r"green_loan.*refuses.*add a new column"):
        ingest(BANK, day, ["loan"])
    assert not tables.day_written(BANK.code, "ods", "loan", day)


# --- a killed write, its rerun, and housekeeping ---------------------------------------------------

KILLED = Tenant(
    code="lakekill", name_zh="测试丁银行", name_en="Test Killed-Write Bank", county_code="341122",
    county_zh="丁县", encoding="utf-8", customers_sf1=100, branches=1,
)  # fmt: skip
KILL_DAY = date(2026, 5, 6)
LOAN_ROWS = 150_000


def _many_loans(balance_cents: int) -> str:
    """LOAN_ROWS valid loans; every tenth one's balance depends on the version."""
    head = ",".join(sources.contract("loan").column_names)
    lines = [head]
    for n in range(1, LOAN_ROWS + 1):
        balance = f"{(balance_cents if n % 10 == 0 else 1_000_000) / 100:.2f}"
        lines.append(f"L{n:012d},C{n:010d},B01,M01,AGRI,A,Y,50000.00,{balance},0.0435,20250101,20270101,0,1")
    return "\n".join(lines) + "\n"


def _day_rows(layer: str) -> dict[str, object]:
    rows = tables.read_days(KILLED.code, layer, "loan", [KILL_DAY], columns=["loan_id", "balance"])
    return {r["loan_id"]: r["balance"] for r in rows.to_pylist()}


CLEAN_LOANS = (
    "import sys; from datetime import date; from granary.core.tenants import Tenant; "
    "from granary.pipeline.clean import clean; "
    "clean(Tenant.model_validate_json(sys.argv[1]), date.fromisoformat(sys.argv[2]), ['loan'])"
)


def _data_files_changing(folder: Path, since: float) -> bool:
    return any(p.stat().st_mtime > since for p in folder.rglob("*.parquet")) if folder.exists() else False


def test_a_killed_clean_leaves_the_old_day_or_the_new_one_and_no_orphan(spark_remote, granary_env) -> None:
    from granary.lake import housekeeping
    from granary.pipeline.clean import clean
    from granary.pipeline.ingest import ingest
    from granary.pipeline.spark import get_session

    path = paths.landing_file(KILLED.code, KILL_DAY, "loan")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_many_loans(2_000_000), encoding="utf-8")
    ingest(KILLED, KILL_DAY, ["loan"])
    clean(KILLED, KILL_DAY, ["loan"])
    old = _day_rows("dwd")
    assert len(old) == LOAN_ROWS
    first = tables.load(KILLED.code, "dwd", "loan").current_snapshot().snapshot_id

    path.write_text(_many_loans(3_000_000), encoding="utf-8")  # a corrected extract
    ingest(KILLED, KILL_DAY, ["loan"])
    new = {
        loan: (balance if int(loan[1:]) % 10 else type(balance)("30000.00")) for loan, balance in old.items()
    }

    data = paths.lake_dir(KILLED.code) / "dwd_loan" / "data"
    started = time.time()
    task = subprocess.Popen(
        [sys.executable, "-c", CLEAN_LOANS, KILLED.model_dump_json(), KILL_DAY.isoformat()],
        env=os.environ.copy(),
    )
    seen = []
    deadline = time.monotonic() + 300
    while not _data_files_changing(data, started) and task.poll() is None and time.monotonic() < deadline:
        seen.append(_day_rows("dwd"))  # a reader meanwhile sees one version or the other
        time.sleep(0.05)
    assert task.poll() is None, "the clean ended before it wrote: make the day bigger"
    task.send_signal(signal.SIGKILL)
    task.wait()
    # The server may finish the killed client's write on its own: wait until the files settle.
    settled = time.monotonic()
    while time.monotonic() - settled < 5 and time.monotonic() < deadline:
        if _data_files_changing(data, time.time() - 1):
            settled = time.monotonic()
        seen.append(_day_rows("dwd"))
        time.sleep(0.2)
    assert seen and all(rows in (old, new) for rows in seen)

    clean(KILLED, KILL_DAY, ["loan"])  # the rerun
    assert _day_rows("dwd") == new

    from granary.lake import diff

    changed = diff.day_diff(KILLED.code, "dwd_loan", KILL_DAY, before=first)
    assert {r["loan_id"] for r in changed.removed} == {r["loan_id"] for r in changed.added}
    assert {r["loan_id"] for r in changed.added} == {loan for loan in old if int(loan[1:]) % 10 == 0}

    housekeeping.housekeep(get_session(), KILLED.code, retain=timedelta(days=7), orphan_grace=timedelta(0))
    for name in ("dwd_loan", "quarantine_loan", "ods_loan"):
        assert housekeeping.orphan_files(KILLED.code, name, timedelta(0)) == [], name
        missing = [p for p in housekeeping.referenced_files(KILLED.code, name) if not Path(p).exists()]
        assert missing == [], name
    assert _day_rows("dwd") == new


# --- the day history's horizon ---------------------------------------------------------------------


def test_history_days_past_the_horizon_are_dropped_after_a_build(granary_env: Path) -> None:
    """expire() drops each history table's days older than the horizon, the index's last, and
    leaves the lake alone (not even a commit) while the index holds no day that old."""
    import pyarrow as pa

    bank, model = "lakehorizon", ("dws", "measure__history")
    newest = date(2026, 6, 30)
    old, kept = newest - timedelta(days=dws_history.HORIZON_DAYS + 1), newest - timedelta(days=1)
    for day in (old, kept):
        tables.write_day_arrow(pa.table({"dt": [day], "value": [1.0]}), bank, *model, day)
        dws_history.record_day(bank, day, [tables.table_name(*model)])
    try:
        assert dws_history.expire(bank, newest) == [tables.table_name(*model), "dws_build_day"]
        for layer_table in (model, dws_history.BUILD_DAY):
            held = tables.read_days(bank, *layer_table, [old, kept], columns=["build_dt"])
            assert held.column("build_dt").to_pylist() == [kept], layer_table
        before = {name: _snapshot_count(bank, name) for name in tables.tables_of(bank)}
        assert dws_history.expire(bank, newest) == []
        assert {name: _snapshot_count(bank, name) for name in before} == before
    finally:
        tables.drop_namespace(bank)


def _snapshot_count(bank: str, name: str) -> int:
    return len(tables.load(bank, *tables.split_name(name)).snapshots())


def test_manifests_are_merged_as_nights_add_them(granary_env: Path) -> None:
    """A day a commit adds a manifest; the table merges them once ten gather, so a year's plan opens
    a few. A table made before the merge properties gets them from housekeeping's convergence."""
    import pyarrow as pa

    from granary.lake import housekeeping

    bank, model = "lakemerge", ("dws", "measure__history")
    first = date(2026, 5, 1)
    try:
        for n in range(24):
            day = first + timedelta(days=n)
            tables.write_day_arrow(pa.table({"dt": [day], "value": [float(n)]}), bank, *model, day)
        table = tables.load(bank, *model)
        assert len(table.current_snapshot().manifests(table.io)) < 10
        held = tables.read_days(bank, *model, [first + timedelta(days=n) for n in range(24)])
        assert sorted(held.column("value").to_pylist()) == [float(n) for n in range(24)]

        with table.transaction() as change:  # as a table made before the properties existed
            change.remove_properties("commit.manifest-merge.enabled")
        assert housekeeping.converge_properties(bank, tables.table_name(*model))
        assert not housekeeping.converge_properties(bank, tables.table_name(*model))
        assert tables.load(bank, *model).properties["commit.manifest-merge.enabled"] == "true"
    finally:
        tables.drop_namespace(bank)
