"""Benchmark: ingest + clean of one generated day per bank, on the Iceberg lake and on the old
Parquet lake (the last commit before Iceberg, PARQUET_COMMIT), side by side in one run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ingest_clean.py --scale 0.1 --tenants qingshan,hexi
        [--date 2026-11-20] [--repeats 2] [--warmup 1] [--parquet-tree ../wt-parquet] [--keep]

Two sides, each with its own code, data root (landing, lake, warehouse), run directory and Spark
Connect server on a free port: `iceberg` is this checkout, its server started with a lake catalog
of its own (a scratch GRANARY_LAKE_CATALOG, dropped at the end); `parquet` is PARQUET_COMMIT checked
out as a git worktree (--parquet-tree, added if missing, its .venv and .jars linked to this
checkout's) and run with PYTHONPATH pointing at it; its server needs no catalog. Each side
generates the day with its own code (the generator did not change: the same seed gives the same
files, which the recorded rows check), then a worker process of its own code runs `ingest` and
`clean` of every generated source table per bank: --warmup untimed rounds per side (the first
write creates the lake's tables; the server's JIT warms up), then --repeats timed rounds, the
sides alternating (ABBA). Timed is each bank's ingest and clean inside the worker (the session on
the server already open); the server's CPU (user + system of its JVM) over each round is recorded
beside it. Best of the repeats per side; target: the Iceberg side at most TARGET_RATIO x the
Parquet side's seconds. Records rows in, seconds and rows per second per bank and in total to
benchmarks/results/ingest_clean-sf<scale>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
# The last commit of the Hive-style Parquet lake (lake/<bank>/<layer>/<table>/dt=<day>/).
PARQUET_COMMIT = "7e332b8"
TARGET_RATIO = 1.1
RESULT_MARK = "INGEST_CLEAN_RESULT "
# The `granary` command of whichever checkout PYTHONPATH names (the venv's script is the same code).
LAUNCH = "import sys; sys.argv[0] = 'granary'; from granary.cli.launch import main; main()"


# --- two checkouts side by side (also used by benchmarks/nightly_build.py) -----------------------


def parquet_tree(path: Path) -> Path:
    """PARQUET_COMMIT's code at `path`: a git worktree of this repository, added if missing, with
    .venv and .jars linked to this checkout's (the same environment; only the code differs)."""
    path = path.resolve()
    if not (path / "granary").is_dir():
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), PARQUET_COMMIT],
            check=True,
            capture_output=True,
        )
    head = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not head.startswith(PARQUET_COMMIT):
        sys.exit(f"{path} is at {head[:12]}, not {PARQUET_COMMIT}: give --parquet-tree another folder")
    for link in (".venv", ".jars"):
        if not (path / link).exists():
            (path / link).symlink_to((REPO / link).resolve())
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def catalog_name(data: Path, prefix: str) -> str:
    """A lake catalog (PostgreSQL database and role) of the benchmark's own, named after its data."""
    return f"{prefix}_{hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:12]}"


class CommandFailed(RuntimeError):
    """A side's `granary` command exited non-zero (the message ends with its standard error)."""


@dataclass
class Side:
    """One checkout's installation: its code (tree), data root, run directory, lake catalog and
    Spark Connect server address. `granary` runs its CLI with them."""

    name: str
    tree: Path
    data: Path
    catalog: str
    port: int = 0
    landing: Path | None = None  # another root's landing, to share its generated files

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.started = False
        self.worker_pid: int | None = None  # while set, commands go to the side's resident worker

    @property
    def remote(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.tree),
            "GRANARY_HOME": str(self.tree),
            "GRANARY_DATA": str(self.data),
            "GRANARY_RUN_DIR": str(self.data / ".run"),
            "GRANARY_LAKE_CATALOG": self.catalog,
            "GRANARY_SPARK_REMOTE": self.remote,
        }
        # Roots follow GRANARY_DATA; a resident worker would run another installation's code.
        for name in ("GRANARY_LAKE_ROOT", "GRANARY_LANDING_ROOT", "GRANARY_WAREHOUSE_ROOT", "GRANARY_WORKER"):
            env.pop(name, None)
        if self.landing is not None:
            env["GRANARY_LANDING_ROOT"] = str(self.landing)
        if self.worker_pid is not None:
            env["GRANARY_WORKER"] = str(self.data / ".run" / "worker.sock")
        return env

    def granary(self, *args: str) -> tuple[float, float]:
        """Run this side's `granary` CLI; (wall seconds, CPU seconds of the process and children,
        and with a worker, of the worker's child that ran the command)."""
        # -P: the working directory's checkout must not shadow PYTHONPATH's
        command = [sys.executable, "-P", "-c", LAUNCH, *args]
        before = self.worker_children_cpu()
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=self.tree, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise CommandFailed(f"[{self.name}] granary {' '.join(args)} failed:\n{stderr[-3000:]}")
        if "no worker took the command" in stderr:
            raise CommandFailed(f"[{self.name}] granary {' '.join(args)} ran without the worker:\n{stderr}")
        return wall, usage.ru_utime + usage.ru_stime + self.worker_children_cpu() - before

    def start_worker(self) -> None:
        """Start the side's resident worker (its code's preloads done) and send commands to it, as
        Airflow's tasks do (`granary airflow start` sets GRANARY_WORKER)."""
        self.granary("worker", "start")
        pid_file = self.data / ".run" / "worker.pid"
        self.worker_pid = int(pid_file.read_text().strip())

    def stop_worker(self) -> None:
        if self.worker_pid is not None:
            self.worker_pid = None
            self.granary("worker", "stop")

    def worker_children_cpu(self) -> float:
        """CPU seconds (user + system) of the worker's finished children: the commands it ran (it
        waits for each before it answers with the exit code). 0 without a worker."""
        if self.worker_pid is None:
            return 0.0
        fields = Path(f"/proc/{self.worker_pid}/stat").read_text().rsplit(")", 1)[1].split()
        cutime, cstime = (int(v) for v in fields[13:15])
        return (cutime + cstime) / os.sysconf("SC_CLK_TCK")

    def start_spark(self) -> float:
        """Start this side's Spark Connect server (its catalog created first on the Iceberg side);
        seconds taken."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()  # free now: `spark start` would take a server found there for its own
        self.started = True
        return round(self.granary("spark", "start")[0], 1)

    def stop_spark(self) -> None:
        if self.started:
            self.granary("spark", "stop")
            self.started = False

    def server_cpu(self) -> float:
        """CPU seconds (user + system) the side's Spark server has used so far (0 if not found)."""
        pids = list((self.data / ".run" / "spark" / "pids").glob(f"spark-granary-{self.port}-*.pid"))
        try:
            fields = Path(f"/proc/{int(pids[0].read_text().strip())}/stat").read_text().rsplit(")", 1)[1]
        except (IndexError, OSError, ValueError):
            return 0.0
        utime, stime = (int(v) for v in fields.split()[11:13])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")


@contextmanager
def granary_env(**values: str):
    """This process's granary settings from these variables for the block (settings re-read)."""
    from granary.core import config

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    config.settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.settings.cache_clear()


def drop_catalog(name: str) -> None:
    """Drop a benchmark's lake catalog (database and role); its files go with its data root."""
    from granary.lake import iceberg

    with granary_env(GRANARY_LAKE_CATALOG=name):
        iceberg.drop_catalog()


# --- the worker: one side's ingest + clean, run with that side's code ----------------------------


def run_bank(tenant, dt: date) -> dict:
    from granary.catalog.sources import contracts
    from granary.core import paths
    from granary.pipeline.clean import clean
    from granary.pipeline.ingest import ingest

    tables = [t for t in contracts() if paths.landing_file(tenant.code, dt, t).is_file()]
    landed = sum(paths.landing_file(tenant.code, dt, t).stat().st_size for t in tables)
    t0 = time.perf_counter()
    ingest(tenant, dt, tables)
    t1 = time.perf_counter()
    clean(tenant, dt, tables)
    t2 = time.perf_counter()
    per_table = {}
    for table in tables:
        recon = json.loads(paths.reconciliation_file(tenant.code, table, dt).read_text(encoding="utf-8"))
        per_table[table] = {k: recon[k] for k in ("rows_in", "rows_clean", "rows_quarantined")}
    rows_in = sum(t["rows_in"] for t in per_table.values())
    seconds = t2 - t0
    return {
        "tables": per_table,
        "landing_mb": round(landed / 1e6, 2),
        "rows_in": rows_in,
        "ingest_s": round(t1 - t0, 2),
        "clean_s": round(t2 - t1, 2),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows_in / seconds, 1),
    }


def worker(codes: list[str], dt: date) -> None:
    """Ingest and clean each bank's day with this process's code and settings; print the timings."""
    import logging

    from granary.core.tenants import get_tenant
    from granary.pipeline.spark import close_client_session, get_session

    logging.disable(logging.WARNING)
    get_session()  # the session is opened before the clock starts, on both sides
    banks = {code: run_bank(get_tenant(code), dt) for code in codes}
    close_client_session()
    import granary

    print(RESULT_MARK + json.dumps({"code": granary.__file__, "banks": banks}), flush=True)


def run_worker(side: Side, codes: list[str], dt: date) -> dict:
    """One round of a side: its worker process; the banks' timings, wall of the process and the
    server's CPU over it."""
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", "--tenants", ",".join(codes)]
    command += ["--date", dt.isoformat()]
    cpu_before = side.server_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=side.tree, env=side.env(), capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        sys.exit(f"[{side.name}] ingest + clean failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    found = json.loads(lines[-1].removeprefix(RESULT_MARK))
    if not Path(found["code"]).resolve().is_relative_to(side.tree.resolve()):
        sys.exit(f"[{side.name}] the worker ran {found['code']}, not the code of {side.tree}")
    banks = found["banks"]
    return {
        "banks": banks,
        "seconds": round(sum(b["seconds"] for b in banks.values()), 2),
        "process_s": round(wall, 2),
        "server_cpu_s": round(side.server_cpu() - cpu_before, 2),
    }


# --- the run ---------------------------------------------------------------------------------------


def best_round(rounds: list[dict]) -> dict:
    """The round with the fewest seconds, with the rows per second of its banks and total."""
    best = min(rounds, key=lambda r: r["seconds"])
    rows = sum(b["rows_in"] for b in best["banks"].values())
    return {
        "banks": best["banks"],
        "total": {
            "rows_in": rows,
            "seconds": best["seconds"],
            "rows_per_s": round(rows / best["seconds"], 1),
            # the least of the rounds, as the seconds are (a round's CPU is not its seconds' round's)
            "server_cpu_s": min(r["server_cpu_s"] for r in rounds),
        },
        "runs": [
            {
                "seconds": r["seconds"],
                "process_s": r["process_s"],
                "server_cpu_s": r["server_cpu_s"],
                "per_bank": {c: [b["ingest_s"], b["clean_s"]] for c, b in r["banks"].items()},
            }
            for r in rounds
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--tenants", default="qingshan,hexi", help="comma list; 'all' for every bank")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per side")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds per side first")
    parser.add_argument(
        "--parquet-tree",
        type=Path,
        default=REPO.parent / f"{REPO.name}-parquet",
        help=f"where {PARQUET_COMMIT} is (or is checked out as a worktree)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch data and lake catalog")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tenants == "all":
        from granary.core.tenants import load_tenants

        args.tenants = ",".join(t.code for t in load_tenants())
    codes = args.tenants.split(",")
    if args.worker:
        worker(codes, args.date)
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    old_tree = parquet_tree(args.parquet_tree)
    scratch = Path(tempfile.mkdtemp(prefix=f"granary-ingest-clean-sf{args.scale:g}-"))
    iceberg_data = scratch / "iceberg"
    sides = [
        Side("iceberg", REPO, iceberg_data, catalog_name(iceberg_data, "granary_bench_ic")),
        # The old code reads no catalog: its name is set only to keep it off the installation's.
        Side("parquet", old_tree, scratch / "parquet", catalog_name(scratch / "parquet", "granary_bench_ic")),
    ]
    rounds: dict[str, list[dict]] = {s.name: [] for s in sides}
    setup: dict[str, dict] = {}
    try:
        for side in sides:
            server_s = side.start_spark()
            console.print(f"[bold]{side.name}[/] ({side.tree}): Spark server on {side.remote}, generate")
            generate_s, _ = side.granary(
                "generate", "--tenants", args.tenants, "--date", args.date.isoformat(), "--days", "1",
                "--scale", f"{args.scale:g}", "--seed", str(args.seed),
            )  # fmt: skip
            setup[side.name] = {"server_start_s": server_s, "generate_s": round(generate_s, 2)}
        for n in range(args.warmup):
            for side in sides:
                result = run_worker(side, codes, args.date)
                console.print(f"  warm-up {n + 1} {side.name}: {result['seconds']:.1f}s (not counted)")
        for n in range(args.repeats):
            for side in sides if n % 2 == 0 else sides[::-1]:
                result = run_worker(side, codes, args.date)
                rounds[side.name].append(result)
                console.print(
                    f"  run {n + 1} {side.name}: {result['seconds']:.1f}s ingest + clean, "
                    f"server {result['server_cpu_s']:.1f} CPU-s"
                )
    finally:
        for side in sides:
            try:
                side.stop_spark()
            except CommandFailed as exc:
                console.print(f"[red]{exc}[/]")
        if not args.keep:
            for side in sides:
                drop_catalog(side.catalog)
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            console.print(f"kept {scratch} and lake catalog {sides[0].catalog}")

    results = {name: best_round(r) for name, r in rounds.items()}
    iceberg, parquet = results["iceberg"], results["parquet"]
    ratio = round(iceberg["total"]["seconds"] / parquet["total"]["seconds"], 3)
    cpu_ratio = (
        round(iceberg["total"]["server_cpu_s"] / parquet["total"]["server_cpu_s"], 3)
        if parquet["total"]["server_cpu_s"]
        else None
    )
    met = ratio <= TARGET_RATIO
    same_rows = all(
        iceberg["banks"][c]["tables"] == parquet["banks"][c]["tables"] for c in codes
    )  # the same input and the same cleaning on both sides

    table = Table(
        "bank", "side", "tables", "rows in", "MB", "ingest", "clean", "seconds", "rows/s",
        title=f"ingest + clean at SF{args.scale:g} ({args.date}), best of {args.repeats}",
    )  # fmt: skip
    for code in codes:
        for name, result in results.items():
            b = result["banks"][code]
            table.add_row(
                code, name, str(len(b["tables"])), f"{b['rows_in']:,}", f"{b['landing_mb']:.1f}",
                f"{b['ingest_s']:.1f}s", f"{b['clean_s']:.1f}s", f"{b['seconds']:.1f}s",
                f"{b['rows_per_s']:,.0f}",
            )  # fmt: skip
    for name, result in results.items():
        t = result["total"]
        cells = [f"{t['rows_in']:,}", "", "", "", f"{t['seconds']:.1f}s", f"{t['rows_per_s']:,.0f}"]
        table.add_row("total", name, "", *cells)
    console.print(table)
    verdict = "[green]met[/]" if met else "[red]NOT met[/]"
    console.print(
        f"iceberg / parquet: {ratio:.2f}x wall (server CPU {cpu_ratio}x); "
        f"target <= {TARGET_RATIO}x: {verdict}"
    )
    if not same_rows:
        console.print("[yellow]the two sides did not read and clean the same rows: see the record[/]")

    record = {
        "benchmark": "ingest_clean",
        "scale": args.scale,
        "date": args.date.isoformat(),
        "tenants": codes,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        # other work on the machine skews the figures: the 1-minute load average when the run ended
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "parquet_commit": PARQUET_COMMIT,
        "setup": setup,
        # the Iceberg side's figures, as this record held before the comparison
        "banks": iceberg["banks"],
        "total": iceberg["total"],
        "sides": results,
        "same_rows_both_sides": same_rows,
        "ratio_iceberg_to_parquet": {"wall": ratio, "server_cpu": cpu_ratio},
        "target_ratio": TARGET_RATIO,
        "target_met": met,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ingest_clean-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    try:
        main()
    except CommandFailed as exc:
        sys.exit(str(exc))
