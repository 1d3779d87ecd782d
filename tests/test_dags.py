"""The DAG factory, parsed by real Airflow in its own virtualenv (as the dag-processor does)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from granary.catalog.sources import SOURCES_DIR, contracts
from granary.core.config import REPO_ROOT
from granary.core.tenants import load_tenants
from granary.pipeline import run as pipeline

AIRFLOW_PYTHON = REPO_ROOT / ".venv-airflow" / "bin" / "python"
DAGS_DIR = REPO_ROOT / "dags"
SOURCE_TABLES = sorted(p.stem for p in SOURCES_DIR.glob("*.yaml"))

# Builds a DagBag from dags/ and prints what the assertions need, as JSON on the last line.
DAGBAG_SNIPPET = textwrap.dedent(
    """
    import json, sys, time
    from airflow.dag_processing.dagbag import DagBag
    sys.path.append(sys.argv[1])  # as the dag-processor's bundle DagBag does: DAG files share a module
    started, cpu_started = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=sys.argv[1])
    parse_seconds = time.perf_counter() - started
    parse_cpu_seconds = time.process_time() - cpu_started
    dags = {}
    for dag in bag.dags.values():
        dags[dag.dag_id] = {
            "tags": sorted(dag.tags),
            "owner": dag.owner,
            "doc_md": dag.doc_md,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "timetable": type(dag.timetable).__name__,
            # AssetOrTimeSchedule(assets=AssetAll(...)): which condition, over which assets.
            "asset_condition": type(getattr(dag.timetable, "asset_condition", None)).__name__,
            "schedule_assets": sorted(
                a.name for a in getattr(getattr(dag.timetable, "asset_condition", None), "objects", [])
            ),
            "tasks": {
                t.task_id: {
                    "pool": t.pool,
                    "downstream": sorted(t.downstream_task_ids),
                    "command": t.bash_command,
                    "retries": t.retries,
                    "priority_weight": t.priority_weight,
                    "outlets": [a.name for a in t.outlets],
                    "on_failure": bool(t.on_failure_callback),
                    "on_success": bool(t.on_success_callback),
                }
                for t in dag.tasks
            },
        }
    print(json.dumps({
        "import_errors": bag.import_errors,
        "parse_seconds": parse_seconds,
        "parse_cpu_seconds": parse_cpu_seconds,
        "dags": dags,
    }))
    """
)


def parse_dags(tenants_dir: Path | None = None, granary_bin: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANARY_", "AIRFLOW"))}
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    if tenants_dir:
        env["GRANARY_TENANTS_DIR"] = str(tenants_dir)
    if granary_bin:
        env["GRANARY_BIN"] = granary_bin
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", DAGBAG_SNIPPET, str(DAGS_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,  # a shared 2-core machine has taken over 120 s to import Airflow and parse
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def repo_dags() -> dict:
    return parse_dags()


PROVINCE = "granary_province"
ALERT_DAGS = {"granary_deadline_watch", "granary_morning_digest"}
LAKE = "granary_lake_housekeeping"


def test_one_dag_per_bank_and_no_import_errors(repo_dags: dict) -> None:
    assert repo_dags["import_errors"] == {}
    expected = {t.dag_id for t in load_tenants(REPO_ROOT / "tenants")}
    assert set(repo_dags["dags"]) == expected | {PROVINCE, LAKE} | ALERT_DAGS


def test_tasks_read_as_a_sentence_in_order(repo_dags: dict) -> None:
    # One load task (ingest, then clean) per source system, named as the contracts name it.
    bank_systems = {c.system for c in contracts().values() if c.origin == "bank"}
    external_systems = {c.system for c in contracts().values() if c.origin == "external"}
    assert external_systems and "customer" in contracts() and len(bank_systems) >= 3
    customers_system = contracts()["customer"].system
    loads = {f"load.{s}" for s in bank_systems | external_systems}
    for tenant in load_tenants(REPO_ROOT / "tenants"):
        tasks = repo_dags["dags"][tenant.dag_id]["tasks"]
        assert set(tasks) == loads | {"provision", "route", "validate", "transform", "publish", "refresh"}
        # Onboarding first: what the bank needs is made before any step needs it.
        assert tasks["provision"]["command"].split()[1:] == ["tenant", "add", tenant.code]
        assert set(tasks["provision"]["downstream"]) == {f"load.{s}" for s in bank_systems}
        for system in bank_systems - {customers_system}:
            assert tasks[f"load.{system}"]["downstream"] == ["validate"]
        # External data is routed by the bank's clean customers, before the routed tables are loaded.
        assert tasks[f"load.{customers_system}"]["downstream"] == ["route"]
        assert tasks["route"]["downstream"] == sorted(f"load.{s}" for s in external_systems)
        for system in external_systems:
            assert tasks[f"load.{system}"]["downstream"] == ["validate"]
        route = tasks["route"]["command"].split()
        assert route[1:4] == ["route", "--tenant", tenant.code]
        assert tasks["validate"]["downstream"] == ["transform"]
        assert tasks["transform"]["downstream"] == ["publish"]
        assert tasks["publish"]["downstream"] == ["refresh"]
        assert tasks["refresh"]["downstream"] == []
        # The publish updates the bank's asset; alerts: every task records a final failure,
        # the last one the run's success.
        assert tasks["publish"]["outlets"] == [f"published_{tenant.code}"]
        assert all(t["on_failure"] for t in tasks.values())
        assert [tid for tid, t in tasks.items() if t["on_success"]] == ["refresh"]
        refresh = tasks["refresh"]["command"].split()
        assert refresh[1:] == ["superset", "refresh", "--tenant", tenant.code, "--date", "{{", "ds", "}}"]


def test_granary_run_runs_the_tasks_of_the_dag_in_its_order(repo_dags: dict) -> None:
    """The day's steps are written once (granary/catalog/day.yaml): `granary run` runs the DAG's
    tasks, each after what the DAG makes it wait for, loading each source system's tables."""
    tasks = repo_dags["dags"]["granary_bank_qingshan"]["tasks"]
    plan = pipeline.day_plan()
    order = [f"load.{contracts()[tables[0]].system}" if step == "load" else step for step, tables in plan]
    assert set(order) == set(tasks) - {"provision", "refresh"} and len(order) == len(set(order))
    for position, task_id in enumerate(order):
        assert all(order.index(after) > position for after in tasks[task_id]["downstream"] if after in order)
    for step, tables in plan:
        if step == "load":
            assert tables and len({contracts()[t].system for t in tables}) == 1
    loaded = sorted(t for step, tables in plan if step == "load" for t in tables)
    assert loaded == SOURCE_TABLES


def test_province_dag_waits_for_every_bank_or_its_deadline(repo_dags: dict) -> None:
    province = repo_dags["dags"][PROVINCE]
    codes = sorted(t.code for t in load_tenants(REPO_ROOT / "tenants"))
    assert province["timetable"] == "AssetOrTimeSchedule" and province["asset_condition"] == "AssetAll"
    assert province["schedule_assets"] == [f"published_{c}" for c in codes]
    assert province["max_active_runs"] == 1 and province["catchup"] is False
    assert "AssetAll" in province["doc_md"] and "deadline" in province["doc_md"]
    tasks = province["tasks"]
    assert set(tasks) == {"external_bill", "ops_refresh"}
    assert tasks["external_bill"]["downstream"] == ["ops_refresh"]
    assert " ops refresh --date $d" in tasks["ops_refresh"]["command"]
    assert " external bill --month $m" in tasks["external_bill"]["command"]


def test_lake_dag_keeps_each_banks_tables_in_its_own_task(repo_dags: dict) -> None:
    lake = repo_dags["dags"][LAKE]
    granary = REPO_ROOT / ".venv" / "bin" / "granary"
    tenants = load_tenants(REPO_ROOT / "tenants")
    assert (
        lake["catchup"] is False
        and lake["max_active_runs"] == 1
        and lake["timetable"] == "CronTriggerTimetable"
    )
    assert set(lake["tasks"]) == {f"housekeep.{t.code}" for t in tenants} | {"housekeep.province"}
    province = lake["tasks"]["housekeep.province"]
    assert province["command"] == f"{granary} lake housekeep --province" and province["downstream"] == []
    for tenant in tenants:
        task = lake["tasks"][f"housekeep.{tenant.code}"]
        assert task["command"] == f"{granary} lake housekeep --tenants {tenant.code}"
        assert task["pool"] == tenant.airflow_pool and task["downstream"] == []


def test_alert_dags_watch_deadlines_and_send_the_digest(repo_dags: dict) -> None:
    watch, digest = (repo_dags["dags"][d] for d in sorted(ALERT_DAGS))
    assert watch["catchup"] is False and digest["catchup"] is False
    assert watch["tasks"]["watch"]["command"].split()[1:] == ["alerts", "watch"]
    assert digest["tasks"]["digest"]["command"].split()[1:4] == ["alerts", "digest", "--date"]


def test_tasks_run_the_cli_in_the_bank_pool(repo_dags: dict) -> None:
    granary = REPO_ROOT / ".venv" / "bin" / "granary"
    for tenant in load_tenants(REPO_ROOT / "tenants"):
        dag = repo_dags["dags"][tenant.dag_id]
        assert dag["tags"] == sorted([tenant.code, "granary", "bank"])
        assert dag["owner"] == "granary"
        assert dag["catchup"] is False and dag["max_active_runs"] == 1
        assert tenant.name_zh in dag["doc_md"] and tenant.name_en in dag["doc_md"]
        assert dag["timetable"] == "CronDataIntervalTimetable"
        for task_id, task in dag["tasks"].items():
            # provision runs in the shared pool: it is what creates the bank's
            assert task["pool"] == ("default_pool" if task_id == "provision" else tenant.airflow_pool)
            assert task["retries"] == tenant.airflow.retries
            assert task["priority_weight"] == tenant.airflow.priority_weight
        code = tenant.code
        tasks = dag["tasks"]
        assert tasks["load.core_banking"]["command"] == (
            f"{granary} load --tenant {code} --date {{{{ ds }}}} --system core_banking"
        )
        assert tasks["validate"]["command"].split()[1] == "validate"
        assert tasks["transform"]["command"].split()[1] == "transform"
        assert tasks["publish"]["command"] == f"{granary} publish --tenant {code} --date {{{{ ds }}}}"


def _bank_yaml(i: int) -> str:
    return textwrap.dedent(
        f"""\
        code: bank{i:02d}
        name_zh: 第{i}农村商业银行
        name_en: Bank {i} Rural Commercial Bank
        county_code: "34{i:04d}"
        county_zh: 第{i}县
        customers_sf1: 1000
        branches: 3
        airflow:
          pool_slots: {1 + i % 3}
          priority_weight: {1 + i % 5}
          retries: {i % 4}
          schedule: "0 {i % 6} * * *"
        """
    )


def test_fifty_one_banks_parse_fast(tmp_path: Path) -> None:
    for i in range(1, 52):
        (tmp_path / f"bank{i:02d}.yaml").write_text(_bank_yaml(i), encoding="utf-8")
    # The factory's YAML must be one the core model accepts too.
    assert len(load_tenants(tmp_path)) == 51

    parsed = parse_dags(tmp_path, granary_bin="/opt/granary/bin/granary")

    assert parsed["import_errors"] == {}
    banks = {d for d in parsed["dags"] if d.startswith("granary_bank_")}
    assert len(banks) == 51 and set(parsed["dags"]) == banks | {PROVINCE, LAKE} | ALERT_DAGS
    assert len(parsed["dags"][LAKE]["tasks"]) == 51 + 1  # and the province's tables
    # About 500 tasks a day for 51 banks, as the reference platform runs (dags/README.md)
    bank_tasks = [t for d in banks for t in parsed["dags"][d]["tasks"]]
    loads = [t for t in bank_tasks if t.startswith("load.")]
    systems = len({c.system for c in contracts().values()})
    assert len(loads) == 51 * systems and len(bank_tasks) == 51 * (systems + 6) <= 520, len(bank_tasks)
    assert parsed["dags"][PROVINCE]["schedule_assets"] == [f"published_bank{i:02d}" for i in range(1, 52)]
    # CPU, not wall: on a shared machine the wall time is the neighbours' (21.6 s once, against 4.2 s alone).
    assert parsed["parse_cpu_seconds"] < 10, f"51 DAGs parsed in {parsed['parse_cpu_seconds']:.1f} CPU-s"
    bank7 = parsed["dags"]["granary_bank_bank07"]
    assert all(t["pool"] == "bank_bank07" for tid, t in bank7["tasks"].items() if tid != "provision")
    assert bank7["tasks"]["publish"]["retries"] == 3
    assert bank7["tasks"]["publish"]["command"].startswith("/opt/granary/bin/granary publish --tenant bank07")
    print(
        f"\n51 bank DAGs + province, {len(bank_tasks)} bank tasks, parsed in "
        f"{parsed['parse_cpu_seconds']:.2f} CPU-s ({parsed['parse_seconds']:.2f}s wall)"
    )


def test_a_broken_bank_file_drops_only_that_bank(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(_bank_yaml(1).replace("bank01", "good"), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    parsed = parse_dags(tmp_path)
    assert parsed["import_errors"] == {}
    assert set(parsed["dags"]) == {"granary_bank_good", PROVINCE, LAKE} | ALERT_DAGS
    assert set(parsed["dags"][LAKE]["tasks"]) == {"housekeep.good", "housekeep.province"}
    assert parsed["dags"][PROVINCE]["schedule_assets"] == ["published_good"]
