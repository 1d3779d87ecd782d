"""`granary ops refresh --date D` on the session's published day: the province ops marts hold the
numbers their sources hold (quarantine lake tables, reconciliation files, GX results, the ledger and
bill, publish_info, ops.dag_run), a rerun replaces rather than adds, and a configured bank with no
files for the day is a row saying so.

Costs: two CLI runs and one in-process refresh over the shared `published_day` (~30 s here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from day_fixtures import PublishedDay
from psycopg.rows import dict_row
from support.lake import day_files, day_rows

from granary.core import paths
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import get_tenant
from granary.lake import tables
from granary.province.ledger import monthly_bill, read_ledger
from granary.province.marts import NO_RULE, refresh
from granary.serving.connection import province_reader_password, province_reader_role

pytestmark = pytest.mark.slow

# A configured bank the session never generates: its day is "missing", not an error.
NO_FILES_BANK = "anfeng"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    granary = Path(sys.executable).with_name("granary")
    return subprocess.run([str(granary), *args], capture_output=True, text=True, env=os.environ, timeout=300)


def _rows(query: str, *params: object) -> list[dict]:
    with admin_connect(province_database(), row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def _quarantine_lake(code: str, dt: date) -> Counter[tuple[str, str]]:
    """(table, rule) -> rows, read from the quarantine lake tables themselves (not the reconciliation)."""
    counts: Counter[tuple[str, str]] = Counter()
    prefix = tables.table_name("quarantine", "")
    for name in tables.tables_of(code):
        if not name.startswith(prefix):
            continue
        table = name.removeprefix(prefix)
        for rule, n in Counter(day_rows(code, "quarantine", table, dt).column("_rule").to_pylist()).items():
            counts[(table, rule)] += n
    return counts


@pytest.fixture(scope="module")
def refreshed(published_day: PublishedDay) -> PublishedDay:
    banks = ",".join([*(t.code for t in published_day.tenants), NO_FILES_BANK])
    done = _cli("ops", "refresh", "--date", published_day.dt.isoformat(), "--tenant", banks)
    assert done.returncode == 0, done.stderr[-3000:]
    for t in published_day.tenants:
        assert t.code in done.stdout
    return published_day


def test_quarantined_rows_equal_the_lake(refreshed: PublishedDay) -> None:
    dt = refreshed.dt
    for tenant in refreshed.tenants:
        mart = _rows(
            "select table_name, rule, rows from ops.mart_quarantine where tenant = %s and dt = %s",
            tenant.code,
            dt,
        )
        got = Counter({(r["table_name"], r["rule"]): r["rows"] for r in mart if r["rule"] != NO_RULE})
        assert got == _quarantine_lake(tenant.code, dt)
        recon_dir = paths.reconciliation_file(tenant.code, "_", dt).parent
        recons = {p.stem: json.loads(p.read_text()) for p in recon_dir.glob("*.json")}
        # Every reconciled table has its rows (a zero row when nothing was quarantined).
        assert {r["table_name"] for r in mart} == set(recons)
        (day,) = _rows("select * from ops.mart_bank_day where tenant = %s and dt = %s", tenant.code, dt)
        assert day["rows_quarantined"] == sum(r["rows_quarantined"] for r in recons.values())
        assert day["rows_in"] == sum(r["rows_in"] for r in recons.values())


def test_quality_freshness_and_runs_equal_their_sources(refreshed: PublishedDay) -> None:
    dt = refreshed.dt
    for tenant in refreshed.tenants:
        results = json.loads((paths.quality_dir(tenant.code, dt) / "results.json").read_text())
        mart = _rows("select * from ops.mart_quality where tenant = %s and dt = %s", tenant.code, dt)
        assert {r["table_name"]: (r["expectations"], r["failed"]) for r in mart} == {
            table: (
                sum(r["table_name"] == table for r in results),
                sum(r["table_name"] == table and not r["success"] for r in results),
            )
            for table in {r["table_name"] for r in results}
        }
        (day,) = _rows("select * from ops.mart_bank_day where tenant = %s and dt = %s", tenant.code, dt)
        with admin_connect(serving_database(tenant)) as conn:
            (served,) = conn.execute(f"select max(dt) from {tenant.serving_schema}.publish_info").fetchone()
        assert day["serving_dt"] == served == dt
        assert day["lag_days"] == 0
        assert day["quality_expectations"] == len(results)
        assert day["quality_failed"] == sum(not r["success"] for r in results)
        assert day["landing_files"] == day["landing_expected"] > 0
        runs = _rows(
            "select state from ops.dag_run where tenant = %s and dt = %s order by recorded_at desc",
            tenant.code,
            dt,
        )
        assert day["dag_runs"] == len(runs)
        assert day["dag_state"] == (runs[0]["state"] if runs else "not_run")
        failed = day["dag_state"] == "failed" or day["quality_failed"] > 0
        assert day["status"] == ("failed" if failed else "ok")


def test_external_usage_and_bill_equal_the_ledger(refreshed: PublishedDay) -> None:
    dt = refreshed.dt
    bill = monthly_bill(f"{dt:%Y-%m}")
    for tenant in refreshed.tenants:
        ledger = read_ledger(tenant.code, dt)
        mart = _rows(
            "select provider, product, records, amount from ops.mart_external_usage"
            " where tenant = %s and dt = %s",
            tenant.code,
            dt,
        )
        assert {(r["provider"], r["product"]): (r["records"], r["amount"]) for r in mart} == {
            (r["provider"], r["product"]): (r["records"], r["amount"]) for r in ledger
        }
        assert sum(r["records"] for r in ledger) > 0
        billed = _rows(
            "select provider, product, records, amount from ops.mart_external_bill"
            " where tenant = %s and month = %s",
            tenant.code,
            f"{dt:%Y-%m}",
        )
        assert {(r["provider"], r["product"]): (r["records"], r["amount"]) for r in billed} == {
            (line.provider, line.product): (line.records, line.amount)
            for line in bill.lines
            if line.bank == tenant.code
        }


def test_a_bank_without_files_is_shown_missing(refreshed: PublishedDay) -> None:
    (day,) = _rows(
        "select * from ops.mart_bank_day where tenant = %s and dt = %s", NO_FILES_BANK, refreshed.dt
    )
    assert day["status"] == "missing" and day["status_zh"] == "缺数据"
    assert day["landing_files"] == 0 and day["serving_dt"] is None and day["quality_expectations"] is None
    assert day["dag_state"] == "not_run"


def test_rerun_replaces_the_day(refreshed: PublishedDay) -> None:
    tables = ("mart_bank_day", "mart_quality", "mart_quarantine", "mart_external_usage", "mart_external_bill")

    def counts() -> dict[str, int]:
        return {t: _rows(f"select count(*) as n from ops.{t}")[0]["n"] for t in tables}

    before = counts()
    assert all(before.values())
    refresh(refreshed.tenants, refreshed.dt)
    refresh([refreshed.tenants[0]], refreshed.dt)  # one bank alone replaces only that bank's rows
    assert counts() == before


def test_the_province_reader_only_reads(refreshed: PublishedDay) -> None:
    conninfo = {
        "host": "127.0.0.1",
        "dbname": province_database(),
        "user": province_reader_role(),
        "password": province_reader_password(),
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        (n,) = conn.execute("select count(*) from ops.mart_bank_day").fetchone()
        assert n >= len(refreshed.tenants)
        for statement in (
            "delete from ops.mart_bank_day",
            "create table ops.x (a int)",
            "drop table ops.dag_run",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with pytest.raises(psycopg.OperationalError):  # and no bank's database
        psycopg.connect(**{**conninfo, "dbname": serving_database(get_tenant("qingshan"))})
    with pytest.raises(psycopg.OperationalError):  # nor without its password
        psycopg.connect(**{**conninfo, "password": "wrong"})


def test_the_bank_day_row_is_the_mart_as_ops_states_it():
    """ops.MARTS states the mart's columns once (DDL and writer); the row being built must match."""
    from dataclasses import fields

    from granary.province import ops
    from granary.province.marts import BankDay

    assert [f.name for f in fields(BankDay)] == ops.MARTS["mart_bank_day"].written


def test_storage_is_what_the_lake_and_serving_database_hold(refreshed: PublishedDay) -> None:
    dt = refreshed.dt
    for tenant in refreshed.tenants:
        (day,) = _rows("select * from ops.mart_bank_day where tenant = %s and dt = %s", tenant.code, dt)
        # every file under a dt=<day> directory (DWS history, quality, reconciliation), at whatever
        # depth the folder keeps it ...
        folder_bytes = sum(
            os.path.getsize(os.path.join(root, name))
            for partition, _, _ in os.walk(paths.lake_dir(tenant.code))
            if os.path.basename(partition) == f"dt={dt}"
            for root, _, names in os.walk(partition)
            for name in names
        )
        # ... and every data file that holds the day in the bank's lake tables (no dt= folder there)
        table_bytes = sum(
            os.path.getsize(path)
            for name in tables.tables_of(tenant.code)
            for path in day_files(tenant.code, *name.split("_", 1), dt)
        )
        assert folder_bytes > 0 and table_bytes > 0
        assert day["lake_day_bytes"] == folder_bytes + table_bytes
        assert day["lake_bytes"] > day["lake_day_bytes"]  # the fixture ran earlier days too
        # the lake's tables at a glance: every table, each with a snapshot per day it was written
        assert day["lake_tables"] == len(tables.tables_of(tenant.code)) > 0
        assert day["lake_snapshots"] >= day["lake_tables"] * len(refreshed.days)
        assert day["lake_files"] > 0
        with admin_connect(serving_database(tenant)) as conn:
            (size,) = conn.execute("select pg_database_size(current_database())").fetchone()
        assert 0 < day["serving_bytes"] <= size * 2


def test_on_time_is_the_first_publish_against_the_deadline(refreshed: PublishedDay) -> None:
    """The fixture's days (2025-2026) were published long after their deadlines (business date + 1
    day, 07:00 Beijing): late, each bank, and the 30-day view says so."""
    dt = refreshed.dt
    for tenant in refreshed.tenants:
        (day,) = _rows("select * from ops.mart_bank_day where tenant = %s and dt = %s", tenant.code, dt)
        (first,) = _rows(
            "select min(finished_at) as at from ops.publish_log"
            " where tenant = %s and dt = %s and status = 'ok'",
            tenant.code,
            dt,
        )
        assert day["first_published_at"] == first["at"] is not None
        assert day["deadline_at"] == datetime(dt.year, dt.month, dt.day, 23, 0, tzinfo=UTC)  # +1d 07:00 CST
        assert day["on_time"] is False
        (rate,) = _rows("select * from ops.on_time_30d where tenant = %s", tenant.code)
        assert rate["days_late"] >= 1 and rate["on_time_rate"] == 0
