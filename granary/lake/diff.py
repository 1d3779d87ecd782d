"""What a correction changed: one day of a lake table at two snapshots, row by row (time travel)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from granary.core.errors import DataError
from granary.lake import tables


@dataclass
class DayDiff:
    before: int | None  # snapshot ids; None: the day did not exist before
    after: int
    removed: list[dict[str, Any]] = field(default_factory=list)  # rows only in `before`
    added: list[dict[str, Any]] = field(default_factory=list)  # rows only in `after`


def day_diff(
    tenant: str, name: str, dt: date, before: int | None = None, after: int | None = None
) -> DayDiff:
    """The rows of day `dt` only at snapshot `before` and only at `after` (as multisets of rows).

    By default `after` is the current snapshot and `before` the last earlier write of the same day
    in its history (the version a rerun replaced), so a correction's effect is the answer."""
    layer, table = tables.split_name(name)
    iceberg_table = tables.load(tenant, layer, table)
    if iceberg_table is None:
        raise DataError(
            f"no lake table {tables.spark_name(tenant, layer, table)}; name one as <layer>_<table>, "
            "e.g. dwd_loan"
        )
    current = iceberg_table.current_snapshot()
    after = after if after is not None else (current.snapshot_id if current else None)
    if after is None or iceberg_table.snapshot_by_id(after) is None:
        raise DataError(f"{tables.spark_name(tenant, layer, table)} has no snapshot {after}")
    if before is None:
        before = _previous_write(iceberg_table, after, dt)
    elif iceberg_table.snapshot_by_id(before) is None:
        raise DataError(
            f"{tables.spark_name(tenant, layer, table)} has no snapshot {before} (expired after the "
            "installation's snapshot retention, GRANARY_LAKE_SNAPSHOT_RETENTION_DAYS?)"
        )
    old = _rows(iceberg_table, layer, dt, before)
    new = _rows(iceberg_table, layer, dt, after)
    gone, came = Counter(old) - Counter(new), Counter(new) - Counter(old)
    columns = iceberg_table.schema().column_names
    return DayDiff(
        before,
        after,
        removed=[dict(zip(columns, row, strict=True)) for row in sorted(gone.elements(), key=repr)],
        added=[dict(zip(columns, row, strict=True)) for row in sorted(came.elements(), key=repr)],
    )


def _previous_write(iceberg_table, after: int, dt: date) -> int | None:
    """The newest ancestor of `after` (itself excluded) that wrote day `dt`, else its parent."""
    snapshot = iceberg_table.snapshot_by_id(after)
    parent = snapshot.parent_snapshot_id
    walk = parent
    while walk is not None and (ancestor := iceberg_table.snapshot_by_id(walk)) is not None:
        if (ancestor.summary or {}).get(tables.DAY_PROPERTY) == dt.isoformat():
            return walk
        walk = ancestor.parent_snapshot_id
    return parent


def _rows(iceberg_table, layer: str, dt: date, snapshot_id: int | None) -> list[tuple]:
    if snapshot_id is None:
        return []
    scan = iceberg_table.scan(row_filter=tables.day_filter(layer, [dt]), snapshot_id=snapshot_id)
    return [tuple(row.values()) for row in scan.to_arrow().to_pylist()]
