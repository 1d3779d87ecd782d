"""Benchmark: one bank's day on a standalone Spark cluster vs the local Connect server.

    .venv/bin/python benchmarks/scale_out.py [--tenant qingshan] [--scale 0.01] [--workers 2]

Everything runs in a scratch directory (landing, two lakes, two warehouses, keys, logs):
the installation's data, keys and servers are not touched. The local run uses a Connect
server in local mode; the cluster run a master and workers from pyspark's own scripts with
a Connect server attached (granary.stack.cluster). Both runs must give the same DWD and ADS.
Prints both wall times and records benchmarks/results/scale_out.json.
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

import day_compare  # benchmarks/day_compare.py: what only this benchmark needs
from rich.console import Console
from rich.table import Table

from granary.catalog.sources import contracts
from granary.core import config
from granary.core.tenants import get_tenant
from granary.generate import generate
from granary.stack import cluster, spark_server

RESULTS = Path(__file__).parent / "results"


def _timed_server(remote: str, master: str | None) -> float:
    started = time.perf_counter()
    with cluster.use_remote(remote):
        spark_server.start_connect_server(master=master)
    return time.perf_counter() - started


def _stop_server(remote: str) -> None:
    with cluster.use_remote(remote):
        spark_server.stop_connect_server()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenant", default="qingshan")
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-cores", type=int, default=1)
    parser.add_argument("--worker-memory", default="1g")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    console = Console()
    scratch = Path(tempfile.mkdtemp(prefix="granary-scale-out-"))
    os.environ.update(
        GRANARY_DATA=str(scratch),
        GRANARY_SECRETS_DIR=str(scratch / "secrets"),
        GRANARY_RUN_DIR=str(scratch / "run"),
    )
    config.settings.cache_clear()
    tenant = get_tenant(args.tenant)
    generate([tenant], [args.date], scale=args.scale, seed=42)

    local = day_compare.DayRoots(
        f"sc://127.0.0.1:{cluster.free_port()}", scratch / "local" / "lake", scratch / "local" / "warehouse"
    )
    with day_compare.use_roots(local):  # the server writes the run's own catalog
        local_server_s = _timed_server(local.remote, None)
    try:
        started = time.perf_counter()
        local_steps = day_compare.run_day_on(local, tenant, args.date)
        local_s = time.perf_counter() - started
    finally:
        _stop_server(local.remote)

    on_cluster = day_compare.DayRoots(
        f"sc://127.0.0.1:{cluster.free_port()}",
        scratch / "cluster" / "lake",
        scratch / "cluster" / "warehouse",
    )
    started = time.perf_counter()
    with cluster.standalone_cluster(
        scratch / "spark-cluster",
        workers=args.workers,
        cores_per_worker=args.worker_cores,
        memory_per_worker=args.worker_memory,
    ) as standalone:
        cluster_up_s = time.perf_counter() - started
        with day_compare.use_roots(on_cluster):
            cluster_server_s = _timed_server(on_cluster.remote, standalone.master_url)
        try:
            started = time.perf_counter()
            cluster_steps = day_compare.run_day_on(on_cluster, tenant, args.date)
            cluster_s = time.perf_counter() - started
            status = standalone.status()
        finally:
            _stop_server(on_cluster.remote)
    # Evidence the work ran on the cluster, and that nothing was left running.
    used = {
        "applications": [{"name": a["name"], "cores": a["cores"]} for a in status["activeapps"]],
        "alive_workers": status["aliveworkers"],
        "executors": len(list((scratch / "spark-cluster" / "work").glob("app-*/*"))),
        "daemons_left": len(list((scratch / "spark-cluster" / "pids").glob("*.pid"))),
    }

    report = day_compare.day_differences(tenant.code, args.date, list(contracts()), local, on_cluster)
    table = Table(
        "run", *day_compare.DAY_STEPS, "day", "server start", title=f"{tenant.code} SF{args.scale:g}"
    )
    table.add_row(
        "local[2]",
        *(f"{local_steps[s]:.1f}s" for s in day_compare.DAY_STEPS),
        f"{local_s:.1f}s",
        f"{local_server_s:.1f}s",
    )
    table.add_row(
        f"cluster {args.workers}×{args.worker_cores} core",
        *(f"{cluster_steps[s]:.1f}s" for s in day_compare.DAY_STEPS),
        f"{cluster_s:.1f}s",
        f"{cluster_up_s + cluster_server_s:.1f}s",
    )
    console.print(table)
    same = "same results" if not report["differences"] else f"DIFFERENT: {report['differences']}"
    console.print(f"local day {local_s:.1f}s, cluster day {cluster_s:.1f}s; {same}")

    record = {
        "tenant": tenant.code,
        "scale": args.scale,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cluster": {
            "workers": args.workers,
            "cores_per_worker": args.worker_cores,
            "memory_per_worker": args.worker_memory,
        },
        "local": {
            "server_start_s": round(local_server_s, 2),
            "day_s": round(local_s, 2),
            "steps_s": local_steps,
        },
        "cluster_run": {
            "cluster_start_s": round(cluster_up_s, 2),
            "server_start_s": round(cluster_server_s, 2),
            "day_s": round(cluster_s, 2),
            "steps_s": cluster_steps,
            **used,
        },
        "same_results": not report["differences"],
        "differences": report["differences"],
        "identical_data_pages": report["identical_data_pages"],
        "rows": report["rows"],
    }
    # One file, one entry per bank and scale: an SF1 run does not erase the SF0.01 one.
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "scale_out.json"
    recorded = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"benchmark": "scale_out"}
    recorded.setdefault("runs", {})[f"{tenant.code}-sf{args.scale:g}"] = record
    out.write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")
    for run in (local, on_cluster):
        day_compare.drop_lake(run)  # each run's catalog database and role
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    if report["differences"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
