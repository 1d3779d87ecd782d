"""`dag.test()` of one bank's DAG: Airflow runs the real granary CLI for every task in-process.

`airflow dags test` is Airflow's CLI for `dag.test()`; it ignores pools and runs tasks one
at a time. The scheduler itself is exercised in test_airflow_scheduler.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from day_fixtures import PublishedDay

from granary import airflow
from granary.serving import admin_connect, serving_database

pytestmark = pytest.mark.slow


def test_dag_test_runs_one_bank_day_end_to_end(published_day: PublishedDay) -> None:
    tenant = published_day.tenants[1]
    schema = tenant.serving_schema
    with admin_connect(serving_database(tenant)) as conn:
        before = conn.execute(f"select max(published_at) from {schema}.publish_info").fetchone()[0]

    metadata_db = f"granary_airflow_dagtest_{os.getpid()}"
    env = airflow.prepared_env(metadata_db)
    try:
        done = subprocess.run(
            [str(airflow.AIRFLOW_BIN), "dags", "test", tenant.dag_id, published_day.dt.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        with admin_connect("postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{metadata_db}" with (force)')
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for task in ("ingest.loan", "clean.customer", "quality_gate", "dbt_build", "publish"):
        assert task in output

    with admin_connect(serving_database(tenant)) as conn:
        after, day = conn.execute(f"select max(published_at), max(dt) from {schema}.publish_info").fetchone()
    assert after > before, "the DAG's publish task did not publish a new day"
    assert day == published_day.dt
