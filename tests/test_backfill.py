"""Backfill through the CLI: `granary run --from D1 --to D3` runs every step per day, and a rerun
of a middle day leaves every DWD partition byte-identical.

The backfill has its own data root and serving database, so the session's published day
(day_fixtures) is neither read nor overwritten; it shares the session's Spark server and secrets.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from granary.catalog.sources import contracts
from granary.core import config, paths
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import get_tenant
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving

pytestmark = pytest.mark.slow

BANK = "hexi"
D1 = date(2026, 9, 14)
DAYS = [D1 + timedelta(days=i) for i in range(3)]
SERVING_DB = "granary_serving_backfill_test"
GRANARY = Path(sys.executable).with_name("granary")


@pytest.fixture(scope="module")
def backfill_env(
    spark_remote: str, serving_db: str, granary_worker: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment the CLI runs in: own data root, own serving database, session Spark and secrets;
    commands go through the session's worker, as Airflow's tasks do."""
    root = tmp_path_factory.mktemp("backfill")
    env = {
        **os.environ,
        "GRANARY_DATA": str(root),
        "GRANARY_RUN_DIR": str(root / "run"),
        "GRANARY_SERVING_DB": SERVING_DB,
        "GRANARY_WORKER": granary_worker,
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in ("GRANARY_DATA", "GRANARY_RUN_DIR", "GRANARY_SERVING_DB"):
            mp.setenv(name, env[name])
        config.settings.cache_clear()
        drop_serving([get_tenant(BANK)])
        init_serving([get_tenant(BANK)])  # the session's serving_db fixture restores the role after
        yield env
        drop_serving([get_tenant(BANK)])
    config.settings.cache_clear()


def granary(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GRANARY), *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"granary {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def dwd_files() -> dict[str, str]:
    """Every file of every DWD partition of the bank -> its SHA-256."""
    root = paths.lake_dir(BANK) / "dwd"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_backfill_three_days_then_rerun_a_middle_day(backfill_env: dict[str, str]) -> None:
    granary(backfill_env, "generate", "--tenants", BANK, "--date", str(DAYS[-1]), "--days", "3")
    granary(backfill_env, "run", "--tenant", BANK, "--from", str(DAYS[0]), "--to", str(DAYS[-1]))

    for table in contracts():
        found = sorted(p.name for p in paths.dwd_table(BANK, table).glob("dt=*"))
        assert found == [f"dt={d}" for d in DAYS], table
        for day in DAYS:
            assert any(paths.partition(paths.dwd_table(BANK, table), day).glob("*.parquet")), (table, day)
    schema = get_tenant(BANK).serving_schema
    with admin_connect(serving_database(get_tenant(BANK))) as conn:
        published = conn.execute(f"select distinct dt from {schema}.publish_info").fetchall()
        quality_days = conn.execute(f"select distinct dt from {schema}.ads_data_quality").fetchall()
    assert published == [(DAYS[-1],)]
    assert quality_days == [(DAYS[-1],)]  # the published day's quality results travel with it

    before = dwd_files()
    assert len(before) >= 3 * len(contracts())
    granary(backfill_env, "run", "--tenant", BANK, "--date", str(DAYS[1]))
    assert dwd_files() == before
