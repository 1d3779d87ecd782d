"""Session fixtures that run a real day: a serving database and two banks published.

Loaded from conftest.py (pytest_plugins). Everything here uses the real engines: Spark
Connect, Great Expectations, dbt on DuckDB, PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from granary import config
from granary.publish import init_serving
from granary.serving import admin_connect
from granary.tenants import Tenant, get_tenant

DAY = date(2026, 11, 20)
# The two banks every slow test runs; tenants/ holds the whole province.
BANKS = ("qingshan", "hexi")
# Per process, so two test runs on one PostgreSQL (a developer and CI) never collide.
TEST_SERVING_DB = f"granary_serving_test_{os.getpid()}"


@dataclass(frozen=True)
class PublishedDay:
    dt: date
    tenants: list[Tenant]
    data_root: Path


@pytest.fixture(scope="session")
def serving_db(granary_env: Path) -> Iterator[str]:
    """A fresh serving database for the session, with every bank's role.

    Bank roles are cluster-wide: their password hashes are put back afterwards, so a
    demo on the same PostgreSQL keeps its credentials.
    """
    os.environ["GRANARY_SERVING_DB"] = TEST_SERVING_DB
    config.settings.cache_clear()
    tenants = [get_tenant(code) for code in BANKS]
    with admin_connect("postgres", autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_SERVING_DB} with (force)")
        saved = {
            t.reader_role: conn.execute(
                "select rolpassword from pg_authid where rolname = %s", (t.reader_role,)
            ).fetchone()
            for t in tenants
        }
    init_serving(tenants)
    yield TEST_SERVING_DB
    with admin_connect("postgres", autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_SERVING_DB} with (force)")
        for role, row in saved.items():
            if row is None:
                conn.execute(f'drop role if exists "{role}"')
            elif row[0] is not None:
                conn.execute(f"alter role \"{role}\" password '{row[0]}'")


@pytest.fixture(scope="session")
def published_day(spark_remote: str, serving_db: str, granary_env: Path) -> PublishedDay:
    """Both banks' day generated, run through every step, and published."""
    from granary import pipeline
    from granary.generate import generate

    tenants = [get_tenant(code) for code in BANKS]
    generate(tenants, [DAY], scale=0.01, seed=7)
    for tenant in tenants:
        pipeline.run_all(tenant, DAY)
    return PublishedDay(DAY, tenants, granary_env)
