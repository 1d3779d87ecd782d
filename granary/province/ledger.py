"""The usage ledger of external data (metering) and the monthly bill built from it.

Each bank's routing writes one Parquet file per day, `lake/_province/ledger/dt=<dt>/<bank>.parquet`,
with a row per provider product (records routed, unit price, amount), replaced whole by a
rerun. A monthly bill is an aggregate over a month of these files (DuckDB over Parquet).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

from granary.catalog.providers import Feed
from granary.core import paths
from granary.core.errors import DataError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class LedgerRow:
    provider: str
    product: str
    kind: str
    bank: str
    dt: date
    records: int
    unit_price: Decimal  # 元 per record
    amount: Decimal  # records x unit_price, 元
    delivered: bool  # False: the provider's file had not arrived when this bank was routed

    @classmethod
    def of(cls, feed: Feed, bank: str, dt: date, records: int, delivered: bool) -> LedgerRow:
        price = feed.product.unit_price
        return cls(
            feed.provider.code,
            feed.product.code,
            feed.kind,
            bank,
            dt,
            records,
            price,
            (price * records).quantize(CENT),
            delivered,
        )


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("provider", pa.string()),
            ("product", pa.string()),
            ("kind", pa.string()),
            ("bank", pa.string()),
            ("dt", pa.date32()),
            ("records", pa.int64()),
            ("unit_price", pa.decimal128(10, 2)),
            ("amount", pa.decimal128(18, 2)),
            ("delivered", pa.bool_()),
        ]
    )


def write_ledger(bank: str, dt: date, rows: list[LedgerRow]) -> None:
    """Replace the bank's ledger file for the day (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = paths.ledger_file(bank, dt)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=_schema())
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def read_ledger(bank: str, dt: date) -> list[dict]:
    import pyarrow.parquet as pq

    path = paths.ledger_file(bank, dt)
    if not path.is_file():
        raise DataError(f"{path}: no ledger for {bank} on {dt}; run `granary external route` first")
    return pq.read_table(path).to_pylist()


@dataclass(frozen=True)
class BillLine:
    bank: str
    provider: str
    product: str
    kind: str
    unit_price: Decimal
    days: int
    records: int
    amount: Decimal


@dataclass(frozen=True)
class Bill:
    month: str  # YYYY-MM
    lines: list[BillLine]  # bank x provider x product
    totals: dict[str, Decimal]  # bank -> amount

    def as_json(self) -> dict:
        """Money as strings ("12.50"): exact, as finance systems expect."""
        return {
            "month": self.month,
            "lines": [
                {**asdict(line), "unit_price": str(line.unit_price), "amount": str(line.amount)}
                for line in self.lines
            ],
            "totals": {bank: str(amount) for bank, amount in self.totals.items()},
        }


def monthly_bill(month: str, bank: str | None = None) -> Bill:
    """Each bank's usage of each provider product over a calendar month (YYYY-MM)."""
    import duckdb

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise DataError(f"'{month}' is not a month; use YYYY-MM, e.g. 2026-11") from None
    files = sorted(paths.ledger_root().glob(f"dt={first:%Y-%m}-*/*.parquet"))
    if bank is not None:
        files = [f for f in files if f.stem == bank]
    if not files:
        return Bill(month, [], {})
    with duckdb.connect() as db:
        rows = db.execute(
            """
            select bank, provider, product, kind, unit_price,
                   count(distinct dt) as days, sum(records) as records, sum(amount) as amount
            from read_parquet(?, hive_partitioning = false)
            where strftime(dt, '%Y-%m') = ?
            group by all
            order by bank, provider, product, unit_price
            """,
            [[str(f) for f in files], month],
        ).fetchall()
    lines = [
        BillLine(b, p, pr, k, Decimal(u), int(d), int(r), Decimal(a).quantize(CENT))
        for b, p, pr, k, u, d, r, a in rows
    ]
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.bank] = totals.get(line.bank, Decimal("0.00")) + line.amount
    return Bill(month, lines, totals)
