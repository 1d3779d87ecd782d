"""Benchmark: a bank's ingest and clean as one task per table or one task per source system.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/task_granularity.py [--scale 0.1] [--tenant qingshan]
        [--date 2026-11-20] [--repeats 2] [--keep DIR]

One installation of this checkout in a scratch directory (own data root, lake catalog, Spark
Connect server and resident worker): the bank's day is generated, then loaded both ways, in
alternating rounds (ABBA) after one untimed round (the lake's tables created, the JIT warm):

- per table, as the DAGs ran it until 2026-12-07: `granary ingest --source T` and `granary clean
  --source T` for each of the 23 tables, `granary route` among them;
- per system, as granary/catalog/day.yaml runs it now: `granary load --system S` for each source
  system, `granary route` among them.

Every command is handed to the worker, as an Airflow task's is. Recorded per way: commands, wall
time, the commands' CPU (the worker's children) and the Spark server's CPU (its JVM, over the
round); and, per table under SMALL_ROWS rows, the Spark server's CPU of its two commands in the
per-table rounds. An Airflow task also costs Airflow's own processes CPU (scheduler, api-server,
dag-processor, the task's process): AIRFLOW_CPU_PER_TASK, measured by benchmarks/scheduler_day.py
(dags/README.md), is added per task for the day's estimate. Records
benchmarks/results/task_granularity-sf<scale>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from ingest_clean import REPO, Side, catalog_name, drop_catalog  # benchmarks/ingest_clean.py
from rich.console import Console
from rich.table import Table

from granary.catalog.day import LOAD, day_tasks

RESULTS = Path(__file__).parent / "results"
# Airflow's own CPU a task (scheduler, api-server, dag-processor, the task process): 139 CPU-s over
# the 155 tasks of the SF0.01 three-bank day of 2026-12-04 (dags/README.md, "Where the time went").
AIRFLOW_CPU_PER_TASK = 0.9
SMALL_ROWS = 1000  # issue 27: at most 0.5 CPU-s of Spark for a table under 1,000 rows
SMALL_TARGET_S = 0.5
console = Console()

Command = tuple[str, ...]


def commands(way: str, tenant: str, dt: str) -> list[Command]:
    """The day's ingest, clean and route commands, per table or per source system, in the order
    the day runs them (granary/catalog/day.yaml)."""
    day = ("--tenant", tenant, "--date", dt)
    found: list[Command] = []
    for task in day_tasks():
        if task.step == "route":
            found.append(("route", *day))
        elif task.step == LOAD and way == "per system":
            found.append(("load", *day, "--system", task.system or ""))
        elif task.step == LOAD:
            for table in task.tables:
                found += [("ingest", *day, "--source", table), ("clean", *day, "--source", table)]
    return found


def run_round(side: Side, way: str, tenant: str, dt: str) -> dict:
    """Every command of the way once: totals, and the Spark CPU of each table's commands."""
    wall = cpu = 0.0
    spark_before = side.server_cpu()
    per_table: dict[str, float] = {}
    for command in commands(way, tenant, dt):
        before = side.server_cpu()
        took_wall, took_cpu = side.granary(*command)
        wall, cpu = wall + took_wall, cpu + took_cpu
        if "--source" in command:
            table = command[command.index("--source") + 1]
            per_table[table] = per_table.get(table, 0.0) + side.server_cpu() - before
    return {
        "commands": len(commands(way, tenant, dt)),
        "wall_s": round(wall, 2),
        "command_cpu_s": round(cpu, 2),
        "spark_cpu_s": round(side.server_cpu() - spark_before, 2),
        "spark_cpu_by_table_s": {t: round(s, 2) for t, s in per_table.items()},
    }


def landing_rows(side: Side, tenant: str, dt: str) -> dict[str, int]:
    folder = side.data / "landing" / tenant / dt
    return {p.stem: max(sum(1 for _ in p.open("rb")) - 1, 0) for p in sorted(folder.glob("*.csv"))}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--tenant", default="qingshan")
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="scratch directory to keep (and its catalog)")
    args = parser.parse_args()
    for name in ("GRANARY_LAKE_ROOT", "GRANARY_LANDING_ROOT", "GRANARY_WAREHOUSE_ROOT", "GRANARY_WORKER"):
        os.environ.pop(name, None)
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="granary-granularity-"))
    data = scratch / "data"
    side = Side("granularity", REPO, data, catalog_name(data, "granary_bench_tg"))
    tenant, dt = args.tenant, args.date.isoformat()
    ways = ("per table", "per system")
    rounds: dict[str, list[dict]] = {way: [] for way in ways}
    try:
        console.print(f"generating {tenant} {dt} at SF{args.scale:g}; Spark server, worker")
        side.start_spark()
        side.granary(
            "generate", "--tenants", tenant, "--date", dt, "--days", "1", "--scale", f"{args.scale:g}"
        )
        side.start_worker()
        rows = landing_rows(side, tenant, dt)
        run_round(side, "per system", tenant, dt)  # untimed: the tables created, the JIT warm
        for repeat in range(args.repeats):
            for way in ways if repeat % 2 == 0 else tuple(reversed(ways)):
                found = run_round(side, way, tenant, dt)
                rounds[way].append(found)
                console.print(
                    f"  {way:>10}, round {repeat + 1}: {found['commands']} commands, {found['wall_s']:.1f}s, "
                    f"{found['command_cpu_s']:.1f} + {found['spark_cpu_s']:.1f} Spark CPU-s"
                )
    finally:
        side.stop_worker()
        side.stop_spark()
        if not args.keep:
            drop_catalog(side.catalog)
            shutil.rmtree(scratch, ignore_errors=True)

    result: dict[str, dict] = {}
    for way in ways:
        best = min(rounds[way], key=lambda r: r["command_cpu_s"] + r["spark_cpu_s"])
        tasks = best["commands"]
        measured = best["command_cpu_s"] + best["spark_cpu_s"]
        result[way] = {
            **{k: v for k, v in best.items() if k != "spark_cpu_by_table_s"},
            "airflow_cpu_s": round(tasks * AIRFLOW_CPU_PER_TASK, 2),
            "bank_day_cpu_s": round(measured + tasks * AIRFLOW_CPU_PER_TASK, 2),
            "rounds": rounds[way],
        }
    small = {
        table: round(min(r["spark_cpu_by_table_s"][table] for r in rounds["per table"]), 2)
        for table, n in rows.items()
        if n < SMALL_ROWS and all(table in r["spark_cpu_by_table_s"] for r in rounds["per table"])
    }
    table = Table("way", "tasks", "wall", "commands CPU", "Spark CPU", "+ Airflow", "ingest+clean day CPU")
    for way, found in result.items():
        seconds = ("wall_s", "command_cpu_s", "spark_cpu_s", "airflow_cpu_s", "bank_day_cpu_s")
        table.add_row(way, str(found["commands"]), *(f"{found[key]:.1f}s" for key in seconds))
    console.print(table)
    ratio = result["per system"]["bank_day_cpu_s"] / result["per table"]["bank_day_cpu_s"]
    console.print(f"per system / per table, a bank's ingest and clean with Airflow's share: {ratio:.2f}x")
    worst = max(small.values()) if small else None
    small_met = worst is not None and worst <= SMALL_TARGET_S
    console.print(
        f"Spark CPU of a table under {SMALL_ROWS} rows (ingest + clean, per-table rounds, best): "
        + ", ".join(f"{t} ({rows[t]} rows) {s:.2f}s" for t, s in small.items())
        + f"; target <= {SMALL_TARGET_S}s: {'met' if small_met else 'NOT met'}"
    )
    record = {
        "benchmark": "task_granularity",
        "scale": args.scale,
        "tenant": tenant,
        "date": dt,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "airflow_cpu_per_task_s": AIRFLOW_CPU_PER_TASK,
        "landing_rows": rows,
        "ways": result,
        "per_system_to_per_table": round(ratio, 3),
        "small_table_spark_cpu_s": small,
        "small_table_target_s": SMALL_TARGET_S,
        "small_table_target_met": small_met,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"task_granularity-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    main()
