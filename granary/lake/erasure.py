"""A customer's rows out of every table of the bank's lake, and out of every file that held them.

Who the customer is, across layers: their customer id; the keys of their own records (loan ids,
account ids, … from the tables that carry the customer id); their PII tokens (DWD, quarantine,
the day history) and, in ODS, the clear values behind them. A row matching any of these is theirs.
Deleting rewrites the files that held such rows (copy-on-write); the older snapshots still point at
the old files, so every older snapshot is expired, the manifests rewritten (a delete's manifest keeps
the old file's column bounds) and expired again, and whatever no snapshot references is removed.
Time travel before the erasure is gone for the bank's tables that held the customer: that is the point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from granary.catalog.sources import contracts
from granary.core.errors import DataError
from granary.lake import housekeeping, tables
from granary.lake.iceberg import CATALOG, catalog

CUSTOMER_ID = "customer_id"


def customer_columns(columns: Iterable[str]) -> list[str]:
    """The columns that name a customer of the bank: `customer_id`, and the roles one plays
    (`head_customer_id`: the household a customer heads is theirs)."""
    return [c for c in columns if c == CUSTOMER_ID or c.endswith(f"_{CUSTOMER_ID}")]


def _resident_id_columns() -> set[str]:
    """The columns that carry a resident ID number, in clear (ODS) or as its token (`<c>_token`):
    the one identifier a person has across tables, and theirs alone (a name or a phone is not)."""
    clear = {c.name for contract in contracts().values() for c in contract.columns if c.pii == "resident_id"}
    return clear | {f"{c}_token" for c in clear}


@dataclass
class Identity:
    """Every value that singles the customer out in the bank's lake, by column."""

    customer_id: str
    keys: dict[str, set[str]] = field(default_factory=dict)  # loan_id -> the customer's loans, …
    resident_ids: set[str] = field(default_factory=set)  # their ID numbers, clear and as tokens
    other_pii: set[str] = field(default_factory=set)  # their name, phone, address in their own records

    def values(self) -> set[str]:
        """Everything of theirs that must not survive anywhere: for scans after the erasure."""
        return {self.customer_id, *self.resident_ids, *self.other_pii}


def identify(tenant: str, customer_id: str) -> Identity:
    """The customer's identity as the lake knows it, over every day it holds."""
    from pyiceberg.expressions import EqualTo, Or

    found = Identity(customer_id)
    resident = _resident_id_columns()
    pii = {c.name for contract in contracts().values() for c in contract.columns if c.pii}
    pii |= {f"{c}_{suffix}" for c in pii for suffix in ("token", "masked")}
    for name in tables.tables_of(tenant):
        table = catalog().load_table(f"{tenant}.{name}")
        columns = set(table.schema().column_names)
        naming = customer_columns(sorted(columns))
        if not naming:
            continue
        terms = [EqualTo(c, customer_id) for c in naming]
        rows = table.scan(row_filter=terms[0] if len(terms) == 1 else Or(*terms)).to_arrow()
        source = tables.split_name(name)[1]
        keys = contracts()[source].keys if source in contracts() else []
        # A record of the customer's own (a loan, an account) names them as `customer_id` and is
        # known by one key column: rows elsewhere keyed by it are theirs too. Not a household they
        # head (its members' and its own records stay), nor one part of a composite key (a term no).
        if CUSTOMER_ID in naming and len(keys) == 1 and keys[0] in columns and keys[0] not in naming:
            found.keys.setdefault(keys[0], set()).update(v for v in rows.column(keys[0]).to_pylist() if v)
        for column in columns & pii:
            values = {v for v in rows.column(column).to_pylist() if v}
            if column in resident:
                found.resident_ids |= values
            elif CUSTOMER_ID in naming and not column.endswith("_masked"):
                found.other_pii |= values  # the customer's own name, phone, address (not a counterparty's)
    if not (found.resident_ids or found.keys):
        raise DataError(
            f"{tenant}: the lake holds no record of customer {customer_id} (no row of theirs in any "
            "table with a customer_id); check the id, or the erasure was already done"
        )
    return found


def conditions(columns: Iterable[str], identity: Identity) -> list[tuple[str, list[str]]]:
    """(column, values) pairs, any of which makes a row the customer's, for a table's columns."""
    resident = _resident_id_columns()
    out = []
    for column in columns:
        if column in customer_columns([column]):
            out.append((column, [identity.customer_id]))
        elif column in identity.keys and identity.keys[column]:
            out.append((column, sorted(identity.keys[column])))
        elif column in resident and identity.resident_ids:
            out.append((column, sorted(identity.resident_ids)))
    # the day history keeps a customer-grain measure by its member id
    if {"grain", "grain_id"} <= set(columns):
        out.append(("grain_id", [identity.customer_id]))
    return out


def _pyiceberg_filter(matches: list[tuple[str, list[str]]]):
    from pyiceberg.expressions import In, Or

    terms = [In(column, set(values)) for column, values in matches]
    return terms[0] if len(terms) == 1 else Or(*terms)


def sql_filter(matches: list[tuple[str, list[str]]], quote: str = '"') -> str:
    """The matches as one SQL condition (`quote` quotes identifiers: " in PostgreSQL and DuckDB,
    ` in Spark)."""

    def literal(value: object) -> str:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    return " or ".join(
        f"{quote}{column}{quote} in ({', '.join(literal(v) for v in values)})" for column, values in matches
    )


def rows_held(tenant: str, identity: Identity) -> dict[str, int]:
    """Per lake table, how many rows of the customer it holds now (what an erasure would remove)."""
    counts = {}
    for name in tables.tables_of(tenant):
        table = catalog().load_table(f"{tenant}.{name}")
        matches = conditions(table.schema().column_names, identity)
        if matches:
            counts[name] = table.scan(row_filter=_pyiceberg_filter(matches)).to_arrow().num_rows
    return {name: n for name, n in counts.items() if n}


def _expire_all_but_current(spark, tenant: str, name: str) -> None:
    ahead = housekeeping.timestamp_literal(datetime.now(UTC) + timedelta(seconds=1))
    spark.sql(
        f"call {CATALOG}.system.expire_snapshots(table => '{tenant}.{name}', "
        f"older_than => {ahead}, retain_last => 1)"
    ).collect()


def erase(spark, tenant: str, identity: Identity) -> dict[str, int]:
    """Delete the customer's rows from every lake table that holds some, then purge the old files:
    expire every older snapshot, rewrite the manifests, expire again, remove the unreferenced."""
    held = rows_held(tenant, identity)
    for name in held:
        table = catalog().load_table(f"{tenant}.{name}")
        where = sql_filter(conditions(table.schema().column_names, identity), quote="`")
        target = f"{CATALOG}.{tenant}.{name}"
        spark.sql(f"delete from {target} where {where}")
        _expire_all_but_current(spark, tenant, name)
        spark.sql(f"call {CATALOG}.system.rewrite_manifests(table => '{tenant}.{name}')").collect()
        _expire_all_but_current(spark, tenant, name)
        housekeeping.remove_orphans(tenant, name, grace=timedelta(0))
    left = rows_held(tenant, identity)
    if left:
        raise DataError(f"{tenant}: rows of the customer still in {left} after the erasure; rerun it")
    return held
