"""The lake's DWS day history: which days it holds, and moving a finished build's day in.

dbt models tagged `lake_history` (dbt_project/macros/lake_history.sql) chain from one day to the
next: a build reads the previous day's partition (and a period's start or base day) and writes its
own day beside the table as `.<model>.dt=<day>.building`. Only when the whole build passed does
`commit` move those in as `dws/<model>/dt=<day>/`, so a failed build never leaves a day a later
build would chain from. Plain Parquet partitions: both engines read them without a catalog, a day is
replaced by one directory rename, and a day is only ever read whole (see docs/history.md).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from granary.core import paths

# The history a build can reach: a year and a day (year-on-year, a year-to-date's start), with room.
HORIZON_DAYS = 400


def _model_dirs(tenant: str) -> list[Path]:
    root = paths.dws_dir(tenant)
    return (
        sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if root.exists()
        else []
    )


def _days(model_dir: Path) -> set[date]:
    return {date.fromisoformat(p.name[3:]) for p in model_dir.glob("dt=*") if p.is_dir()}


def lake_days(tenant: str, before: date) -> list[date]:
    """The days before `before`, within the horizon, for which every history model holds a partition."""
    dirs = _model_dirs(tenant)
    if not dirs:
        return []
    held = set.intersection(*(_days(d) for d in dirs))
    return sorted(d for d in held if before - timedelta(days=HORIZON_DAYS) <= d < before)


def prepare(tenant: str, dt: date) -> str:
    """Make room for a build's day and return GRANARY_DBT_LAKE_DAYS for it."""
    paths.dws_dir(tenant).mkdir(parents=True, exist_ok=True)
    discard(tenant, dt)
    return ",".join(d.isoformat() for d in lake_days(tenant, dt))


def _staged(tenant: str, dt: date) -> dict[str, Path]:
    """Model name -> the day dbt wrote beside it (`.<model>.dt=<day>.building`, lake_history.sql)."""
    suffix = f".dt={dt.isoformat()}.building"
    return {p.name[1 : -len(suffix)]: p for p in sorted(paths.dws_dir(tenant).glob(f".*{suffix}"))}


def commit(tenant: str, dt: date) -> list[Path]:
    """Move the build's days in (replacing a rerun day's), then drop days beyond the horizon."""
    moved = []
    for model, staging in _staged(tenant, dt).items():
        target = paths.partition(paths.dws_dir(tenant) / model, dt)
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced = target.with_name(f".{target.name}.replaced")
        shutil.rmtree(replaced, ignore_errors=True)
        if target.exists():
            target.rename(replaced)
        staging.rename(target)
        shutil.rmtree(replaced, ignore_errors=True)
        moved.append(target)
    expire(tenant, dt)
    return moved


def discard(tenant: str, dt: date) -> None:
    for staging in _staged(tenant, dt).values():
        shutil.rmtree(staging, ignore_errors=True)


def expire(tenant: str, newest: date) -> list[Path]:
    """Drop each model's days older than the horizon before the newest day built."""
    dropped = []
    for model_dir in _model_dirs(tenant):
        days = _days(model_dir)
        latest = max(days | {newest})
        for day in sorted(d for d in days if d < latest - timedelta(days=HORIZON_DAYS)):
            shutil.rmtree(paths.partition(model_dir, day))
            dropped.append(paths.partition(model_dir, day))
    return dropped
