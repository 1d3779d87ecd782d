"""An installation's Parquet lake, from before the catalog, converted into the bank's tables in place.

The old layout: `lake/<bank>/{ods,dwd,quarantine}/<table>/dt=<day>/*.parquet`, and the DWS day history
`lake/<bank>/dws/<model>/dt=<day>/*.parquet`. Each folder becomes that day of its table, one commit a
day (pyiceberg), then is checked: the table's day has the folder's row count and the same rows (a
content hash, order aside). A day already migrated with the same rows is left as it is, so a run that
stopped goes on where it was and a second run changes nothing. Only when every day of the bank
checked out are the old folders removed.

The province's external data ledger moves the same way: `lake/_province/ledger/dt=<day>/<bank>.parquet`
becomes the bank's rows of the day in the province table `_province.ledger`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from granary.catalog.sources import contracts
from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError
from granary.lake import province, tables
from granary.lake.province import LEDGER

OLD_LAYERS = ("ods", "dwd", "quarantine")
OLD_HISTORY = "dws"


@dataclass(frozen=True)
class OldDay:
    layer: str
    table: str
    day: date
    folder: Path


@dataclass(frozen=True)
class MigratedDay:
    name: str  # the lake table, `<layer>_<table>`
    day: date
    rows: int
    already: bool  # migrated by an earlier run: nothing written


def old_days(tenant: str) -> list[OldDay]:
    """Every day folder of the bank's Parquet lake, oldest first."""
    lake = paths.lake_dir(tenant)
    found = []
    for layer in OLD_LAYERS:
        for folder in sorted((lake / layer).glob("*/dt=*")):
            found.append(OldDay(layer, folder.parent.name, date.fromisoformat(folder.name[3:]), folder))
    for folder in sorted((lake / OLD_HISTORY).glob("*/dt=*")):
        layer, table = tables.split_name(folder.parent.name)
        found.append(OldDay(layer, table, date.fromisoformat(folder.name[3:]), folder))
    return sorted(found, key=lambda d: (d.day, d.layer, d.table))


def content_hash(rows) -> str:  # rows: pyarrow.Table
    """The rows, whatever their order or column order: what a migrated day must hold."""
    lines = sorted(json.dumps(row, sort_keys=True, default=str) for row in rows.to_pylist())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def read_old_day(old: OldDay):
    """A day folder's rows as Arrow, as the old readers took them (the day from the folder's name;
    timestamps in microseconds, Iceberg's unit)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(old.folder.glob("*.parquet"))
    parts = [pq.read_table(f) for f in files]
    rows = pa.concat_tables(parts, promote_options="default") if parts else None
    if rows is None:
        raise DataError(f"{old.folder}: a day folder without a Parquet file; restore it or remove it")
    column = tables.day_column(old.layer)
    if column in rows.column_names:  # the old history files kept a `dt` of their own, never build_dt
        rows = rows.drop_columns([column])
    fields = []
    for field in rows.schema:
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            field = pa.field(field.name, pa.timestamp("us", tz=field.type.tz or "UTC"), field.nullable)
        fields.append(field)
    return rows.cast(pa.schema(fields))


def migrate(tenant: str, on_day: Callable[[MigratedDay], None] = lambda _: None) -> list[MigratedDay]:
    """Every old day of the bank into its table, each checked; then the old folders removed."""
    done = [_migrate_day(tenant, old) for old in old_days(tenant)]
    for migrated in done:
        on_day(migrated)
    for folder in _old_folders(tenant):
        shutil.rmtree(folder)
    return done


def _migrate_day(tenant: str, old: OldDay) -> MigratedDay:
    rows = read_old_day(old)
    expected = content_hash(rows)
    name = tables.table_name(old.layer, old.table)
    if _holds(tenant, old, rows.num_rows, expected):
        return MigratedDay(name, old.day, rows.num_rows, already=True)
    pii = [c.name for c in contracts()[old.table].columns if c.pii] if old.layer == "ods" else []
    tables.write_day_arrow(rows, tenant, old.layer, old.table, old.day, pii=pii)
    if not _holds(tenant, old, rows.num_rows, expected):
        raise DataError(
            f"{old.folder}: the migrated day of {tables.spark_name(tenant, old.layer, old.table)} does not "
            "hold the folder's rows; the old folder is kept. Run `granary lake migrate` again"
        )
    return MigratedDay(name, old.day, rows.num_rows, already=False)


def _holds(tenant: str, old: OldDay, count: int, expected: str) -> bool:
    """The table holds the day as the folder did (an empty day too: written, with no row)."""
    migrated = tables.read_days(tenant, old.layer, old.table, [old.day])
    if migrated is None or migrated.num_rows != count:
        return False
    if not count and not tables.day_written(tenant, old.layer, old.table, old.day):
        return False
    return content_hash(migrated.drop_columns([tables.day_column(old.layer)])) == expected


def history_days(done: list[MigratedDay]) -> list[date]:
    """The days every migrated history table holds: the old lake's days a build chains from."""
    by_table: dict[str, set[date]] = {}
    for migrated in done:
        if tables.split_name(migrated.name)[0] not in OLD_LAYERS:
            by_table.setdefault(migrated.name, set()).add(migrated.day)
    return sorted(set.intersection(*by_table.values())) if by_table else []


def _old_folders(tenant: str) -> Iterator[Path]:
    lake = paths.lake_dir(tenant)
    for layer in (*OLD_LAYERS, OLD_HISTORY):
        if (lake / layer).is_dir():
            yield lake / layer


def old_ledger_files(tenant: str) -> list[tuple[date, Path]]:
    """The bank's old ledger files, `lake/_province/ledger/dt=<day>/<bank>.parquet`, oldest first."""
    root = settings().lake_root / paths.PROVINCE / LEDGER
    return [(date.fromisoformat(f.parent.name[3:]), f) for f in sorted(root.glob(f"dt=*/{tenant}.parquet"))]


def migrate_ledger(tenant: str) -> int:
    """The bank's old ledger files into the province table, each day checked (rows and content), then
    removed (and the day folders they leave empty). Returns the days migrated."""
    import pyarrow.parquet as pq

    found = old_ledger_files(tenant)
    for day, file in found:
        rows = pq.read_table(file)
        province.replace_bank_day(LEDGER, rows, tenant, day)
        held = province.read(LEDGER, province.bank_day(tenant, day))
        if held is None or content_hash(held) != content_hash(rows):
            raise DataError(
                f"{file}: the migrated ledger day in {province.identifier(LEDGER)} does not hold the "
                "file's rows; the file is kept. Run `granary lake migrate` again"
            )
    for _, file in found:
        file.unlink()
        if not any(file.parent.iterdir()):
            file.parent.rmdir()
    return len(found)
