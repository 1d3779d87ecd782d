"""Backfill and correction through the CLI: `granary run --from D1 --to D3` runs every step per day;
then day 1's loan extract is corrected and `granary run --date D1` reruns it: every other DWD
day keeps its rows (the days not rerun keep their very data files), the served history of day 1
changes by exactly the correction, the later days' period values that include day 1 are
recomputed (the rerun restates them), serving still serves day 3, and `granary history` shows both
versions of day 1 with their publish times. Then the three days built from scratch (no DWS day
history in the lake) equal the incremental result.

The backfill has its own data root and serving database; it shares the session's Spark server,
secrets and lake catalog. The Spark server names one catalog, so the bank's lake tables are the
session's tables of the bank: its days (DAYS, September 2026) lie months from the session's
(day_fixtures), beyond any build's reach, so the session's published day is neither read nor
overwritten, and this test only looks at the days near its own (NEAR).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from support.lake import day_files, day_rows

from granary.catalog.sources import contracts
from granary.core import config, paths
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import get_tenant
from granary.lake import diff, iceberg, tables
from granary.pipeline import dws_history
from granary.serving.connection import tenant_connect
from granary.serving.databases import drop_serving
from granary.serving.publish import init_serving

pytestmark = pytest.mark.slow

# A bank of tenants/ no other test runs: the session's lake catalog is shared, and a bank's day
# history chains from any earlier day its tables hold.
BANK = "baishan"
D1 = date(2026, 9, 14)
DAYS = [D1 + timedelta(days=i) for i in range(3)]
SERVING_DB = "granary_serving_backfill_test"
# The days around the backfill's: what a run of DAYS could have written by mistake.
NEAR = [D1 + timedelta(days=n) for n in range(-60, len(DAYS) + 60)]
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
        init_serving([get_tenant(BANK)])
        yield env
        drop_serving([get_tenant(BANK)])
        tables.drop_namespace(BANK)
    config.settings.cache_clear()


def granary(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GRANARY), *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"granary {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def dwd_days() -> dict[tuple[str, date], tuple[list[str], pa.Table]]:
    """(table, day) -> the data files that hold the day and its rows (in their order), for every DWD
    table of the bank and every day of DAYS."""
    return {
        (table, day): (day_files(BANK, "dwd", table, day), day_rows(BANK, "dwd", table, day))
        for table in contracts()
        for day in DAYS
    }


def days_held(table: str) -> list[date]:
    """The days near the backfill's that the bank's DWD table holds: with rows, or written empty (the
    commit that wrote a day records it; an empty day has no data file)."""
    rows = tables.read_days(BANK, "dwd", table, NEAR, columns=["dt"])
    assert rows is not None, f"no lake table {tables.spark_name(BANK, 'dwd', table)}"
    held = set(rows.column("dt").to_pylist())
    lake_table = tables.load(BANK, "dwd", table)
    for snapshot in lake_table.metadata.snapshots:
        if written := (snapshot.summary or {}).get(tables.DAY_PROPERTY):
            held.add(date.fromisoformat(written))
    return sorted(held & set(NEAR))


def correct_a_loan(day: date) -> float:
    """Halve the balance of the first loan with one in the day's extract, as a bank's corrected
    re-export would; returns the change in 元."""
    extract = paths.landing_file(BANK, day, "loan")
    encoding = get_tenant(BANK).encoding
    with extract.open(encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))
    balance = rows[0].index("balance")
    row = next(r for r in rows[1:] if float(r[balance]) >= 1.0)
    old = float(row[balance])
    row[balance] = f"{old / 2:.2f}"
    with extract.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return float(row[balance]) - old


def served(codes: tuple[str, ...]) -> dict[tuple[date, str], float]:
    """(day, indicator) -> the bank-grain value its served history holds, read as the bank's role."""
    with tenant_connect(get_tenant(BANK)) as conn:
        rows = conn.execute(
            "select dt, indicator_code, value from ads_indicator_series where grain = 'bank'"
            " and indicator_code = any(%s)",
            (list(codes),),
        ).fetchall()
    return {(dt, code): value for dt, code, value in rows}


def test_backfill_then_correct_the_first_day(backfill_env: dict[str, str]) -> None:
    granary(backfill_env, "generate", "--tenants", BANK, "--date", str(DAYS[-1]), "--days", "3")
    granary(backfill_env, "run", "--tenant", BANK, "--from", str(DAYS[0]), "--to", str(DAYS[-1]))

    for table in contracts():
        assert days_held(table) == DAYS, table
        for day in DAYS:
            assert tables.day_written(BANK, "dwd", table, day), (table, day)
    schema = get_tenant(BANK).serving_schema
    with admin_connect(serving_database(get_tenant(BANK))) as conn:
        published = conn.execute(f"select distinct dt from {schema}.publish_info").fetchall()
        quality_days = conn.execute(f"select distinct dt from {schema}.ads_data_quality").fetchall()
        history_days = conn.execute(f"select dt from {schema}.ads_served_day order by dt").fetchall()
    assert published == [(DAYS[-1],)]
    assert quality_days == [(DAYS[-1],)]  # the published day's quality results travel with it
    assert history_days == [(d,) for d in DAYS]

    codes = ("LOAN_BAL__D__BANK", "LOAN_BAL__MTD__BANK", "LOAN_BAL__L30D__BANK")
    before_values, before_days = served(codes), dwd_days()
    assert len(before_days) == 3 * len(contracts())
    assert any(files for files, _ in before_days.values())
    delta = correct_a_loan(DAYS[0])
    rerun = granary(backfill_env, "run", "--tenant", BANK, "--date", str(DAYS[0]))
    assert f"recomputing them: {DAYS[1]}, {DAYS[2]}" in " ".join(rerun.stderr.split())

    # A rerun is deterministic: only the corrected extract's day has other rows (every table's day 1
    # was written again, as new files: same rows in the same order); the other days were not touched.
    after_days = dwd_days()
    assert after_days.keys() == before_days.keys()
    changed = {key for key, (_, rows) in before_days.items() if not after_days[key][1].equals(rows)}
    assert changed == {("loan", DAYS[0])}, changed
    moved = {
        key for key, (files, _) in before_days.items() if key[1] != DAYS[0] and after_days[key][0] != files
    }
    assert not moved, moved

    # Day 1 moved by the correction; days 2 and 3 by their share of it in the periods that hold
    # day 1 (averages over the days the lake holds in the window), their own day untouched.
    after_values = served(codes)
    expected = {
        (DAYS[0], "LOAN_BAL__D__BANK"): delta,
        (DAYS[1], "LOAN_BAL__D__BANK"): 0.0,
        (DAYS[2], "LOAN_BAL__D__BANK"): 0.0,
        (DAYS[1], "LOAN_BAL__MTD__BANK"): delta / 2,
        (DAYS[2], "LOAN_BAL__MTD__BANK"): delta / 3,
        (DAYS[1], "LOAN_BAL__L30D__BANK"): delta / 2,
        (DAYS[2], "LOAN_BAL__L30D__BANK"): delta / 3,
    }
    for key, change in expected.items():
        assert after_values[key] - before_values[key] == pytest.approx(change, rel=1e-9, abs=1e-6), key

    # Serving never went back in time: day 3 still serves, whole.
    with admin_connect(serving_database(get_tenant(BANK))) as conn:
        assert conn.execute(f"select distinct dt from {schema}.publish_info").fetchall() == [(DAYS[-1],)]
        assert conn.execute(f"select distinct dt from {schema}.ads_customer_tag").fetchall() == [(DAYS[-1],)]

    # The audit shows both versions of day 1, with when each was published and what changed.
    audit = json.loads(
        granary(
            backfill_env, "history", "--tenant", BANK, "--date", str(DAYS[0]),
            "--indicator", "LOAN_BAL__D__BANK", "--json",
        ).stdout
    )  # fmt: skip
    first, second = audit["versions"]
    assert first["replaced_by"] == second["publish_id"] and second["replaced_at"] is None
    assert first["published_at"] < first["replaced_at"] and first["published_at"] < second["published_at"]
    assert first["values_changed_by_replacement"] > 0
    by_version = {v["publish_id"]: v["value"] for v in audit["values"]}
    assert by_version[first["publish_id"]] == pytest.approx(before_values[(DAYS[0], "LOAN_BAL__D__BANK")])
    assert by_version[second["publish_id"]] == pytest.approx(after_values[(DAYS[0], "LOAN_BAL__D__BANK")])

    # Each version names the lake snapshots it was built from; the lake says what the correction changed.
    built_from = first["lake_snapshots"], second["lake_snapshots"]
    assert set(built_from[0]) == set(built_from[1]) == {f"dwd_{t}" for t in contracts()}
    assert built_from[0]["dwd_loan"] != built_from[1]["dwd_loan"]
    lake_diff = granary(
        backfill_env, "lake", "diff", "--tenant", BANK, "--table", "dwd_loan", "--date", str(DAYS[0]),
        "--before", str(built_from[0]["dwd_loan"]), "--after", str(built_from[1]["dwd_loan"]),
    )  # fmt: skip
    assert "1 row(s) gone, 1 row(s) new" in " ".join(lake_diff.stderr.split())
    changed_rows = diff.day_diff(
        BANK, "dwd_loan", DAYS[0], built_from[0]["dwd_loan"], built_from[1]["dwd_loan"]
    )
    [gone], [new] = changed_rows.removed, changed_rows.added
    assert gone["loan_id"] == new["loan_id"] and float(new["balance"]) - float(
        gone["balance"]
    ) == pytest.approx(delta)


@contextmanager
def _installation(env: dict[str, str]) -> Iterator[None]:
    """This process's settings as another installation's (the environment `env`), for a moment."""
    saved = dict(os.environ)
    os.environ.update(env)
    config.settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        config.settings.cache_clear()


def _build_days(env: dict[str, str], root: Path) -> dict[tuple, float | None]:
    """Each day built in order by `granary transform` in the installation `env`: every indicator
    value of every day, as each day's build left it."""
    built: dict[tuple, float | None] = {}
    for day in DAYS:
        granary(env, "transform", "--tenant", BANK, "--date", str(day))
        with duckdb.connect(str(root / "warehouse" / f"{BANK}.duckdb"), read_only=True) as wh:
            rows = wh.execute(
                "select dt, grain, grain_id, indicator_code, value from ads_indicator_value"
            ).fetchall()
        built.update({tuple(r[:4]): r[4] for r in rows})
    return built


def test_a_from_scratch_build_equals_the_incremental_one(
    backfill_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """After the correction (the test above), the three days built again in order from DWD alone, in
    a lake without the DWS day history, give every served indicator value of every day (bank, branch,
    manager, village) and every value of the last day (customers too) at relative 1e-9.

    The scratch installation has a catalog of its own, in which the bank's DWD tables are registered
    at their current metadata (the same files, read where they lie) and no day-history table exists:
    its builds make their own. Its lake gets the bank's quality and reconciliation folders."""
    served_rows = _served_values()
    assert {dt for dt, *_ in served_rows} == set(DAYS), "run the backfill test first"
    scratch = tmp_path_factory.mktemp("from-scratch")
    shutil.copytree(
        paths.lake_dir(BANK), scratch / "lake" / BANK, ignore=shutil.ignore_patterns(*tables.tables_of(BANK))
    )
    dwd = {
        name: tables.load(BANK, "dwd", table).metadata_location
        for table, name in tables.layer_tables(BANK, "dwd").items()
    }
    env = {
        **backfill_env,
        "GRANARY_DATA": str(scratch),
        "GRANARY_RUN_DIR": str(scratch / "run"),
        "GRANARY_LAKE_CATALOG": f"{config.settings().lake_catalog}_scratch",
    }
    with _installation(env):
        iceberg.ensure_catalog()
        iceberg.catalog().create_namespace_if_not_exists(BANK)
        for name, metadata in dwd.items():
            iceberg.catalog().register_table(f"{BANK}.{name}", metadata)
        assert dws_history.history_tables(BANK) == []
    try:
        from_scratch = _build_days(env, scratch)
    finally:
        with _installation(env):
            iceberg.drop_catalog()
    with duckdb.connect(str(paths.warehouse_db(BANK)), read_only=True) as wh:
        last_day = wh.execute(
            "select dt, grain, grain_id, indicator_code, value from ads_indicator_value"
        ).fetchall()
    incremental = {tuple(r[:4]): r[4] for r in served_rows + last_day}
    assert set(incremental) <= set(from_scratch)
    assert len(incremental) > 10_000
    differ = [
        (key, value, from_scratch[key])
        for key, value in incremental.items()
        if (value is None) != (from_scratch[key] is None)
        or (value is not None and from_scratch[key] != pytest.approx(value, rel=1e-9, abs=1e-9))
    ]
    assert not differ, differ[:10]


def _served_values() -> list[tuple]:
    with tenant_connect(get_tenant(BANK)) as conn:
        return conn.execute(
            "select dt, grain, grain_id, indicator_code, value from ads_indicator_series"
        ).fetchall()
