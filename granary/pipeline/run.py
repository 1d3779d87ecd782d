"""A bank's day as named steps; the CLI, Airflow tasks and tests all go through here.

The day's tasks and their order are written once, in granary/catalog/day.yaml: load (ingest, then
clean) each source system of the bank's own extracts, route the province's external data to the
bank's customers (which needs its clean customer table), load the routed external tables, then the
quality gate, dbt and publish.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta

from rich.console import Console

from granary.catalog import day as bank_day
from granary.catalog.sources import tables_of
from granary.core.errors import TableFailures
from granary.core.tenants import Tenant

# What run_step runs: the day's steps, and ingest and clean on their own (a table rerun by hand).
STEPS = ("ingest", "clean", *bank_day.STEPS)
# A day's values reach at most this far forward: year-on-year compares with the day a year back,
# "since year start" with the last day of the year before.
DEPENDENT_DAYS = 366
console = Console(stderr=True)


def day_plan() -> list[tuple[str, list[str] | None]]:
    """(step, tables) in the order a bank's day runs them (day.yaml's tasks); tables None means
    the step's default."""
    return [(task.step, list(task.tables) or None) for task in bank_day.day_tasks()]


def load(tenant: Tenant, dt: date, sources: Sequence[str] | None) -> None:
    """Ingest, then clean, the tables (the bank's own extracts by default): every table whose ingest
    passed is cleaned, and the tables that failed are raised together after."""
    from granary.pipeline.clean import clean
    from granary.pipeline.ingest import ingest

    tables = list(sources) if sources else tables_of("bank")
    try:
        ingest(tenant, dt, tables)
    except TableFailures as failed:
        try:
            if passed := [t for t in tables if t not in failed.tables]:
                clean(tenant, dt, passed)
        except TableFailures as also:  # both steps' failures, each naming its table
            raise TableFailures({**failed.failures, **also.failures}) from failed
        raise
    clean(tenant, dt, tables)


def run_step(
    name: str, tenant: Tenant, dt: date, sources: Sequence[str] | None = None, restate_later: bool = True
) -> None:
    """Run one step for one bank and day; raises GranaryError subclasses on failure.

    ingest and clean without `sources` take the bank's own extracts (not the routed tables).
    Publishing a day older than days already served restates those (`restate`), unless
    `restate_later` is False (a backfill restates once, after its last day).
    """
    started = time.perf_counter()
    if name == "load":
        load(tenant, dt, sources)
    elif name == "ingest":
        from granary.pipeline.ingest import ingest

        ingest(tenant, dt, list(sources) if sources else None)
    elif name == "clean":
        from granary.pipeline.clean import clean

        clean(tenant, dt, list(sources) if sources else None)
    elif name == "route":
        from granary.pipeline.route import route

        result = route(tenant, dt)
        tables = ", ".join(f"{t} {n}" for t, n in result.by_table.items())
        console.print(f"  routed to {tenant.code}: {tables}; metered {result.amount} 元")
        for missing in result.not_delivered:
            console.print(
                f"[yellow]![/] {tenant.code} {dt}: not delivered yet, nothing routed from {missing}"
            )
    elif name == "validate":
        from granary.pipeline.validate import validate

        validate(tenant, dt)
    elif name == "transform":
        from granary.pipeline.transform import transform

        transform(tenant, dt)
    elif name == "publish":
        from granary.serving.publish import publish

        publish(tenant, dt)
        if restate_later and (later := days_to_restate(tenant, dt)):
            restate(tenant, dt, later)
    else:
        raise ValueError(f"unknown step '{name}'; steps are {', '.join(STEPS)}")
    console.print(f"[green]✓[/] {name} {tenant.code} {dt} in {time.perf_counter() - started:.1f}s")


def run_all(tenant: Tenant, dt: date, restate_later: bool = True) -> dict[str, float]:
    """Every step in order (day_plan); returns seconds per step name (the benchmark reads this)."""
    timings: dict[str, float] = dict.fromkeys(bank_day.STEPS, 0.0)
    for step, tables in day_plan():
        started = time.perf_counter()
        run_step(step, tenant, dt, tables, restate_later)
        timings[step] += time.perf_counter() - started
    return timings


def days_to_restate(tenant: Tenant, rerun: date) -> list[date]:
    """The served days after `rerun` whose period values (MTD, L90D, YoY, ...) may include it."""
    from granary.serving.history import served_days

    return [d for d in served_days(tenant) if rerun < d <= rerun + timedelta(days=DEPENDENT_DAYS)]


def restate(tenant: Tenant, rerun: date, days: Sequence[date]) -> None:
    """Rebuild and republish each later day, in order, so it includes the corrected `rerun` day."""
    shown = ", ".join(str(d) for d in days[:5]) + (f" … {days[-1]}" if len(days) > 5 else "")
    console.print(
        f"{tenant.code}: {len(days)} served day(s) after {rerun} include it in their periods; "
        f"recomputing them: {shown}"
    )
    for day in days:
        run_step("transform", tenant, day)
        run_step("publish", tenant, day, restate_later=False)
