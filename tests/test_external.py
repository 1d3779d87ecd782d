"""External data, one-point access: province provider files routed to each bank, metered, billed.

Real Spark Connect ingest/clean of the two banks' customers, then routing by each bank's own
PII tokens; the routed tables go through ingest and clean like any source.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support.lake import day_rows
from typer.testing import CliRunner

from granary.catalog.providers import Feed, feeds, provider_catalog
from granary.catalog.sources import tables_of
from granary.core import paths
from granary.core.errors import DataError
from granary.core.secrets import pii_key
from granary.core.tenants import Tenant, get_tenant
from granary.lake import tables
from granary.pipeline import run as pipeline
from granary.pipeline.pii import token
from granary.pipeline.route import customer_tokens, route
from granary.province.ledger import ledger_rows, monthly_bill, read_ledger

# Days of their own (not the published_day fixture's), in one month, so the bill is this test's.
DAYS = (date(2026, 10, 30), date(2026, 10, 31))
MONTH = "2026-10"
BAD_DAY = date(2026, 10, 29)
UNDELIVERED_DAY = date(2026, 9, 30)  # no provider has delivered
CLEAR_ID = re.compile(r"\b\d{17}[\dX]\b")

pytestmark = pytest.mark.slow


def bank(code: str) -> Tenant:
    return get_tenant(code)


def province_rows(feed: Feed, dt: date) -> list[dict[str, str]]:
    with paths.province_file(dt, feed.file_name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def bank_rows(tenant: Tenant, table: str, dt: date) -> list[dict[str, str]]:
    with paths.landing_file(tenant.code, dt, table).open(encoding=tenant.encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def feed_rows(tenant: Tenant, feed: Feed, dt: date) -> list[dict[str, str]]:
    """The bank's routed records that came from one provider product."""
    product = (feed.provider.code, feed.product.code)
    return [r for r in bank_rows(tenant, feed.table, dt) if (r["provider"], r["product"]) == product]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def routed_output(tenant: Tenant, dt: date) -> tuple[dict[str, str], list[dict]]:
    """The bank's routed files (digests) and ledger rows of the day."""
    files = [paths.landing_file(tenant.code, dt, t) for t in tables_of("external")]
    return {p.name: digest(p) for p in files}, ledger_rows(tenant.code, dt)


@pytest.fixture(scope="module")
def routed(spark_remote: str, granary_env: Path) -> dict[str, Tenant]:
    """Both banks: extracts and provider files generated, customers cleaned, external data routed.

    The GBK bank's routed tables of the first day are ingested and cleaned; so are the other
    bank's on a day no provider delivered (its customers copied from the first day)."""
    from granary.generate import generate
    from granary.generate.external import generate_provider_files

    banks = {code: bank(code) for code in ("qingshan", "hexi")}
    generate(list(banks.values()), list(DAYS), scale=0.01, seed=11)
    generate_provider_files(list(banks.values()), list(DAYS), scale=0.01, seed=11)
    for tenant in banks.values():
        for dt in DAYS:
            pipeline.run_step("ingest", tenant, dt, ["customer"])
            pipeline.run_step("clean", tenant, dt, ["customer"])
            pipeline.run_step("route", tenant, dt)
    customers = day_rows("qingshan", "dwd", "customer", DAYS[0])
    assert customers.num_rows > 0
    tables.write_day_arrow(customers, "qingshan", "dwd", "customer", UNDELIVERED_DAY)
    pipeline.run_step("route", banks["qingshan"], UNDELIVERED_DAY)
    for code, dt in (("hexi", DAYS[0]), ("qingshan", UNDELIVERED_DAY)):
        pipeline.run_step("ingest", banks[code], dt, tables_of("external"))
        pipeline.run_step("clean", banks[code], dt, tables_of("external"))
    return banks


def test_the_catalog_has_eight_providers_of_six_kinds() -> None:
    catalog = provider_catalog()
    assert len(catalog.providers) == 8
    assert set(catalog.kinds) == {
        "litigation",
        "credit_report",
        "card_consumption",
        "telecom",
        "enterprise_tax",
        "government",
    }
    assert {f.kind for f in feeds()} == set(catalog.kinds)
    assert sorted(tables_of("external")) == sorted(f"ext_{k}" for k in catalog.kinds)
    assert all(f.product.unit_price > 0 and f.file_name.count("__") == 1 for f in feeds())


def test_each_bank_gets_only_its_own_customers(routed: dict[str, Tenant]) -> None:
    dt = DAYS[0]
    own_total = 0
    for code, tenant in routed.items():
        other = routed["hexi" if code == "qingshan" else "qingshan"]
        own, others = customer_tokens(tenant, dt), customer_tokens(other, dt)
        for feed in feeds():
            mine = feed_rows(tenant, feed, dt)
            ids = [r[feed.match_column] for r in mine]
            own_total += len(ids)
            assert all(token(pii_key(code), i) in own for i in ids), (code, feed.file_name)
            assert not any(token(pii_key(other.code), i) in others for i in ids), (code, feed.file_name)
            # Exactly the province records that name one of this bank's customers: nobody else's.
            province = province_rows(feed, dt)
            expected = sorted(
                r["record_id"] for r in province if token(pii_key(code), r[feed.match_column]) in own
            )
            assert sorted(r["record_id"] for r in mine) == expected
    assert own_total > 50


def test_non_customers_are_dropped(routed: dict[str, Tenant]) -> None:
    dt = DAYS[0]
    routed_ids = {
        r[f.match_column] for t in routed.values() for f in feeds() for r in bank_rows(t, f.table, dt)
    }
    province_ids = {r[f.match_column] for f in feeds() for r in province_rows(f, dt)}
    nobody = {i for i in province_ids if i[:6] not in {t.county_code for t in routed.values()}}
    assert nobody, "the provider files hold people who are no bank's customer"
    assert not nobody & routed_ids
    assert routed_ids < province_ids


def test_clear_ids_stay_out_of_dwd_and_reconciliation_balances(routed: dict[str, Tenant]) -> None:
    code, tenant, dt = "hexi", routed["hexi"], DAYS[0]
    assert sum(len(bank_rows(tenant, t, dt)) for t in tables_of("external")) > 10
    # One bank is enough here: the GBK one, the harder encoding.
    for table in tables_of("external"):
        landed = bank_rows(tenant, table, dt)
        dwd = day_rows(code, "dwd", table, dt).to_pylist()
        recon = json.loads(paths.reconciliation_file(code, table, dt).read_text(encoding="utf-8"))
        assert recon["rows_in"] == len(landed) == recon["rows_clean"] + recon["rows_quarantined"]
        assert len(dwd) == recon["rows_clean"]
        for row in dwd:
            clear_values = [v for v in row.values() if isinstance(v, str) and CLEAR_ID.search(v)]
            assert not clear_values, table
        pii = [c for c in landed[0] if c.endswith("id_number")] if landed else []
        for column in pii:
            assert column not in (dwd[0] if dwd else {})
            clear = {r[column] for r in landed}
            assert {r[f"{column}_token"] for r in dwd} <= {token(pii_key(code), v) for v in clear}


def test_the_ledger_meters_what_was_routed(routed: dict[str, Tenant]) -> None:
    for code, tenant in routed.items():
        for dt in DAYS:
            ledger = {(r["provider"], r["product"]): r for r in read_ledger(code, dt)}
            assert len(ledger) == len(feeds())
            for feed in feeds():
                row = ledger[(feed.provider.code, feed.product.code)]
                sent = Counter((r["provider"], r["product"]) for r in bank_rows(tenant, feed.table, dt))
                assert row["records"] == sent[(feed.provider.code, feed.product.code)]
                assert row["unit_price"] == feed.product.unit_price
                assert row["amount"] == feed.product.unit_price * row["records"]
                assert (row["bank"], row["dt"], row["kind"], row["delivered"]) == (code, dt, feed.kind, True)


def test_rerouting_is_idempotent(routed: dict[str, Tenant]) -> None:
    tenant, dt = routed["hexi"], DAYS[1]
    before = routed_output(tenant, dt)
    province = {p.name: digest(p) for p in paths.province_landing_dir(dt).iterdir()}
    route(tenant, dt)
    assert routed_output(tenant, dt) == before
    assert {p.name: digest(p) for p in paths.province_landing_dir(dt).iterdir()} == province


def test_the_monthly_bill_sums_the_days(routed: dict[str, Tenant]) -> None:
    from granary.cli.app import app

    bill = monthly_bill(MONTH)
    assert {line.bank for line in bill.lines} == set(routed)
    for code in routed:
        ledger = [r for dt in DAYS for r in read_ledger(code, dt)]
        for line in (li for li in bill.lines if li.bank == code):
            days = [r for r in ledger if (r["provider"], r["product"]) == (line.provider, line.product)]
            assert line.days == 2
            assert line.records == sum(r["records"] for r in days)
            assert line.amount == sum(r["amount"] for r in days)
        assert bill.totals[code] == sum((r["amount"] for r in ledger), Decimal(0))
    assert bill.totals["qingshan"] > 0

    result = CliRunner().invoke(app, ["external", "bill", "--month", MONTH, "--tenant", "hexi", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown["totals"]) == {"hexi"}
    assert Decimal(shown["totals"]["hexi"]) == bill.totals["hexi"]
    assert monthly_bill("2026-08").lines == []


def test_housekeeping_the_province_keeps_the_ledger(routed: dict[str, Tenant]) -> None:
    """The ledger takes a commit per bank and day: housekeeping expires its old snapshots (here all
    but the current one) and compacts its files, and every bank's rows and the bill stay the same."""
    from granary.lake import housekeeping, province
    from granary.pipeline.spark import get_session

    before = {(code, dt): ledger_rows(code, dt) for code in routed for dt in DAYS}
    bill = monthly_bill(MONTH)
    started_ms = time.time() * 1000
    done = housekeeping.housekeep(get_session(), paths.PROVINCE, timedelta(0), orphan_grace=timedelta(0))
    assert [u.table for u in done] == ["ledger"] and done[0].snapshots_expired > 0
    # one snapshot from before stays (the current one then); the compactions' are new
    assert len([s for s in province.load("ledger").snapshots() if s.timestamp_ms < started_ms]) == 1
    assert {(code, dt): ledger_rows(code, dt) for code in routed for dt in DAYS} == before
    assert monthly_bill(MONTH) == bill


def test_a_malformed_provider_file_fails_naming_file_and_row(routed: dict[str, Tenant]) -> None:
    tenant = routed["qingshan"]
    source, target = paths.province_landing_dir(DAYS[0]), paths.province_landing_dir(BAD_DAY)
    shutil.copytree(source, target)
    feed = next(f for f in feeds() if f.kind == "credit_report")
    bad = paths.province_file(BAD_DAY, feed.file_name)
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(3, "ZH2026102900009999,341021198001010011,20261029,1,2\n")  # data row 3: too few fields
    bad.write_text("".join(lines), encoding="utf-8")
    raw = digest(bad)
    with pytest.raises(DataError) as failed:
        route(tenant, BAD_DAY)
    message = str(failed.value)
    assert f"landing/_province/{BAD_DAY}/{feed.file_name}" in message
    assert "row 3 " in message and "5 fields" in message
    assert digest(bad) == raw
    assert not paths.landing_dir(tenant.code, BAD_DAY).exists()
    assert ledger_rows(tenant.code, BAD_DAY) == []


def test_a_day_without_deliveries_is_empty_but_valid(routed: dict[str, Tenant]) -> None:
    code, dt = "qingshan", UNDELIVERED_DAY
    for row in read_ledger(code, dt):
        assert (row["records"], row["amount"], row["delivered"]) == (0, 0, False)
    for table in tables_of("external"):
        header = paths.landing_file(code, dt, table).read_text(encoding="utf-8").splitlines()
        assert len(header) == 1
        assert tables.day_written(code, "dwd", table, dt), table  # written, empty
        dwd = day_rows(code, "dwd", table, dt)
        assert dwd.num_rows == 0 and "_source_row" in dwd.column_names, table
        recon = json.loads(paths.reconciliation_file(code, table, dt).read_text(encoding="utf-8"))
        assert (recon["rows_in"], recon["rows_clean"], recon["rows_quarantined"]) == (0, 0, 0)
