"""The usage ledger of external data (metering) and the monthly bill built from it.

The ledger is the province's lake table `_province.ledger` (granary.lake.province), partitioned
by day. Each bank's routing replaces its own rows of the day, a row per provider product (records
routed, unit price, amount), in one commit. A monthly bill is an aggregate over a month of it
(DuckDB over the month's Arrow rows). The ledger is the province's: removing a bank keeps its rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal

from granary.catalog.providers import Feed
from granary.core.errors import DataError
from granary.lake import province
from granary.lake.province import LEDGER

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
    """Replace the bank's ledger rows of the day (one commit)."""
    import pyarrow as pa

    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=_schema())
    province.replace_bank_day(LEDGER, table, bank, dt)


def ledger_rows(bank: str, dt: date) -> list[dict]:
    """The bank's ledger rows of the day, by provider and product; none if the day was not routed
    (a routed day has a row per product, records or not)."""
    found = province.read(LEDGER, province.bank_day(bank, dt))
    rows = [] if found is None else found.to_pylist()
    return sorted(rows, key=lambda r: (r["provider"], r["product"]))


def read_ledger(bank: str, dt: date) -> list[dict]:
    """The bank's ledger rows of a day it was routed; refused, with what to run, otherwise."""
    rows = ledger_rows(bank, dt)
    if not rows:
        raise DataError(
            f"no ledger rows for {bank} on {dt} in lake table {province.identifier(LEDGER)}; run "
            f"`granary route --tenant {bank} --date {dt}` first"
        )
    return rows


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
    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThanOrEqual

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise DataError(f"'{month}' is not a month; use YYYY-MM, e.g. 2026-11") from None
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    month_filter = And(GreaterThanOrEqual("dt", first.isoformat()), LessThanOrEqual("dt", last.isoformat()))
    if bank is not None:
        month_filter = And(month_filter, EqualTo("bank", bank))
    month_rows = province.read(LEDGER, month_filter)
    if month_rows is None or not month_rows.num_rows:
        return Bill(month, [], {})
    with duckdb.connect() as db:
        db.register("month_rows", month_rows)
        rows = db.execute(
            """
            select bank, provider, product, kind, unit_price,
                   count(distinct dt) as days, sum(records) as records, sum(amount) as amount
            from month_rows
            group by all
            order by bank, provider, product, unit_price
            """
        ).fetchall()
    lines = [
        BillLine(b, p, pr, k, Decimal(u), int(d), int(r), Decimal(a).quantize(CENT))
        for b, p, pr, k, u, d, r, a in rows
    ]
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.bank] = totals.get(line.bank, Decimal("0.00")) + line.amount
    return Bill(month, lines, totals)
