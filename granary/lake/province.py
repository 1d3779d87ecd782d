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
from granary.lake.iceberg import catalog, ensure_namespace
from granary.lake.tables import DAY_PROPERTY, table_properties

# 51 banks routing at once: up to 20 retries, backing off from 0.1 s to 5 s, within 5 minutes.
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


def _create(table: str, schema, day_column: str):
    from pyiceberg.exceptions import TableAlreadyExistsError

    ensure_namespace(PROVINCE)  # made by `granary lake init`; an older installation's first writer
    lake = catalog()
    try:
        created = lake.create_table(
            identifier(table),
            schema=schema,
            location=f"{lake.properties['warehouse']}/{PROVINCE}/{table}",
            properties={**table_properties(table), **COMMIT_RETRIES},
        )
        with created.update_spec() as spec:
            spec.add_identity(day_column)
    except TableAlreadyExistsError:  # another bank's writer created it first
        pass
    return load(table)


def replace_bank_day(table: str, rows, bank: str, dt: date, day_column: str = "dt") -> None:
    """Replace the bank's rows of day `dt` in the province table with Arrow `rows` (which carry the
    `bank` and day columns), in one commit; the other banks' rows of the day stay as they are."""
    from pyiceberg.expressions import And, EqualTo

    where = And(EqualTo(day_column, dt.isoformat()), EqualTo("bank", bank))
    province_table = load(table) or _create(table, rows.schema, day_column)
    with warnings.catch_warnings():  # a first routing has nothing to replace
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        province_table.overwrite(
            rows, overwrite_filter=where, snapshot_properties={DAY_PROPERTY: dt.isoformat()}
        )


def read(table: str, row_filter):  # -> pyarrow.Table | None (None: nothing was ever written)
    province_table = load(table)
    return None if province_table is None else province_table.scan(row_filter=row_filter).to_arrow()
