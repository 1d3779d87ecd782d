"""The province's own lake tables: records across banks that outlive any one bank (the external
data ledger), in the namespace `_province` (no bank code starts with `_`).

Each bank's writer replaces its own rows of a day; banks route at the same time, so a commit that
finds the table moved on since it was loaded is retried on the new version (Iceberg's optimistic
concurrency: the loser refreshes and commits again, nothing is lost or doubled). How often and how
long is the table's own `commit.retry.*` properties, which every Iceberg writer honours.
"""

from __future__ import annotations

import warnings
from datetime import date

from granary.core.paths import PROVINCE
from granary.lake.iceberg import catalog
from granary.lake.tables import DAY_PROPERTY, create_day_table, table_properties

# 51 banks routing at once: up to 20 retries, backing off from 0.1 s to 5 s, within 5 minutes.
LEDGER = "ledger"  # the external data ledger (granary.province.ledger)
COMMIT_RETRIES = {
    "commit.retry.num-retries": "20",
    "commit.retry.min-wait-ms": "100",
    "commit.retry.max-wait-ms": "5000",
    "commit.retry.total-timeout-ms": "300000",
}


def identifier(table: str) -> str:
    return f"{PROVINCE}.{table}"


def load(table: str):  # -> pyiceberg.table.Table | None
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog().load_table(identifier(table))
    except NoSuchTableError:
        return None


def bank_day(bank: str, dt: date):  # -> a pyiceberg row filter
    """The bank's rows of day `dt` in a province table (partitioned by `dt`, a `bank` column)."""
    from pyiceberg.expressions import And, EqualTo

    return And(EqualTo("dt", dt.isoformat()), EqualTo("bank", bank))


def replace_bank_day(table: str, rows, bank: str, dt: date) -> None:
    """Replace the bank's rows of day `dt` in the province table with Arrow `rows` (which carry the
    `bank` and `dt` columns), in one commit; the other banks' rows of the day stay as they are."""
    if load(table) is None:
        create_day_table(PROVINCE, table, rows.schema, "dt", {**table_properties(table), **COMMIT_RETRIES})
    province_table = load(table)
    with warnings.catch_warnings():  # a first routing has nothing to replace
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        province_table.overwrite(
            rows, overwrite_filter=bank_day(bank, dt), snapshot_properties={DAY_PROPERTY: dt.isoformat()}
        )


def read(table: str, row_filter):  # -> pyarrow.Table | None (None: nothing was ever written)
    province_table = load(table)
    return None if province_table is None else province_table.scan(row_filter=row_filter).to_arrow()
