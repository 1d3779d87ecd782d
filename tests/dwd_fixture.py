"""Hand-written DWD fixtures: the schema `granary clean` writes for a source contract.

Tests that build dbt from a few hand-made tables write every other contract table as an empty
day with this schema (through the lake catalog, as pyiceberg commits), so the models read them as a
bank that has no such rows that day.
"""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa

from granary.catalog.sources import SourceContract, code_tables, contracts
from granary.lake import tables


def _arrow_type(column) -> pa.DataType:
    if column.codes and all(isinstance(v, bool) for v in code_tables()[column.codes].values.values()):
        return pa.bool_()
    if decimal := re.match(r"decimal\((\d+),(\d+)\)", column.type):
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    return {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),  # Iceberg's timestamptz, as Spark writes it
    }[column.type]


def dwd_schema(contract: SourceContract) -> pa.Schema:
    """Columns in contract order; a PII column becomes <name>_token and <name>_masked; then _source_row."""
    fields: list[pa.Field] = []
    for column in contract.columns:
        if column.pii:
            fields += [
                pa.field(f"{column.name}_token", pa.string()),
                pa.field(f"{column.name}_masked", pa.string()),
            ]
        else:
            fields.append(pa.field(column.name, _arrow_type(column)))
    return pa.schema([*fields, pa.field("_source_row", pa.int64())])


def write_empty_dwd(bank: str, day: date, skip: set[str]) -> None:
    """An empty day for every contract table not in `skip`."""
    for table, contract in contracts().items():
        if table not in skip:
            tables.write_day_arrow(dwd_schema(contract).empty_table(), bank, "dwd", table, day)
