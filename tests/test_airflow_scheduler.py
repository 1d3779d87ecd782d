"""The real Airflow stack (api-server, scheduler, dag-processor, LocalExecutor) on Postgres.

This test is about the scheduler, not the pipeline: the DAGs are the real factory's, but
GRANARY_BIN points at a small stand-in script written here that succeeds or fails per bank
and step and records each call. That stand-in is acceptable only in this test; every other
test runs the real `granary` CLI. The stack gets its own metadata database
(`granary_airflow_test`, dropped first), its own AIRFLOW_HOME in tmp and a free port, so it
never touches a running demo.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from granary import airflow, config
from granary.catalog.sources import contracts
from granary.tenants import load_tenants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

TEST_DB = f"granary_airflow_test_{os.getpid()}"
DAY = date(2024, 6, 30)
GOOD, BAD = "alpha", "beta"
REASON = "quality gate failed for beta: dwd.customer.id_number 3 rows fail resident_id_check"

STAND_IN_CLI = textwrap.dedent(
    """\
    #!/bin/bash
    # Stand-in for `granary <verb> --tenant T --date D [--source S]` (scheduler test only).
    verb=$1; tenant=$3; day=$5; source=$7
    echo "$verb $tenant $day $source mark=$GRANARY_TEST_MARK" >> "{calls}"
    echo "granary $verb for $tenant on $day"
    if [ "$tenant" = "{bad}" ] && [ "$verb" = "validate" ] && [ ! -e "{fixed}" ]; then
        echo "error: {reason}" >&2
        exit 3
    fi
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bank_yaml(code: str, slots: int, schedule: str) -> str:
    return textwrap.dedent(
        f"""\
        code: {code}
        name_zh: {code}农村商业银行
        name_en: {code.title()} Rural Commercial Bank
        county_code: "340001"
        county_zh: 测试县
        customers_sf1: 1000
        branches: 2
        airflow:
          pool_slots: {slots}
          priority_weight: 1
          retries: 2
          schedule: "{schedule}"
        """
    )


def _drop_database(db: str) -> None:
    with psycopg.connect(config.settings().pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{db}" with (force)')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("airflow")
    tenants_dir = root / "tenants"
    tenants_dir.mkdir()
    (tenants_dir / f"{GOOD}.yaml").write_text(_bank_yaml(GOOD, 2, "@daily"), encoding="utf-8")
    (tenants_dir / f"{BAD}.yaml").write_text(_bank_yaml(BAD, 3, "None"), encoding="utf-8")
    calls, fixed = root / "calls.log", root / "fixed"
    cli = root / "granary"
    cli.write_text(STAND_IN_CLI.format(calls=calls, fixed=fixed, bad=BAD, reason=REASON), encoding="utf-8")
    cli.chmod(0o755)

    saved = dict(os.environ)
    os.environ.update(
        {
            "GRANARY_DATA": str(root / "data"),
            "GRANARY_RUN_DIR": str(root / "run"),
            "GRANARY_SECRETS_DIR": str(root / "secrets"),
            "GRANARY_TENANTS_DIR": str(tenants_dir),
            "GRANARY_AIRFLOW_URL": f"http://127.0.0.1:{_free_port()}",
            "GRANARY_BIN": str(cli),
            "GRANARY_TEST_MARK": "from-the-caller",
        }
    )
    config.settings.cache_clear()
    _drop_database(TEST_DB)
    started = time.perf_counter()
    try:
        airflow.start(metadata_db=TEST_DB)
        start_seconds = time.perf_counter() - started
        yield {"calls": calls, "fixed": fixed, "start_seconds": start_seconds}
    finally:
        airflow.stop()
        _drop_database(TEST_DB)
        os.environ.clear()
        os.environ.update(saved)
        config.settings.cache_clear()


def _calls(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _task_instances(api: airflow.Api, dag_id: str) -> dict[str, dict]:
    run_id = f"granary__{DAY.isoformat()}"
    tis = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    return {ti["task_id"]: ti for ti in tis}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _timings(api: airflow.Api, dag_id: str, triggered_at: float) -> dict[str, float]:
    """Trigger → first task start; per task: gap after its upstream ended, queued → running, run time."""
    dag = api.call("GET", f"/dags/{dag_id}/tasks").json()["tasks"]
    upstream = {t["task_id"]: [] for t in dag}
    for t in dag:
        for down in t["downstream_task_ids"]:
            upstream[down].append(t["task_id"])
    tis = _task_instances(api, dag_id)
    first_start = min(_ts(ti["start_date"]).timestamp() for ti in tis.values())
    gaps = [
        (_ts(ti["start_date"]) - max(_ts(tis[u]["end_date"]) for u in upstream[tid])).total_seconds()
        for tid, ti in tis.items()
        if upstream[tid]
    ]
    queued = [(_ts(ti["start_date"]) - _ts(ti["queued_when"])).total_seconds() for ti in tis.values()]
    return {
        "trigger_to_first_task_start_s": round(first_start - triggered_at, 2),
        "task_gap_after_upstream_median_s": round(statistics.median(gaps), 2),
        "task_queued_to_start_median_s": round(statistics.median(queued), 2),
        "task_duration_median_s": round(statistics.median(ti["duration"] for ti in tis.values()), 2),
    }


def test_a_failing_bank_fails_alone_and_reruns_after_the_fix(stack: dict, artifacts_dir: Path) -> None:
    tenants = {t.code: t for t in load_tenants()}
    good, bad = tenants[GOOD], tenants[BAD]
    api = airflow.Api()

    pools = {p["name"]: p["slots"] for p in api.call("GET", "/pools").json()["pools"]}
    assert pools[good.airflow_pool] == 2 and pools[bad.airflow_pool] == 3

    # 1. Both banks through the real scheduler: the bad one fails at its quality gate.
    triggered_at = time.time()
    assert airflow.run_day([good, bad], DAY, timeout=180) is False
    timings = _timings(api, good.dag_id, triggered_at)

    good_tis, bad_tis = _task_instances(api, good.dag_id), _task_instances(api, bad.dag_id)
    assert {ti["state"] for ti in good_tis.values()} == {"success"}
    # One ingest and one clean per source table, plus route_external, quality_gate, dbt_build, publish.
    assert len(good_tis) == 2 * len(contracts()) + 4
    assert bad_tis["quality_gate"]["state"] == "failed"
    assert bad_tis["dbt_build"]["state"] == bad_tis["publish"]["state"] == "upstream_failed"
    assert all(bad_tis[t]["state"] == "success" for t in bad_tis if t.startswith(("ingest.", "clean.")))
    # Exit 3 (bad data) is not retried although the bank allows 2 retries.
    assert bad_tis["quality_gate"]["try_number"] == 1

    log = airflow.task_log_file(bad.dag_id, f"granary__{DAY}", "quality_gate", 1)
    text = log.read_text(encoding="utf-8")
    assert REASON in text and "AirflowFailException" in text
    assert REASON in airflow.failure_reason(log)

    calls = _calls(stack["calls"])
    assert f"ingest {GOOD} {DAY} loan mark=from-the-caller" in calls  # {{ ds }} and GRANARY_* env

    # Unpausing @daily alpha also queued its automatic run for "yesterday"; the requested day
    # went first (max_active_runs=1), and beta (schedule "None") got no automatic run.
    alpha_runs = api.call("GET", f"/dags/{good.dag_id}/dagRuns").json()["dag_runs"]
    manual = next(r for r in alpha_runs if r["dag_run_id"] == f"granary__{DAY}")
    automatic = [r for r in alpha_runs if r["run_type"] == "scheduled"]
    assert len(automatic) == 1 and _ts(automatic[0]["logical_date"]).date() != DAY
    assert automatic[0]["start_date"] is None or _ts(automatic[0]["start_date"]) >= _ts(manual["end_date"])
    assert [r["run_type"] for r in api.call("GET", f"/dags/{bad.dag_id}/dagRuns").json()["dag_runs"]] == [
        "manual"
    ]
    assert sum(c.startswith(f"validate {BAD} {DAY}") for c in calls) == 1

    # 2. Rerun without a fix: run_day clears only what failed; it fails again, alpha untouched.
    assert airflow.run_day([good, bad], DAY, timeout=120) is False
    assert _task_instances(api, bad.dag_id)["quality_gate"]["try_number"] == 2
    assert _task_instances(api, bad.dag_id)["ingest.loan"]["try_number"] == 1

    # 3. Fix, then clear the failed task the way the DAG's doc tells an operator to.
    stack["fixed"].touch()
    clear = [
        *("tasks", "clear", bad.dag_id, "-t", "^quality_gate$"),
        *("-s", DAY.isoformat(), "-e", DAY.isoformat(), "--downstream", "-y"),
    ]
    subprocess.run(
        [str(airflow.AIRFLOW_BIN), *clear], env=airflow.airflow_env(TEST_DB), check=True, timeout=120
    )
    assert airflow.run_day([good, bad], DAY, timeout=120) is True

    bad_tis = _task_instances(api, bad.dag_id)
    assert {ti["state"] for ti in bad_tis.values()} == {"success"}
    assert bad_tis["quality_gate"]["try_number"] == 3
    assert bad_tis["ingest.customer"]["try_number"] == 1  # upstream work was kept
    assert {ti["try_number"] for ti in _task_instances(api, good.dag_id).values()} == {1}
    calls = _calls(stack["calls"])
    # One ingest per source table: alpha's day never reran.
    assert sum(c.startswith(f"ingest {GOOD} {DAY} ") for c in calls) == len(contracts())
    assert sum(c.startswith(f"publish {BAD} {DAY}") for c in calls) == 1

    measured = {"airflow_start_s": round(stack["start_seconds"], 1), **timings}
    (artifacts_dir / "airflow_timings.json").write_text(json.dumps(measured, indent=2) + "\n")
    print(f"\nairflow timings: {measured}")


def test_start_is_idempotent(stack: dict) -> None:
    pids = airflow.running_pids()
    started = time.perf_counter()
    airflow.start(metadata_db=TEST_DB)
    assert time.perf_counter() - started < 10
    assert airflow.running_pids() == pids
