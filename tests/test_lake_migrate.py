"""`granary lake migrate`: an installation's Parquet lake (the layout before the catalog) into the
bank's Iceberg tables, checked, and a fourth night built on it.

The old lake is made the way the old writers laid it out, from a published bank's three days: every
ODS, DWD and quarantine day as `lake/<bank>/<layer>/<table>/dt=<day>/part-00000.parquet`, the DWS
day history as `lake/<bank>/dws/<model>/dt=<day>/`, the external data ledger as
`lake/_province/ledger/dt=<day>/<bank>.parquet`. It is given to a bank of its own that has no
lake table yet. Real engines: pyiceberg and the JDBC catalog, then a whole night by the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.cli import granary

from granary.core import config, paths
from granary.core.config import settings
from granary.core.tenants import Tenant, get_tenant
from granary.lake import migrate, tables
from granary.pipeline import dws_history
from granary.province.ledger import ledger_rows, read_ledger
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving

pytestmark = pytest.mark.slow

SOURCE, CODE = "qingshan", "baichuan"  # baichuan: a bank of tenants/ no other test runs


@pytest.fixture(scope="module")
def old_lake(published_day) -> Iterator[dict[tuple[str, object], tuple[int, str]]]:
    """The source bank's days as CODE's Parquet lake; the value: (table, day) -> (rows, content hash)."""
    assert tables.tables_of(CODE) == [], f"{CODE} already has lake tables"
    build_day = tables.table_name(*dws_history.BUILD_DAY)
    originals = {}
    for name in tables.tables_of(SOURCE):
        if name == build_day:
            continue
        layer, table = tables.split_name(name)
        for day in published_day.days:
            rows = tables.read_days(SOURCE, layer, table, [day])
            if not rows.num_rows and not tables.day_written(SOURCE, layer, table, day):
                continue
            rows = rows.drop_columns([tables.day_column(layer)])
            folder = (
                paths.lake_dir(CODE) / layer / table
                if layer in migrate.OLD_LAYERS
                else paths.lake_dir(CODE) / migrate.OLD_HISTORY / name
            ) / f"dt={day}"
            folder.mkdir(parents=True)
            pq.write_table(rows, folder / "part-00000.parquet")
            originals[(name, day)] = (rows.num_rows, migrate.content_hash(rows))
    for day in published_day.days:  # the province's ledger files, as the old router wrote them
        rows = [{**row, "bank": CODE} for row in read_ledger(SOURCE, day)]
        folder = settings().lake_root / paths.PROVINCE / migrate.LEDGER / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{CODE}.parquet")
        originals[("ledger", day)] = (len(rows), migrate.content_hash(pa.Table.from_pylist(rows)))
    yield originals
    tables.drop_namespace(CODE)


def test_migrate_checks_every_day_then_a_fourth_night_builds_on_it(
    old_lake, published_day, spark_remote: str, serving_db: str, granary_worker: str
) -> None:
    from granary.generate import generate

    build_day = tables.table_name(*dws_history.BUILD_DAY)
    ledger = {day: held for (name, day), held in old_lake.items() if name == "ledger"}
    lake_days = {key: held for key, held in old_lake.items() if key[0] != "ledger"}
    assert {name for name, _ in lake_days} == set(tables.tables_of(SOURCE)) - {build_day}
    first = " ".join(granary("lake", "migrate", "--tenants", CODE, worker=granary_worker).stderr.split())
    assert f"{len(lake_days)} table days checked ({len(lake_days)} written, 0 already there)" in first
    assert f"{len(ledger)} ledger days into the province's ledger table" in first
    for day, (count, digest) in ledger.items():
        rows = ledger_rows(CODE, day)
        assert (len(rows), migrate.content_hash(pa.Table.from_pylist(rows))) == (count, digest), day
    assert migrate.old_ledger_files(CODE) == []
    for (name, day), (count, digest) in lake_days.items():
        layer, table = tables.split_name(name)
        rows = tables.read_days(CODE, layer, table, [day]).drop_columns([tables.day_column(layer)])
        assert (rows.num_rows, migrate.content_hash(rows)) == (count, digest), (name, day)
    for layer in (*migrate.OLD_LAYERS, migrate.OLD_HISTORY):
        assert not (paths.lake_dir(CODE) / layer).exists()
    assert dws_history.lake_days(CODE, published_day.dt + timedelta(days=1)) == list(published_day.days)
    again = granary("lake", "migrate", "--tenants", CODE, worker=granary_worker)
    assert "no Parquet lake left to migrate" in again.stderr

    # The fourth night: its own extracts, chained from the migrated history.
    tenant: Tenant = get_tenant(CODE)
    fourth = published_day.dt + timedelta(days=1)
    with pytest.MonkeyPatch.context() as mp:
        # Serving databases of its own prefix: drop_serving also drops the prefix's province database.
        mp.setenv("GRANARY_SERVING_DB", f"granary_serving_migrate_test_{os.getpid()}")
        config.settings.cache_clear()
        drop_serving([tenant])
        init_serving([tenant])
        try:
            generate([tenant], [fourth], scale=0.01, seed=7)
            granary("run", "--tenant", CODE, "--date", fourth.isoformat(), worker=granary_worker)
            assert dws_history.lake_days(CODE, fourth + timedelta(days=1)) == [*published_day.days, fourth]
            history = tables.read_days(CODE, "dws", "measure__history", [fourth])
            assert history.num_rows > 0
        finally:
            drop_serving([tenant])
    config.settings.cache_clear()
