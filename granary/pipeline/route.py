"""Route the province's provider files to one bank: its customers' records, its usage ledger.

A record goes to the bank if the HMAC token of its resident ID under the bank's key is one
of the tokens in the bank's DWD customer table for the day — the router never sees a bank's
clear IDs, and a record of another bank's customer (or of nobody's) never reaches this bank.
The bank's ext_<kind>.csv files are written whole (header only when nothing matched) in the
bank's encoding, and its ledger rows for the day are replaced: a rerun gives the same files and rows.
"""

from __future__ import annotations

import csv
import hmac
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from granary.catalog.providers import Feed, feeds, kind_table
from granary.core import paths
from granary.core.errors import DataError
from granary.core.secrets import pii_key
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.province.deliveries import Delivery, read_delivery, shown
from granary.province.ledger import LedgerRow, write_ledger

CUSTOMER_TOKEN = "id_number_token"  # DWD customer: token of the resident ID (granary.pipeline.clean)


@dataclass
class RouteResult:
    tenant: str
    dt: str
    routed: dict[str, int] = field(default_factory=dict)  # "<provider>__<product>" -> records
    by_table: dict[str, int] = field(default_factory=dict)
    not_delivered: list[str] = field(default_factory=list)  # province files missing today
    amount: Decimal = Decimal("0.00")


def customer_tokens(tenant: Tenant, dt: date) -> frozenset[str]:
    """The bank's customer resident-ID tokens for the day, from its DWD customer day."""
    rows = tables.read_days(tenant.code, "dwd", "customer", [dt], columns=[CUSTOMER_TOKEN])
    if rows is None or (not rows.num_rows and not tables.day_written(tenant.code, "dwd", "customer", dt)):
        raise DataError(
            f"{tables.spark_name(tenant.code, 'dwd', 'customer')}: no DWD customer day {dt} "
            f"for {tenant.code}; "
            f"external data is routed by the bank's customers — run `granary clean --tenant {tenant.code} "
            f"--date {dt} --source customer` first"
        )
    return frozenset(t for t in rows.column(CUSTOMER_TOKEN).to_pylist() if t)


def matched_rows(delivery: Delivery, key: bytes, tokens: frozenset[str]) -> list[list[str]]:
    """The delivery's records naming one of the bank's customers, with provider and product first."""
    feed = delivery.feed
    at = feed.file_columns.index(feed.match_column)
    head = [feed.provider.code, feed.product.code]
    # hmac.digest is OpenSSL's one-shot HMAC: the same value as granary.pipeline.pii.token, ~3x faster.
    return [
        head + row
        for row in delivery.rows
        if hmac.digest(key, row[at].strip().encode("utf-8"), "sha256").hex() in tokens
    ]


def _write_bank_file(path: Path, header: list[str], rows: list[list[str]], tenant: Tenant) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with tmp.open("w", encoding=tenant.encoding, newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    except UnicodeEncodeError as exc:
        tmp.unlink(missing_ok=True)
        bad = next(r for r in rows if not _encodable(r, tenant.encoding))
        raise DataError(
            f"{shown(path)}: record {bad[0]}/{bad[1]} {bad[2]} has a character "
            f"({exc.object[exc.start : exc.end]!r}) "
            f"that {tenant.code}'s encoding {tenant.encoding} cannot hold; ask the provider to deliver it "
            "in GB 2312 characters"
        ) from None
    os.replace(tmp, path)


def _encodable(row: list[str], encoding: str) -> bool:
    try:
        ",".join(row).encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def route(tenant: Tenant, dt: date, catalog: tuple[Feed, ...] | None = None) -> RouteResult:
    """Route one bank's day of external data: its ext_<kind>.csv files and its ledger rows."""
    catalog = catalog or feeds()
    # Read and check every delivery before writing anything: a malformed file routes nothing.
    deliveries: dict[Feed, Delivery | None] = {}
    bad: list[str] = []
    for feed in catalog:
        try:
            deliveries[feed] = read_delivery(feed, dt)
        except DataError as exc:
            bad.append(str(exc))
    if bad:
        raise DataError(
            f"{tenant.code} {dt}: nothing routed, {len(bad)} malformed provider file(s):\n" + "\n".join(bad)
        )
    tokens = customer_tokens(tenant, dt)
    key = pii_key(tenant.code)
    result = RouteResult(tenant.code, dt.isoformat())
    by_table: dict[str, list[list[str]]] = defaultdict(list)
    ledger: list[LedgerRow] = []
    for feed, delivery in deliveries.items():
        rows = matched_rows(delivery, key, tokens) if delivery else []
        if delivery is None:
            result.not_delivered.append(shown(paths.province_file(dt, feed.file_name)))
        by_table[feed.table].extend(rows)
        result.routed[feed.file_name.removesuffix(".csv")] = len(rows)
        ledger.append(LedgerRow.of(feed, tenant.code, dt, len(rows), delivered=delivery is not None))
    for kind in dict.fromkeys(f.kind for f in catalog):
        table = kind_table(kind)
        contract = next(f.contract for f in catalog if f.table == table)
        rows = sorted(by_table[table], key=lambda r: (r[0], r[1], r[2]))
        _write_bank_file(paths.landing_file(tenant.code, dt, table), contract.column_names, rows, tenant)
        result.by_table[table] = len(rows)
    write_ledger(tenant.code, dt, ledger)
    result.amount = sum((r.amount for r in ledger), Decimal("0.00"))
    return result
