"""The lake's DWS day history: which days it holds, and committing a finished build's day.

dbt models tagged `lake_history` chain from one day to the next: a build reads its own table's
previous lake day (and a period's start or base day), never a year. Each is an Iceberg table named
as its model (`lake.<bank>.dws_measure__history`, …), partitioned by `build_dt`, the business date
of the build that wrote the rows. Only when the whole build passed does `commit` write each model's
day, and then the day's row in `dws_build_day`: a day is a lake day (one a later build chains from)
only once every model holds it, so a failed or half-committed build leaves nothing to chain from.
Why the catalog, and what a day's replacement costs: docs/history.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from granary.lake import migrate, tables
from granary.lake.migrate import MigratedDay

HISTORY_TAG = "lake_history"
# The history a build can reach: a year and a day (year-on-year, a year-to-date's start), with room.
HORIZON_DAYS = 400
# The index of committed days (layer, table): one row per day, written last.
BUILD_DAY = ("dws", "build_day")


def history_models(manifest: Path) -> list[str]:
    """The models dbt's manifest tags `lake_history`, sorted: the tables of the day history."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return sorted(n["name"] for n in nodes if n["resource_type"] == "model" and HISTORY_TAG in n["tags"])


def history_tables(tenant: str, names: list[str] | None = None) -> list[str]:
    """The day history's tables the lake holds for the bank (model names), of `names` when the
    caller listed the bank's tables already."""
    index = tables.table_name(*BUILD_DAY)
    names = tables.tables_of(tenant) if names is None else names
    return [name for name in names if tables.split_name(name)[0] in ("dws", "ads") and name != index]


def lake_days(tenant: str, before: date) -> list[date]:
    """The committed days before `before`, within the horizon, oldest first."""
    window = [before - timedelta(days=n) for n in range(HORIZON_DAYS, 0, -1)]
    return sorted({day for day, _ in tables.day_files(tenant, *BUILD_DAY, window)})


# Models committed side by side: each commit is a table of its own, mostly waiting on files and
# the catalog.
COMMIT_THREADS = 4


def commit(tenant: str, dt: date, models: list[str], write_model: Callable[[str, str, str], None]) -> None:
    """Record a passed build's day: each model's rows (write_model(model, layer, table) replaces
    the model's day from the engine that built it), then the day's index row, then the expiry."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=COMMIT_THREADS) as pool:
        for done in [pool.submit(write_model, model, *tables.split_name(model)) for model in models]:
            done.result()  # the first model that failed stops the day from being recorded
    record_day(tenant, dt, models)
    expire(tenant, dt)


def record_day(tenant: str, dt: date, models: list[str]) -> None:
    """The day's row in the index: from now on it is a lake day."""
    import pyarrow as pa

    row = pa.table(
        {
            "models": pa.array([",".join(models)], pa.string()),
            "committed_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
        }
    )
    tables.write_day_arrow(row, tenant, *BUILD_DAY, dt)


def record_migrated(tenant: str, done: list[MigratedDay]) -> list[date]:
    """After `granary lake migrate`: the old history's days that every model held become lake days."""
    days = migrate.history_days(done)
    models = sorted({m.name for m in done if tables.split_name(m.name)[0] not in migrate.OLD_LAYERS})
    for day in days:
        record_day(tenant, day, models)
    return days


def expire(tenant: str, newest: date) -> list[str]:
    """Drop each history table's days older than the horizon before the newest day built (whole
    files: the tables are partitioned by day, so this is a metadata commit). The index goes last, so
    while it holds no day that old, no table does, and nothing more is looked at."""
    from pyiceberg.expressions import LessThan

    cutoff = (newest - timedelta(days=HORIZON_DAYS)).isoformat()
    index = tables.load(tenant, *BUILD_DAY)
    old_index = LessThan(tables.day_column(BUILD_DAY[0]), cutoff)
    if index is None or not any(True for _ in index.scan(row_filter=old_index).plan_files()):
        return []
    dropped = []
    for name in [*history_tables(tenant), tables.table_name(*BUILD_DAY)]:
        layer, table = tables.split_name(name)
        iceberg_table = tables.load(tenant, layer, table)
        old = LessThan(tables.day_column(layer), cutoff)
        if iceberg_table is not None and any(True for _ in iceberg_table.scan(row_filter=old).plan_files()):
            iceberg_table.delete(old)
            dropped.append(name)
    return dropped
