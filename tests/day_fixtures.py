"""Session fixtures that run a real day: a serving database and two banks published.

Loaded from conftest.py (pytest_plugins). Everything here uses the real engines: Spark
Connect, Great Expectations, dbt on DuckDB, PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from granary import config
from granary.publish import init_serving
from granary.serving import admin_connect
from granary.serving_init import drop_serving
from granary.tenants import Tenant, get_tenant

# Three business days, in the order they run: 2026-01-01 starts a month, a quarter and a year (so
# month-to-date equals the day), 2025-12-31 is the base day of "vs month start" and "vs year start",
# and 2025-01-01 the base of year-on-year. Every period of the indicator catalog has a value on DAY.
DAYS = (date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 1))
DAY = DAYS[-1]
# The two banks every slow test runs; tenants/ holds the whole province.
BANKS = ("qingshan", "hexi")
# Per process, so two test runs on one PostgreSQL (a developer and CI) never collide.
TEST_SERVING_DB = f"granary_serving_test_{os.getpid()}"


@dataclass(frozen=True)
class PublishedDay:
    dt: date  # the last day run, the one serving now
    tenants: list[Tenant]
    data_root: Path
    days: tuple[date, ...]
    # (bank, day) -> a copy of the bank's warehouse taken right after that day's build
    warehouses: dict[tuple[str, date], Path]


@pytest.fixture(scope="session")
def serving_db(granary_env: Path) -> Iterator[str]:
    """Fresh serving databases for the session (a database per bank, the province's), every bank's
    role; the value is the serving prefix (granary.serving.serving_database names each bank's).

    Bank roles are cluster-wide: their password hashes are put back afterwards, so a
    demo on the same PostgreSQL keeps its credentials.
    """
    os.environ["GRANARY_SERVING_DB"] = TEST_SERVING_DB
    config.settings.cache_clear()
    tenants = [get_tenant(code) for code in BANKS]
    drop_serving(tenants)
    with admin_connect(autocommit=True) as conn:
        saved = {
            t.reader_role: conn.execute(
                "select rolpassword from pg_authid where rolname = %s", (t.reader_role,)
            ).fetchone()
            for t in tenants
        }
    init_serving(tenants)
    yield TEST_SERVING_DB
    drop_serving(tenants)
    with admin_connect(autocommit=True) as conn:
        for role, row in saved.items():
            if row is None:
                conn.execute(f'drop role if exists "{role}"')
            elif row[0] is not None:
                conn.execute(f"alter role \"{role}\" password '{row[0]}'")


@pytest.fixture(scope="session")
def published_day(spark_remote: str, serving_db: str, granary_env: Path) -> PublishedDay:
    """Both banks' days generated, run through every step in order, and published (DAY serves)."""
    from granary import paths, pipeline
    from granary.generate import generate

    tenants = [get_tenant(code) for code in BANKS]
    generate(tenants, list(DAYS), scale=0.01, seed=7)
    snapshots = granary_env / "warehouse-by-day"
    snapshots.mkdir()
    warehouses: dict[tuple[str, date], Path] = {}
    for tenant in tenants:
        for day in DAYS:
            pipeline.run_all(tenant, day)
            copy = snapshots / f"{tenant.code}-{day.isoformat()}.duckdb"
            shutil.copyfile(paths.warehouse_db(tenant.code), copy)
            warehouses[(tenant.code, day)] = copy
    return PublishedDay(DAY, tenants, granary_env, DAYS, warehouses)
