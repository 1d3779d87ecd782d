"""Benchmark: the province's day through the real Airflow scheduler, at a scale factor.

    .venv/bin/python benchmarks/scheduler_day.py --scale 1 --tenants qingshan,hexi,lanxi
    .venv/bin/python benchmarks/scheduler_day.py --scale 0.1 --tenants all

Builds a scratch installation (data root, tenants dir with the chosen banks on a manual
schedule, serving prefix `granary_bench_sched`, metadata database `granary_airflow_bench`,
free ports; Spark Connect at GRANARY_SPARK_REMOTE if one answers there, else its own),
generates the day (not timed), starts Airflow, then times `run_day`: every bank DAG, then the
province DAG from the banks' assets (the chosen banks are the whole province here). Records to
benchmarks/results/scheduler_day-sf<scale>.json: wall time, tasks and tasks per minute, the
per-task overhead (CLI start, a near-empty task, the scheduler's gaps), peak memory of every
process it started, and how far the run is from the target (SF1 province day <= 10 min for 51
banks). With fewer than 51 banks it extrapolates by the banks' share of the province's customers
(`customers_sf1` in each bank's YAML; the data, and at SF1 the work, grows with them: the machine
is saturated, so banks queue rather than overlap) and says so. Stops and drops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
GRANARY = Path(sys.executable).with_name("granary")
PROVINCE_BANKS = 51
TARGET_S = 600.0  # SF1 province day, 51 banks, on this machine
METADATA_DB = "granary_airflow_bench"
SERVING_PREFIX = "granary_bench_sched"
console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scratch_env(root: Path, codes: list[str]) -> None:
    """Point every GRANARY_* setting at the scratch installation (before granary reads settings),
    after stopping and removing what an earlier `--keep` run left there."""
    os.environ.update(
        {
            "GRANARY_DATA": str(root / "data"),
            "GRANARY_RUN_DIR": str(root / "run"),
            "GRANARY_SECRETS_DIR": str(root / "secrets"),
            "GRANARY_TENANTS_DIR": str(root / "tenants"),
            "GRANARY_SERVING_DB": SERVING_PREFIX,
            "GRANARY_AIRFLOW_URL": f"http://127.0.0.1:{_free_port()}",
        }
    )
    os.environ.setdefault("GRANARY_SPARK_REMOTE", f"sc://127.0.0.1:{_free_port()}")
    from granary.core.postgres import admin_connect
    from granary.core.tenants import load_tenants
    from granary.serving.databases import drop_serving
    from granary.stack import airflow

    if root.exists():
        airflow.stop()  # and its worker
        for pid_file in (root / "run" / "spark" / "pids").glob("*.pid"):
            subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        if (root / "tenants").is_dir():
            drop_serving(load_tenants())
        shutil.rmtree(root)
    with admin_connect(autocommit=True) as conn:
        conn.execute(f'drop database if exists "{METADATA_DB}" with (force)')
    tenants_dir = root / "tenants"
    tenants_dir.mkdir(parents=True)
    for code in codes:
        bank = yaml.safe_load((REPO / "tenants" / f"{code}.yaml").read_text(encoding="utf-8"))
        bank.setdefault("airflow", {})["schedule"] = "None"
        (tenants_dir / f"{code}.yaml").write_text(yaml.safe_dump(bank, allow_unicode=True), encoding="utf-8")


# --- memory: every process started here, sampled ------------------------------------------


def _processes() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, resident KiB, CPU seconds of it and its reaped children), from /proc."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss_pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        cpu = sum(int(x) for x in stat[11:15]) / tick  # utime, stime, cutime, cstime
        found[int(entry.name)] = (int(stat[1]), rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024, cpu)
    return found


class Sampler(threading.Thread):
    """Every second: resident memory (peak) and CPU seconds of the processes under `roots`
    (Airflow's components, their LocalExecutor workers, every task and its `granary` process)
    and of the Spark Connect server. CPU, unlike wall time, does not depend on the other work
    sharing the machine."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots, self.peak_kib, self.stop = roots, 0, threading.Event()
        self.cpu_start = self.cpu_last = self._sample()[1]

    def _sample(self) -> tuple[int, float]:
        procs = _processes()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        seen, todo = set(), [r for r in self.roots if r in procs]
        while todo:
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo.extend(children.get(pid, []))
        return sum(procs[p][1] for p in seen), sum(procs[p][2] for p in seen)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            rss, cpu = self._sample()
            self.peak_kib, self.cpu_last = max(self.peak_kib, rss), max(self.cpu_last, cpu)

    @property
    def cpu_s(self) -> float:
        return self.cpu_last - self.cpu_start


# --- what the scheduler did ---------------------------------------------------------------


def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def _task_figures(api, dag_ids: list[str]) -> dict:  # noqa: ANN001 - granary.stack.airflow.Api
    durations, queue_waits, gaps, small = [], [], [], []
    tasks = 0
    for dag_id in dag_ids:
        runs = api.call("GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
        structure = api.call("GET", f"/dags/{dag_id}/tasks").json()["tasks"]
        upstream: dict[str, list[str]] = {t["task_id"]: [] for t in structure}
        for t in structure:
            for down in t["downstream_task_ids"]:
                upstream[down].append(t["task_id"])
        for run in runs:
            path = f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances"
            tis = {
                ti["task_id"]: ti
                for ti in api.call("GET", path, params={"limit": 500}).json()["task_instances"]
            }
            for tid, ti in tis.items():
                start, end, queued = _ts(ti["start_date"]), _ts(ti["end_date"]), _ts(ti["queued_when"])
                if start is None or end is None:
                    continue
                tasks += 1
                durations.append(end - start)
                if queued is not None:
                    queue_waits.append(start - queued)
                ends = [_ts(tis[u]["end_date"]) for u in upstream.get(tid, []) if u in tis]
                if ends and all(ends):
                    gaps.append(start - max(ends))
                if tid in ("ingest.branch", "clean.branch"):  # a dozen rows: the task is its overhead
                    small.append(end - start)

    def med(xs: list[float]) -> float | None:
        return round(statistics.median(xs), 2) if xs else None

    return {
        "tasks": tasks,
        "task_seconds_total": round(sum(durations), 1),
        "task_duration_median_s": med(durations),
        "queued_to_start_median_s": med(queue_waits),
        "upstream_end_to_start_median_s": med(gaps),
        "tiny_table_task_median_s": med(small),
    }


def _spark_server_pid() -> int | None:
    """The Spark Connect server's JVM (a daemon, not our child): the process listening on its port."""
    port = os.environ["GRANARY_SPARK_REMOTE"].rsplit(":", 1)[1].split("/")[0]
    done = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True)
    found = [
        int(part.split("=")[1]) for part in done.stdout.replace(",", " ").split() if part.startswith("pid=")
    ]
    return found[0] if found else None


def _province_customers() -> dict[str, int]:
    """Every bank of the province (the repo's tenants/) and its customers at SF1."""
    return {
        p.stem: int(yaml.safe_load(p.read_text(encoding="utf-8"))["customers_sf1"])
        for p in sorted((REPO / "tenants").glob("*.yaml"))
    }


def _cli_start_s(worker_socket: str | None = None) -> float:
    """Wall time of `granary --help`: Python start plus the CLI's imports, no engine; with
    `worker_socket`, the same command handed to the resident worker (what a task pays)."""
    env = {k: v for k, v in os.environ.items() if k != "GRANARY_WORKER"}
    if worker_socket:
        env["GRANARY_WORKER"] = worker_socket
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([str(GRANARY), "--help"], capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 2)


def _worker_command_seconds(log: Path, since: float) -> tuple[int, float]:
    """Commands the worker ran since `since` (epoch) and their seconds, from its log lines
    `<date> <time> pid N exit C in S s: granary …`."""
    count, seconds = 0, 0.0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 8 or parts[2] != "pid" or parts[6] != "in":
            continue
        when = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S").timestamp()
        if when >= since:
            count += 1
            seconds += float(parts[7].rstrip("s:"))
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--tenants", default="qingshan,hexi,lanxi", help="comma list, or 'all' (51 banks)")
    parser.add_argument("--root", type=Path, default=None, help="scratch directory (default /tmp/…)")
    parser.add_argument("--timeout", type=int, default=7200)
    parser.add_argument("--keep", action="store_true", help="leave Airflow, data and databases in place")
    args = parser.parse_args()

    codes = (
        sorted(p.stem for p in (REPO / "tenants").glob("*.yaml"))
        if args.tenants == "all"
        else args.tenants.split(",")
    )
    root = args.root or Path(f"/tmp/granary-bench-scheduler-sf{args.scale:g}")
    _scratch_env(root, codes)

    # Imported after the environment is set: granary reads its settings once.
    from granary.core.postgres import admin_connect
    from granary.core.tenants import load_tenants
    from granary.generate import generate
    from granary.pipeline import spark
    from granary.serving.databases import drop_serving
    from granary.serving.publish import init_serving
    from granary.stack import airflow, spark_server, worker

    tenants = load_tenants()
    spark_started = not spark.server_answers()
    spark_server.start_connect_server()
    init_serving(tenants)
    t0 = time.perf_counter()
    generate(tenants, [args.date], scale=args.scale, seed=42)
    generate_s = time.perf_counter() - t0
    cli_start_s = _cli_start_s()

    airflow.start(metadata_db=METADATA_DB)
    worker_start_s = _cli_start_s(str(worker.socket_path()))
    spark_pid = _spark_server_pid()
    roots = [*airflow.running_pids().values(), worker.running(), spark_pid]
    sampler = Sampler([p for p in roots if p])
    sampler.start()
    load_before = os.getloadavg()[0]
    started, started_epoch = time.perf_counter(), time.time()
    try:
        ok = airflow.run_day(tenants, args.date, timeout=args.timeout)
        wall = time.perf_counter() - started
        sampler.stop.set()
        api = airflow.Api()
        figures = _task_figures(api, [t.dag_id for t in tenants] + [airflow.PROVINCE_DAG])
        commands, command_s = _worker_command_seconds(worker.log_file(), started_epoch - 1)
    finally:
        sampler.stop.set()
        if not args.keep:
            airflow.stop()
            if spark_started:
                spark_server.stop_connect_server()
            drop_serving(tenants)
            with admin_connect(autocommit=True) as conn:
                conn.execute(f'drop database if exists "{METADATA_DB}" with (force)')

    banks = len(tenants)
    tasks_per_min = figures["tasks"] / (wall / 60)
    # By the banks' share of the province's customers: on 2 saturated cores banks queue behind
    # each other, and a bank's work grows with its size (its task count does not).
    share = sum(t.customers_sf1 for t in tenants) / sum(_province_customers().values())
    province_s = wall / share
    measured_target = args.scale == 1
    record = {
        "benchmark": "scheduler_day",
        "scale": args.scale,
        "date": args.date.isoformat(),
        "banks": codes,
        "all_succeeded": ok,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "airflow": {"executor": "LocalExecutor", "parallelism": airflow.PARALLELISM, "metadata": "postgres"},
        # other work on the machine skews the figures: 1-minute load average before and after
        "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "generate_s": round(generate_s, 1),
        "wall_s": round(wall, 1),
        "tasks_per_min": round(tasks_per_min, 1),
        **figures,
        "cli_start_s": cli_start_s,
        # the same `granary --help`, handed to the resident worker as every task's command is
        "cli_start_via_worker_s": worker_start_s,
        "worker_commands": commands,
        "worker_command_seconds_total": round(command_s, 1),
        # what a task costs beyond its command: Airflow's task process, bash, the hand-over
        "task_overhead_mean_s": round((figures["task_seconds_total"] - command_s) / max(1, commands), 2),
        "peak_memory_mib": round(sampler.peak_kib / 1024),
        # CPU of Airflow + tasks + Spark server over the run, per task: the load-independent cost
        "cpu_s": round(sampler.cpu_s, 1),
        "cpu_per_task_s": round(sampler.cpu_s / max(1, figures["tasks"]), 2),
        "province_51_banks_s": round(province_s, 1),
        # Lower bound on a machine to itself: the province's CPU spread over every core.
        "province_51_banks_cpu_bound_s": round(sampler.cpu_s / share / (os.cpu_count() or 2), 1),
        "province_51_banks_is": (
            "measured"
            if banks == PROVINCE_BANKS
            else f"extrapolated from {banks} banks holding {share:.1%} of the province's customers"
        ),
        "target_s": TARGET_S if measured_target else None,
        "target_ratio": round(province_s / TARGET_S, 2) if measured_target else None,
    }
    table = Table(
        "figure", "value", title=f"province day through the scheduler, SF{args.scale:g}, {banks} banks"
    )
    for key in (
        "wall_s", "tasks", "tasks_per_min", "task_duration_median_s", "tiny_table_task_median_s",
        "queued_to_start_median_s", "upstream_end_to_start_median_s", "cli_start_s", "cli_start_via_worker_s",
        "task_overhead_mean_s", "peak_memory_mib",
        "cpu_s", "cpu_per_task_s", "province_51_banks_s", "province_51_banks_cpu_bound_s",
    ):  # fmt: skip
        table.add_row(key, str(record[key]))
    console.print(table)
    if measured_target:
        verdict = "met" if province_s <= TARGET_S else "NOT met"
        console.print(
            f"target SF1 province day <= {TARGET_S:.0f}s: {verdict} — {province_s:.0f}s "
            f"({record['province_51_banks_is']}), {province_s / TARGET_S:.1f}x the target; "
            f"even with the machine to itself its CPU needs {record['province_51_banks_cpu_bound_s']:.0f}s"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scheduler_day-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
