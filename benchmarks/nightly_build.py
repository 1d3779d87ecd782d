"""Benchmark: the nightly build's cost against the days of history in the lake (issue 19).

    .venv/bin/python benchmarks/nightly_build.py [--scales 0.1,1] [--tenant qingshan]
        [--days 1,31,91,366] [--repeats 2] [--date 2026-11-20]

Per scale, in a scratch data directory: generates the bank's day D, runs it through ingest, clean
and route (not timed) and builds it once with nothing before it. Then one lake per N of --days
gets N-1 earlier days: every DWD partition and every DWS history partition of D hard-linked under
each earlier date (a night reads partitions by date, so these cost what real ones would; the values
are D's). `granary transform` of D then runs against each lake, the lakes interleaved, --repeats
times each after one untimed run (dbt's first parse); wall time and CPU (user + system of the
process) are recorded, best of the repeats. Target: the 366-day build costs at most 1.2x the 1-day
build, in wall time and in CPU. Records benchmarks/results/nightly_build.json.
Needs the Spark Connect server for ingest and clean (started when none answers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
GRANARY = str(Path(sys.executable).with_name("granary"))
TARGET_RATIO = 1.2
console = Console()


def _granary(env: dict[str, str], *args: str) -> tuple[float, float]:
    """Run a granary command; (wall seconds, CPU seconds of the process and its children)."""
    started = time.perf_counter()
    proc = subprocess.Popen([GRANARY, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"granary {' '.join(args)} failed:\n{stderr[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "GRANARY_DATA": str(data), "GRANARY_RUN_DIR": str(data / ".run")}


def _prepare_day(base: Path, tenant: str, day: date, scale: float) -> None:
    """The bank's day D in `base`: generated, ingested, cleaned, routed (kept from an earlier run in
    the same --scratch), then built once with nothing before it."""
    env = _env(base)
    dt = day.isoformat()
    if (base / "lake" / tenant / "dwd").is_dir():
        shutil.rmtree(base / "lake" / tenant / "dws", ignore_errors=True)
        _granary(env, "transform", "--tenant", tenant, "--date", dt)
        return
    _granary(env, "generate", "--tenants", tenant, "--date", dt, "--days", "1", "--scale", f"{scale:g}")
    for step in ("ingest", "clean", "route"):
        _granary(env, step, "--tenant", tenant, "--date", dt)
    from granary.catalog.sources import tables_of

    external = [arg for t in tables_of("external") for arg in ("--source", t)]
    for step in ("ingest", "clean"):
        _granary(env, step, "--tenant", tenant, "--date", dt, *external)
    _granary(env, "transform", "--tenant", tenant, "--date", dt)


def _lake_with_history(base: Path, data: Path, tenant: str, day: date, days: int) -> None:
    """A copy of base's lake (hard links) whose DWD and DWS tables hold `days` days ending at D."""
    shutil.copytree(base / "lake", data / "lake", copy_function=os.link)
    bank = data / "lake" / tenant
    tables = [p for layer in ("dwd", "dws") for p in (bank / layer).iterdir() if p.is_dir()]
    for table in tables:
        source = table / f"dt={day.isoformat()}"
        for back in range(1, days):
            earlier = table / f"dt={(day - timedelta(days=back)).isoformat()}"
            shutil.copytree(source, earlier, copy_function=os.link)


def bench_scale(
    scale: float, tenant: str, day: date, history: list[int], repeats: int, scratch: Path
) -> dict:
    base = scratch / f"sf{scale:g}" / "base"
    console.print(
        f"[bold]SF{scale:g}[/]: preparing {tenant} {day} (generate, ingest, clean, route, first build)"
    )
    started = time.perf_counter()
    _prepare_day(base, tenant, day, scale)
    prepare_s = time.perf_counter() - started
    lakes = {}
    for days in history:
        data = scratch / f"sf{scale:g}" / f"history-{days}"
        shutil.rmtree(data, ignore_errors=True)
        _lake_with_history(base, data, tenant, day, days)
        _granary(_env(data), "transform", "--tenant", tenant, "--date", day.isoformat())  # dbt's first parse
        lakes[days] = data
    runs: dict[int, list[tuple[float, float]]] = {d: [] for d in history}
    for repeat in range(repeats):
        for days, data in lakes.items():
            wall, cpu = _granary(_env(data), "transform", "--tenant", tenant, "--date", day.isoformat())
            runs[days].append((wall, cpu))
            console.print(
                f"  SF{scale:g} {days:>3} day(s) in the lake, run {repeat + 1}: {wall:.1f}s, {cpu:.1f}s CPU"
            )
    best = {
        d: {"wall_s": round(min(w for w, _ in r), 2), "cpu_s": round(min(c for _, c in r), 2)}
        for d, r in runs.items()
    }
    first, last = best[history[0]], best[history[-1]]
    ratios = {
        "wall": round(last["wall_s"] / first["wall_s"], 3),
        "cpu": round(last["cpu_s"] / first["cpu_s"], 3),
    }
    return {
        "prepare_s": round(prepare_s, 1),
        "builds": {
            str(d): {**best[d], "runs": [[round(w, 2), round(c, 2)] for w, c in runs[d]]} for d in history
        },
        "ratio_longest_to_shortest": ratios,
        "target_met": max(ratios.values()) <= TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="0.1,1")
    parser.add_argument("--tenant", default="qingshan")
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--days", default="1,31,91,366", help="days of history in the lake, ascending")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--scratch", type=Path, help="scratch directory, kept (a second run reuses its ingested day)"
    )
    args = parser.parse_args()
    history = [int(d) for d in args.days.split(",")]

    from granary.stack import spark_server

    spark_server.start_connect_server()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="granary-nightly-"))
    try:
        scales = {
            f"{float(s):g}": bench_scale(float(s), args.tenant, args.date, history, args.repeats, scratch)
            for s in args.scales.split(",")
        }
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    table = Table(
        "scale",
        *(f"{d} d wall / CPU" for d in history),
        f"{history[-1]}/{history[0]} wall",
        "CPU",
        "target",
        title=f"nightly build of {args.tenant} {args.date} against its lake's history",
    )
    for scale, result in scales.items():
        cells = [
            f"{result['builds'][str(d)]['wall_s']:.1f}s / {result['builds'][str(d)]['cpu_s']:.1f}s"
            for d in history
        ]
        ratios = result["ratio_longest_to_shortest"]
        verdict = "[green]met[/]" if result["target_met"] else "[red]not met[/]"
        table.add_row(f"SF{scale}", *cells, f"{ratios['wall']:.2f}x", f"{ratios['cpu']:.2f}x", verdict)
    console.print(table)
    met = all(r["target_met"] for r in scales.values())
    verdict = "met" if met else "NOT met"
    console.print(
        f"target (the {history[-1]}-day build <= {TARGET_RATIO}x the {history[0]}-day one): {verdict}"
    )

    record = {
        "benchmark": "nightly_build",
        "tenant": args.tenant,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "target_ratio": TARGET_RATIO,
        "scales": scales,
        "target_met": met,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "nightly_build.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    main()
