"""The day's steps, one verb each, as Airflow's tasks run them: generate, ingest … publish, run."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from granary.cli.common import (
    DateOpt,
    SourceOpt,
    TenantOpt,
    bank_arg,
    banks_arg,
    fail,
    guard,
    out,
    parse_date,
    step,
)

app = typer.Typer()


@app.command()
def tenants(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the configured banks (validates every tenants/*.yaml)."""
    banks = banks_arg(None)
    if as_json:
        out.print_json(json.dumps([t.model_dump() for t in banks], ensure_ascii=False))
        return
    table = Table("code", "名称", "name", "county", "encoding", "customers@SF1")
    for t in banks:
        table.add_row(t.code, t.name_zh, t.name_en, t.county_zh, t.encoding, str(t.customers_sf1))
    out.print(table)


@app.command()
def generate(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenants", help="comma list; default all")] = None,
    days: Annotated[int, typer.Option(help="number of consecutive days ending at --date")] = 1,
    scale: Annotated[float, typer.Option(help="scale factor; SF1 = the province's full size")] = 0.01,
    seed: Annotated[int, typer.Option(help="same seed, same files")] = 42,
) -> None:
    """Write synthetic core-banking extracts into landing/<tenant>/<dt>/."""
    from granary.generate import generate as run_generate

    end = parse_date(date_)
    dates = [end - timedelta(days=i) for i in reversed(range(days))]
    guard(lambda: run_generate(banks_arg(tenants_), dates, scale=scale, seed=seed))


@app.command()
def load(
    tenant: TenantOpt,
    date_: DateOpt,
    system: Annotated[
        str | None,
        typer.Option("--system", help="a source system (core_banking, …): its tables; see `granary catalog`"),
    ] = None,
    source: SourceOpt = None,
) -> None:
    """Ingest, then clean, one bank's day of a source system's tables (or of --source tables, or of
    all its own extracts): what each Airflow `load.<system>` task runs."""
    from granary.catalog.day import systems

    if system is not None:
        known = {**systems("bank"), **systems("external")}
        if system not in known:
            fail(ValueError(f"unknown source system '{system}'; systems are {', '.join(known)}"), 2)
        source = [*known[system], *(source or [])]
    step("load", tenant, date_, source)


@app.command()
def ingest(tenant: TenantOpt, date_: DateOpt, source: SourceOpt = None) -> None:
    """Spark: landing CSV -> the ODS lake table (typed, lineage columns), one day of one bank."""
    step("ingest", tenant, date_, source)


@app.command()
def clean(tenant: TenantOpt, date_: DateOpt, source: SourceOpt = None) -> None:
    """Spark: ODS -> DWD (codes standardised, deduped, PII tokenised); bad rows quarantined."""
    step("clean", tenant, date_, source)


@app.command()
def validate(tenant: TenantOpt, date_: DateOpt) -> None:
    """Great Expectations: the bank's DWD tables against suites from the source contracts."""
    step("validate", tenant, date_)


@app.command()
def route(tenant: TenantOpt, date_: DateOpt) -> None:
    """Route the day's provider files to one bank: its customers' records and its usage ledger."""
    step("route", tenant, date_)


@app.command()
def transform(tenant: TenantOpt, date_: DateOpt) -> None:
    """dbt build for one bank: DWS summaries, ADS indicators and tags, in warehouse/<bank>.duckdb."""
    step("transform", tenant, date_)


@app.command()
def publish(tenant: TenantOpt, date_: DateOpt) -> None:
    """Copy the bank's ADS tables into its serving database and swap them in atomically (readers see
    the old day or the new one; a failed or killed publish leaves the old day serving)."""
    step("publish", tenant, date_)


@app.command()
def run(
    tenant: TenantOpt,
    date_: Annotated[str | None, typer.Option("--date", "-d", help="one day, YYYY-MM-DD")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first day of a backfill")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last day of a backfill")] = None,
) -> None:
    """All steps for one bank: ingest, clean, validate, transform, publish (day or range)."""
    from granary.pipeline import run as pipeline

    if date_ and (from_ or to):
        fail(ValueError("give --date, or --from and --to, not both"), 2)
    if date_:
        start = end = parse_date(date_)
    elif from_ and to:
        start, end = parse_date(from_), parse_date(to)
    else:
        fail(ValueError("give --date D, or --from D1 --to D2"), 2)
    t = bank_arg(tenant)
    day = start
    while day <= end:
        # the range's last publish restates the served days after the range (each day in it is rebuilt)
        guard(lambda d=day: pipeline.run_all(t, d, restate_later=d == end))
        day += timedelta(days=1)


@app.command()
def restate(
    tenant: TenantOpt,
    from_: Annotated[str, typer.Option("--from", help="the corrected (rerun) day, YYYY-MM-DD")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only say which days would be recomputed")
    ] = False,
) -> None:
    """After a corrected old day: rebuild and republish every later served day that includes it
    (publishing an old day does this by itself: `granary publish`, `granary run`, Airflow)."""
    from granary.pipeline import run as pipeline

    t, rerun = bank_arg(tenant), parse_date(from_)
    later: list = guard(lambda: pipeline.days_to_restate(t, rerun))  # type: ignore[assignment]
    if not later:
        out.print(f"{t.code}: no served day after {rerun}; nothing to recompute")
        return
    if dry_run:
        out.print(f"{t.code}: would recompute {len(later)} day(s): {', '.join(map(str, later))}")
        return
    guard(lambda: pipeline.restate(t, rerun, later))
