"""Benchmark: the nightly build's cost against the days of history in the lake (issue 19), and the
same build on the old Parquet lake.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/nightly_build.py [--scales 0.1,1] [--tenant qingshan]
        [--days 1,31,91,366] [--repeats 2] [--date 2026-11-20] [--scratch DIR]
        [--parquet-tree ../wt-parquet | --no-parquet] [--no-housekeep]

Per scale, in a scratch directory, every installation with its own data root, run directory, lake
catalog (a scratch GRANARY_LAKE_CATALOG) and, while it needs one, Spark Connect server:

- base: generates the bank's day D, runs it through ingest, clean and route (and the external
  sources' ingest and clean), and builds it once with nothing before it (not timed).
- one Iceberg lake per N of --days, holding N days ending at D, made as N nights would have made
  it: every table of base is created alike (schema, partition spec, properties) and gets D's rows;
  the DWD tables and the DWS day history's tables (and `dws_build_day`) get them under each of the
  N-1 earlier dates too, each table's days oldest first, one commit per table and day by the writer
  a night uses: DWD with Spark (tables.write_day, as clean), the history with pyiceberg
  (tables.write_day_arrow, as transform's commit), `dws_build_day` last. So the catalog really
  holds N days, and the snapshots and manifests grow as nightly commits grow them (the values are
  D's). ODS and quarantine, which a build does not read, hold D only. FILL_THREADS tables are
  committed side by side (each by one thread, in day order): the tables end as night-by-night
  commits leave them, in about half the time (a year's lake is ~12,000 commits). As the daily
  housekeeping DAG keeps an installation's tables, each table's snapshots older than the
  installation's retention (GRANARY_LAKE_SNAPSHOT_RETENTION_DAYS, 7 nights) are expired, a week at
  a time: every table holds one to two weeks of nights' snapshots, never a year of them (a commit's
  cost grows with the snapshots its metadata holds: pyiceberg deep-copies them per update; a history
  commit took 2.5 CPU-s against 366 kept snapshots).
- parquet (unless --no-parquet): PARQUET_COMMIT's code (benchmarks/ingest_clean.py: a git worktree
  at --parquet-tree, added if missing, run with PYTHONPATH pointing at it) generates, ingests,
  cleans, routes and builds the same day D on its own Parquet lake with its own Spark server: the
  1-day build as it was.

`granary transform` of D then runs against each lake, interleaved (the order turned by one each
round), the Parquet lake's among them, --repeats times each after one untimed run (dbt's first
parse); wall time and CPU are recorded, best of the repeats; a lake whose build fails is recorded
as failed (with why) and left out after. Two ways, one after the other:

- worker: as the night runs it. Every Airflow task hands its command to the installation's resident
  worker (granary/stack/worker.py), which forks it from a parent whose imports are done. Each lake
  (and the Parquet lake) gets a worker of its own code; CPU is the command's process plus the
  worker's child that ran it.
- by hand: each build a `granary` process of its own, as a person runs it, paying its imports
  (pyiceberg's ~3 s among them). CPU is the process and its children.

Then, unless --no-housekeep, `granary lake housekeep` keeps each Iceberg lake as the daily DAG would
(its manifests compacted; nothing is old enough to expire) and the lakes are measured again through
the workers, the Parquet one beside them.
Targets, judged on the lakes as committed and the builds as the night runs them (the other
measurements are reported beside): the longest history's build costs at most TARGET_RATIO x the
1-day build, in wall time and in CPU; and the 1-day build on Iceberg costs at most PARQUET_RATIO x
the one on Parquet. Records benchmarks/results/nightly_build.json.

With --scratch the directory and its lake catalogs are kept: a second run reuses the prepared days
and the history lakes that housekeeping did not touch. Without it both go at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from ingest_clean import (  # benchmarks/ingest_clean.py: the two checkouts side by side
    PARQUET_COMMIT,
    REPO,
    CommandFailed,
    Side,
    catalog_name,
    drop_catalog,
    granary_env,
    parquet_tree,
)
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.2  # longest history / 1 day
PARQUET_RATIO = 1.2  # Iceberg 1-day build / Parquet 1-day build
SPARK_LAYERS = ("ods", "dwd", "quarantine")  # written by Spark in a night; the rest by pyiceberg
FILL_THREADS = 4  # tables committed side by side while a history lake is filled
console = Console()


def _marker(data: Path, name: str) -> dict | None:
    path = data / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _mark(data: Path, name: str, content: dict) -> None:
    (data / name).write_text(json.dumps(content) + "\n", encoding="utf-8")


def _in_process(side: Side):
    """This process's granary settings on the side's installation (pyiceberg, Spark session)."""
    env = side.env()
    names = ("GRANARY_DATA", "GRANARY_RUN_DIR", "GRANARY_LAKE_CATALOG", "GRANARY_SPARK_REMOTE")
    return granary_env(**{name: env[name] for name in names})


def prepare_day(side: Side, tenant: str, day: date, scale: float, external: list[str]) -> float:
    """The bank's day D on the side's installation, with the side's code: generated, ingested,
    cleaned, routed, then built once with nothing before it. Kept from an earlier run in the same
    --scratch. Seconds taken (0 when kept)."""
    want = {"tenant": tenant, "date": day.isoformat(), "scale": scale}
    if _marker(side.data, ".prepared") == want:
        return 0.0
    if side.data.exists():
        shutil.rmtree(side.data)
    if side.tree == REPO:
        drop_catalog(side.catalog)
    started = time.perf_counter()
    dt = day.isoformat()
    side.start_spark()
    try:
        side.granary("generate", "--tenants", tenant, "--date", dt, "--days", "1", "--scale", f"{scale:g}")
        for step in ("ingest", "clean", "route"):
            side.granary(step, "--tenant", tenant, "--date", dt)
        sources = [arg for t in external for arg in ("--source", t)]
        for step in ("ingest", "clean"):
            side.granary(step, "--tenant", tenant, "--date", dt, *sources)
    finally:
        side.stop_spark()
    side.granary("transform", "--tenant", tenant, "--date", dt)
    _mark(side.data, ".prepared", want)
    return round(time.perf_counter() - started, 1)


def external_sources(side: Side) -> list[str]:
    """The external sources' tables, as the side's code lists them."""
    import subprocess

    code = "from granary.catalog.sources import tables_of; print(','.join(tables_of('external')))"
    done = subprocess.run(
        [sys.executable, "-P", "-c", code],
        cwd=side.tree,
        env=side.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return [t for t in done.stdout.strip().split(",") if t]


def fill_lake(base: Side, lake: Side, tenant: str, day: date, days: int) -> dict:
    """Make `lake` hold `days` days ending at D from base's day D, one commit per table and day,
    oldest day first (see the module's doc); the commits made, by writer."""
    from granary.core.config import settings
    from granary.lake import tables
    from granary.lake.iceberg import catalog, warehouse

    shutil.rmtree(lake.data, ignore_errors=True)
    drop_catalog(lake.catalog)
    # What is not a table (reconciliation, quality results) comes as it is.
    with _in_process(base):
        names = tables.tables_of(tenant)
        base_bank = Path(warehouse()) / tenant
        shutil.copytree(
            Path(warehouse()),
            lake.data / "lake",
            ignore=lambda folder, entries: names if Path(folder) == base_bank else [],
        )
        source = {}
        for name in names:
            layer, table = tables.split_name(name)
            found = catalog().load_table(f"{tenant}.{name}")
            column = tables.day_column(layer)
            if layer in SPARK_LAYERS:
                rows = [path for _, path in tables.day_files(tenant, layer, table, [day])]
            else:
                rows = tables.read_days(tenant, layer, table, [day]).drop_columns([column])
            source[name] = (found.schema(), found.spec(), dict(found.properties), rows)

    lake.start_spark()  # creates the lake's catalog
    # commits by writer, and the seconds they took (added over the threads: more than the wall)
    commits = {"spark": 0, "spark_s": 0.0, "pyiceberg": 0, "pyiceberg_s": 0.0, "expired_snapshots": 0}
    try:
        with _in_process(lake):
            from granary.pipeline.spark import close_client_session, get_session

            tables.forget_tables()
            lake_catalog = catalog()
            lake_catalog.create_namespace_if_not_exists(tenant)
            for name, (schema, spec, properties, _) in source.items():
                lake_catalog.create_table(
                    f"{tenant}.{name}",
                    schema=schema,
                    partition_spec=spec,
                    properties=properties,
                    location=f"{warehouse().as_uri()}/{tenant}/{name}",
                )
            spark = get_session()
            frames = {}
            for name, (_, _, _, rows) in source.items():
                layer, table = tables.split_name(name)
                if layer in SPARK_LAYERS:
                    column = tables.day_column(layer)
                    empty = spark.table(tables.spark_name(tenant, layer, table)).limit(0)
                    frames[name] = (spark.read.parquet(*rows) if rows else empty).drop(column)
            index = tables.table_name(*_build_day())
            dates = [day - timedelta(days=back) for back in range(days - 1, -1, -1)]  # oldest first
            # What a night commits: clean each table's day (Spark: DWD every day, ODS and quarantine
            # on D only), the build each history table's day (pyiceberg), `dws_build_day` last.
            work = [
                (name, [d for d in dates if tables.split_name(name)[0] == "dwd" or d == day])
                for name in frames
            ]
            work += [(name, dates) for name in source if name not in frames and name != index]
            work.sort(key=lambda item: -len(item[1]))  # the longest first: the pool ends together
            total = sum(len(written) for _, written in work) + len(dates)
            done = {"commits": 0}
            started = time.perf_counter()

            retention = settings().lake_snapshot_retention_days

            def snapshot_ids(name: str) -> set[int]:
                return {s.snapshot_id for s in catalog().load_table(f"{tenant}.{name}").metadata.snapshots}

            def commit_days(name: str, written: list[date]) -> None:
                layer, table = tables.split_name(name)
                writer = "spark" if name in frames else "pyiceberg"
                nights: deque[set[int]] = deque()  # the snapshots each night made, newest last
                for d in written:
                    took = time.perf_counter()
                    before = snapshot_ids(name)
                    if name in frames:
                        tables.write_day(frames[name], tenant, layer, table, d)
                    else:
                        tables.write_day_arrow(source[name][3], tenant, layer, table, d)
                    nights.append(snapshot_ids(name) - before)
                    if len(nights) > 2 * retention:
                        # The daily housekeeping DAG's expiry, a week at a time: the table keeps
                        # between one and two retentions of nights' snapshots.
                        old = [i for _ in range(len(nights) - retention) for i in nights.popleft()]
                        catalog().load_table(f"{tenant}.{name}").maintenance.expire_snapshots().by_ids(
                            old
                        ).commit()
                        with lock:
                            commits["expired_snapshots"] += len(old)
                    with lock:
                        commits[writer] += 1
                        commits[f"{writer}_s"] += time.perf_counter() - took
                        done["commits"] += 1
                        if done["commits"] % 1000 == 0:
                            elapsed = time.perf_counter() - started
                            console.print(
                                f"    {lake.name}: {done['commits']}/{total} commits ({elapsed:.0f}s)"
                            )

            # Each table's days are committed in order, one commit per day, by one thread; the
            # tables go side by side (the Connect server takes a session's calls concurrently), so
            # every table ends as a night-by-night lake's would, in a fraction of the time.
            lock = threading.Lock()
            with ThreadPoolExecutor(max_workers=FILL_THREADS) as pool:
                for future in [pool.submit(commit_days, name, written) for name, written in work]:
                    future.result()
            commit_days(index, dates)  # a day is a lake day once every model holds it
            close_client_session()
            tables.forget_tables()
    finally:
        lake.stop_spark()
    return {name: round(value, 1) if isinstance(value, float) else value for name, value in commits.items()}


def _build_day() -> tuple[str, str]:
    from granary.pipeline.dws_history import BUILD_DAY

    return BUILD_DAY


def lake_shape(side: Side, tenant: str) -> dict:
    """The lake's tables, snapshots, live data files and manifests of the current snapshots, and
    the days `dws_build_day` holds: what a build's planning reads grows with these."""
    from granary.lake import tables
    from granary.lake.iceberg import catalog

    with _in_process(side):
        found = tables.stats(tenant)
        manifests = 0
        for name in tables.tables_of(tenant):
            table = catalog().load_table(f"{tenant}.{name}")
            current = table.current_snapshot()
            manifests += len(current.manifests(table.io)) if current else 0
        index = tables.load(tenant, *_build_day())
        days = index.scan(selected_fields=("build_dt",)).to_arrow().num_rows if index is not None else 0
        return {
            "tables": found.tables,
            "snapshots": found.snapshots,
            "data_files": found.files,
            "manifests": manifests,
            "build_days": days,
        }


Runs = dict[str, list[tuple[float, float]]]


def measure(lakes: dict[str, Side], tenant: str, day: date, repeats: int, warm: bool) -> tuple[Runs, dict]:
    """`granary transform` of D on each lake, interleaved, after one untimed run each if `warm`:
    ({label: [(wall, cpu), ...]}, {label: why its build failed}). A lake whose build fails is
    left out of the later rounds."""
    dt = day.isoformat()
    failed: dict[str, str] = {}

    def build(label: str) -> tuple[float, float] | None:
        try:
            return lakes[label].granary("transform", "--tenant", tenant, "--date", dt)
        except CommandFailed as exc:
            failed[label] = str(exc)[-1500:]
            console.print(f"  [red]{label}: the build failed[/]: {str(exc)[-600:]}")
            return None

    labels = list(lakes)
    if warm:
        for label in labels:
            build(label)  # dbt's first parse
    runs: Runs = {label: [] for label in labels}
    for repeat in range(repeats):
        turn = repeat % len(labels)
        for label in labels[turn:] + labels[:turn]:
            if label in failed or (took := build(label)) is None:
                continue
            runs[label].append(took)
            console.print(f"  {label:>10}, run {repeat + 1}: {took[0]:.1f}s, {took[1]:.1f}s CPU")
    return runs, failed


def best(runs: list[tuple[float, float]], failed: str | None = None) -> dict:
    if failed is not None or not runs:
        return {"failed": failed or "no run", "runs": [[round(w, 2), round(c, 2)] for w, c in runs]}
    return {
        "wall_s": round(min(w for w, _ in runs), 2),
        "cpu_s": round(min(c for _, c in runs), 2),
        "runs": [[round(w, 2), round(c, 2)] for w, c in runs],
    }


def ratios(a: dict, b: dict) -> dict | None:
    if "failed" in a or "failed" in b:
        return None
    return {"wall": round(a["wall_s"] / b["wall_s"], 3), "cpu": round(a["cpu_s"] / b["cpu_s"], 3)}


def history_result(runs: Runs, failed: dict[str, str], history: list[int]) -> dict:
    builds = {d: best(runs[f"{d} days"], failed.get(f"{d} days")) for d in history}
    ratio = ratios(builds[history[-1]], builds[history[0]])
    return {
        "builds": {str(d): builds[d] for d in history},
        "ratio_longest_to_shortest": ratio,
        # a lake whose build failed fails the target
        "target_met": ratio is not None and max(ratio.values()) <= TARGET_RATIO and not failed,
    }


def parquet_result(iceberg_build: dict, parquet_runs: list, failed: str | None) -> dict:
    parquet_build = best(parquet_runs, failed)
    ratio = ratios(iceberg_build, parquet_build)
    return {
        "commit": PARQUET_COMMIT,
        "build": parquet_build,
        "ratio_iceberg_to_parquet": ratio,
        "target_met": ratio is not None and max(ratio.values()) <= PARQUET_RATIO,
    }


def bench_scale(scale: float, args, history: list[int], scratch: Path, old_tree: Path | None) -> dict:
    tenant, day = args.tenant, args.date
    root = scratch / f"sf{scale:g}"

    def iceberg_side(name: str) -> Side:
        return Side(name, REPO, root / name, catalog_name(root / name, "granary_bench_nb"))

    base = iceberg_side("base")
    console.print(f"[bold]SF{scale:g}[/]: preparing {tenant} {day} (generate, ingest, clean, route, build)")
    prepare = {"iceberg": prepare_day(base, tenant, day, scale, external_sources(base))}
    parquet = None
    if old_tree is not None:
        parquet = Side(
            "parquet", old_tree, root / "parquet", catalog_name(root / "parquet", "granary_bench_nb")
        )
        console.print(
            f"[bold]SF{scale:g}[/]: preparing it on the Parquet lake ({PARQUET_COMMIT}, {old_tree})"
        )
        prepare["parquet"] = prepare_day(parquet, tenant, day, scale, external_sources(parquet))

    lakes: dict[int, Side] = {}
    fill: dict[str, dict] = {}
    for days in history:
        lake = iceberg_side(f"history-{days}")
        want = {"tenant": tenant, "date": day.isoformat(), "days": days, "housekept": False}
        if _marker(lake.data, ".filled") != want or prepare["iceberg"]:  # kept only on a kept base
            console.print(f"  filling {lake.name}: {days} day(s), one commit per table and day")
            started = time.perf_counter()
            commits = fill_lake(base, lake, tenant, day, days)
            fill[str(days)] = {"seconds": round(time.perf_counter() - started, 1), "commits": commits}
            console.print(f"    {fill[str(days)]['seconds']:.0f}s, {commits} commits")
            _mark(lake.data, ".filled", want)
        lakes[days] = lake
    shapes = {str(d): lake_shape(lake, tenant) for d, lake in lakes.items()}
    console.print(f"  lakes: {shapes}")

    measured = {f"{d} days": lake for d, lake in lakes.items()}
    if parquet is not None:
        measured["parquet"] = parquet

    def judged(runs: Runs, failed: dict[str, str]) -> dict:
        found = history_result(runs, failed, history)
        if parquet is not None:
            shortest = found["builds"][str(history[0])]
            found["parquet"] = parquet_result(shortest, runs["parquet"], failed.get("parquet"))
        return found

    def through_workers() -> dict:
        """The builds as the night runs them: each lake's command handed to a resident worker of
        its own code (Airflow's tasks do; `granary airflow start` sets GRANARY_WORKER)."""
        console.print("  through each installation's resident worker, as the night runs them")
        try:
            for side in measured.values():
                side.start_worker()
            return judged(*measure(measured, tenant, day, args.repeats, warm=True))
        finally:
            for side in measured.values():
                side.stop_worker()

    console.print("  by hand: each build a command of its own (its imports paid)")
    by_hand = judged(*measure(measured, tenant, day, args.repeats, warm=True))
    result = {
        "prepare_s": prepare,
        "fill": fill,
        "lakes": shapes,
        "worker": through_workers(),
        "cli": by_hand,
    }

    if args.housekeep:
        housekeep_s = {}
        for d, lake in lakes.items():
            console.print(f"  granary lake housekeep on {lake.name}")
            lake.start_spark()
            try:
                housekeep_s[str(d)] = round(lake.granary("lake", "housekeep", "--tenants", tenant)[0], 1)
            finally:
                lake.stop_spark()
            marker = _marker(lake.data, ".filled") or {}
            _mark(lake.data, ".filled", {**marker, "housekept": True})
        # The Parquet lake again beside them: the housekept 1-day build is a kept installation's.
        result["after_housekeep"] = {
            "housekeep_s": housekeep_s,
            "lakes": {str(d): lake_shape(lake, tenant) for d, lake in lakes.items()},
            "worker": through_workers(),
        }
    return result


def _cell(build: dict) -> str:
    return "[red]failed[/]" if "failed" in build else f"{build['wall_s']:.1f}s / {build['cpu_s']:.1f}s"


def _ratio_cells(ratio: dict | None) -> tuple[str, str]:
    return ("-", "-") if ratio is None else (f"{ratio['wall']:.2f}x", f"{ratio['cpu']:.2f}x")


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
        "--scratch", type=Path, help="scratch directory, kept with its catalogs (a second run reuses them)"
    )
    parser.add_argument(
        "--parquet-tree",
        type=Path,
        default=REPO.parent / f"{REPO.name}-parquet",
        help=f"where {PARQUET_COMMIT} is (or is checked out as a worktree)",
    )
    parser.add_argument("--no-parquet", dest="parquet", action="store_false", help="skip the Parquet lake")
    parser.add_argument(
        "--no-housekeep", dest="housekeep", action="store_false", help="skip the housekept measurement"
    )
    args = parser.parse_args()
    history = [int(d) for d in args.days.split(",")]
    for name in ("GRANARY_LAKE_ROOT", "GRANARY_LANDING_ROOT", "GRANARY_WAREHOUSE_ROOT", "GRANARY_WORKER"):
        os.environ.pop(name, None)  # every installation here follows its GRANARY_DATA

    old_tree = parquet_tree(args.parquet_tree) if args.parquet else None
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="granary-nightly-"))
    try:
        scales = {
            f"{float(s):g}": bench_scale(float(s), args, history, scratch, old_tree)
            for s in args.scales.split(",")
        }
    finally:
        if not args.scratch:
            for folder in scratch.glob("sf*/*"):
                drop_catalog(catalog_name(folder, "granary_bench_nb"))
            shutil.rmtree(scratch, ignore_errors=True)

    def measurements(result: dict) -> list[tuple[str, dict]]:
        """(label, judged measurement): the night's (through the worker) first, which the targets
        are judged on."""
        found = [("as committed, worker", result["worker"]), ("as committed, by hand", result["cli"])]
        if "after_housekeep" in result:
            found.append(("housekept, worker", result["after_housekeep"]["worker"]))
        return found

    table = Table(
        "scale",
        "lakes, builds",
        *(f"{d} d wall / CPU" for d in history),
        f"{history[-1]}/{history[0]} wall",
        "CPU",
        "target",
        title=f"nightly build of {args.tenant} {args.date} against its lake's history",
    )
    for scale, result in scales.items():
        for label, found in measurements(result):
            cells = [_cell(found["builds"][str(d)]) for d in history]
            verdict = "[green]met[/]" if found["target_met"] else "[red]not met[/]"
            table.add_row(
                f"SF{scale}", label, *cells, *_ratio_cells(found["ratio_longest_to_shortest"]), verdict
            )
    console.print(table)

    def verdicts(judge) -> dict[str, bool]:
        return {
            label: all(
                judge(found)
                for result in scales.values()
                for lbl, found in measurements(result)
                if lbl == label
            )
            for label in {lbl for result in scales.values() for lbl, _ in measurements(result)}
        }

    history_met = verdicts(lambda found: found["target_met"])
    met = history_met["as committed, worker"]
    console.print(
        f"target (the {history[-1]}-day build <= {TARGET_RATIO}x the {history[0]}-day one, lakes as "
        f"committed, builds as the night runs them): {'met' if met else 'NOT met'}; "
        + ", ".join(f"{label}: {'met' if ok else 'not met'}" for label, ok in sorted(history_met.items()))
    )
    parquet_met: dict[str, bool] = {}
    if args.parquet:
        compare = Table(
            "scale", "Iceberg lake, builds", f"Iceberg {history[0]} d wall / CPU", "Parquet 1 d wall / CPU",
            "wall", "CPU", "target",
            title=f"the 1-day build on Iceberg and on the Parquet lake ({PARQUET_COMMIT})",
        )  # fmt: skip
        for scale, result in scales.items():
            for label, found in measurements(result):
                ice, old = found["builds"][str(history[0])], found["parquet"]["build"]
                ratio = found["parquet"]["ratio_iceberg_to_parquet"]
                verdict = "[green]met[/]" if found["parquet"]["target_met"] else "[red]not met[/]"
                compare.add_row(f"SF{scale}", label, _cell(ice), _cell(old), *_ratio_cells(ratio), verdict)
        console.print(compare)
        parquet_met = verdicts(lambda found: found["parquet"]["target_met"])
        console.print(
            f"target (the Iceberg 1-day build <= {PARQUET_RATIO}x the Parquet one, lake as committed, "
            f"builds as the night runs them): {'met' if parquet_met['as committed, worker'] else 'NOT met'}; "
            + ", ".join(f"{label}: {'met' if ok else 'not met'}" for label, ok in sorted(parquet_met.items()))
        )

    record = {
        "benchmark": "nightly_build",
        "tenant": args.tenant,
        "date": args.date.isoformat(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "repeats": args.repeats,
        "target_ratio": TARGET_RATIO,
        "parquet_ratio": PARQUET_RATIO,
        "scales": scales,
        # judged on the lakes as committed and the builds as the night runs them (the worker)
        "target_met": met,
        "parquet_target_met": parquet_met.get("as committed, worker"),
        "by_measurement": {"history": history_met, "parquet": parquet_met},
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "nightly_build.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    try:
        main()
    except CommandFailed as exc:
        sys.exit(str(exc))
