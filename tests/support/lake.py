"""Reading the lake in tests: a bank's table day as Arrow, through the catalog (granary.lake.tables)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from granary.lake import tables


def day_rows(bank: str, layer: str, table: str, dt: date) -> pa.Table:
    """The day's rows of `lake.<bank>.<layer>_<table>`, without `dt`; the table must exist."""
    rows = tables.read_days(bank, layer, table, [dt])
    assert rows is not None, f"no lake table {tables.spark_name(bank, layer, table)}"
    return rows.drop_columns(["dt"])


def day_files(bank: str, layer: str, table: str, dt: date) -> list[str]:
    """The data files that hold the day (none for an empty day)."""
    return [path for _, path in tables.day_files(bank, layer, table, [dt])]
