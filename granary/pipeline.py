"""A bank's day as named steps; the CLI, Airflow tasks and tests all go through here."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

from rich.console import Console

from granary.tenants import Tenant

STEPS = ("ingest", "clean", "validate", "transform", "publish")
console = Console(stderr=True)


def run_step(name: str, tenant: Tenant, dt: date, sources: Sequence[str] | None = None) -> None:
    """Run one step for one bank and day; raises GranaryError subclasses on failure."""
    started = time.perf_counter()
    if name == "ingest":
        from granary.ingest import ingest

        ingest(tenant, dt, list(sources) if sources else None)
    elif name == "clean":
        from granary.clean import clean

        clean(tenant, dt, list(sources) if sources else None)
    elif name == "validate":
        from granary.validate import validate

        validate(tenant, dt)
    elif name == "transform":
        from granary.transform import transform

        transform(tenant, dt)
    elif name == "publish":
        from granary.publish import publish

        publish(tenant, dt)
    else:
        raise ValueError(f"unknown step '{name}'; steps are {', '.join(STEPS)}")
    console.print(f"[green]✓[/] {name} {tenant.code} {dt} in {time.perf_counter() - started:.1f}s")


def run_all(tenant: Tenant, dt: date) -> dict[str, float]:
    """Every step in order; returns seconds per step (the benchmark reads this)."""
    timings: dict[str, float] = {}
    for step in STEPS:
        started = time.perf_counter()
        run_step(step, tenant, dt)
        timings[step] = time.perf_counter() - started
    return timings
