"""Session fixtures that run a real day: a serving database and two banks published.

Loaded from conftest.py (pytest_plugins). Everything here uses the real engines: Spark
Connect, Great Expectations, dbt on DuckDB, PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from granary.core import config
from granary.core.tenants import Tenant, get_tenant
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving

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
    role; the value is the serving prefix (granary.core.postgres.serving_database names each bank's).

    The roles are this session's own (named under its serving prefix): a demo on the same
    PostgreSQL keeps its roles and credentials.
    """
    os.environ["GRANARY_SERVING_DB"] = TEST_SERVING_DB
    config.settings.cache_clear()
    tenants = [get_tenant(code) for code in BANKS]
    drop_serving(tenants)
    init_serving(tenants)
    yield TEST_SERVING_DB
    drop_serving(tenants)


@pytest.fixture(scope="session")
def granary_worker(granary_env: Path) -> Iterator[str]:
    """The resident worker on the session's run dir (as `granary airflow start` runs it); the value
    is its socket, for a subprocess's GRANARY_WORKER."""
    from granary.stack import worker

    worker.start()
    yield str(worker.socket_path())
    worker.stop()


def _run_bank_days(tenant: Tenant, days: tuple[date, ...], snapshots: Path, worker_socket: str) -> dict:
    """`granary run` for each day in order, the bank's warehouse copied after each day's build."""
    from granary.core import paths

    env = {**os.environ, "GRANARY_WORKER": worker_socket}
    granary = Path(sys.executable).with_name("granary")
    copies = {}
    for day in days:
        args = [str(granary), "run", "--tenant", tenant.code, "--date", day.isoformat()]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{' '.join(args[1:])} exit {done.returncode}:\n{done.stderr[-4000:]}"
        copy = snapshots / f"{tenant.code}-{day.isoformat()}.duckdb"
        shutil.copyfile(paths.warehouse_db(tenant.code), copy)
        copies[(tenant.code, day)] = copy
    return copies


@pytest.fixture(scope="session")
def published_day(spark_remote: str, serving_db: str, granary_env: Path, granary_worker: str) -> PublishedDay:
    """Both banks' days generated, run through every step in order, and published (DAY serves).

    The banks run side by side, each day by the real CLI (through the worker, as Airflow's tasks
    do): one bank's day leaves Spark and the CPU idle half the time, so two overlap well.
    """
    from granary.generate import generate

    tenants = [get_tenant(code) for code in BANKS]
    generate(tenants, list(DAYS), scale=0.01, seed=7)
    snapshots = granary_env / "warehouse-by-day"
    snapshots.mkdir()
    warehouses: dict[tuple[str, date], Path] = {}
    with ThreadPoolExecutor(len(tenants)) as pool:
        for copies in pool.map(lambda t: _run_bank_days(t, DAYS, snapshots, granary_worker), tenants):
            warehouses.update(copies)
    return PublishedDay(DAY, tenants, granary_env, DAYS, warehouses)
