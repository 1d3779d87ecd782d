"""`granary lake …`: the lake's catalog, its upkeep, and what a correction changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from granary.cli.common import DateOpt, TenantOpt, bank_arg, banks_arg, console, guard, out, parse_date
from granary.core.config import settings

lake_app = typer.Typer(help="The lake: Iceberg tables, one namespace per bank, the catalog in PostgreSQL.")


@lake_app.command("init")
def lake_init() -> None:
    """Create the Iceberg catalog's database and login role in PostgreSQL (idempotent)."""
    from granary.lake import iceberg

    guard(iceberg.ensure_catalog)
    console.print(
        f"[green]✓[/] lake catalog {iceberg.catalog_database()} (login {iceberg.catalog_role()}), "
        f"tables under {iceberg.warehouse()}"
    )


@lake_app.command("housekeep")
def lake_housekeep(
    tenants: Annotated[
        str | None,
        typer.Option("--tenants", help="bank codes, comma-separated; default: all, and the province's"),
    ] = None,
    province: Annotated[
        bool, typer.Option("--province", help="only the province's own tables (the external data ledger)")
    ] = False,
    orphan_grace_hours: Annotated[
        float, typer.Option(help="only files older than this can be orphans (a write may be in flight)")
    ] = 24.0,
) -> None:
    """Expire snapshots older than the installation's retention (GRANARY_LAKE_SNAPSHOT_RETENTION_DAYS),
    compact small files and manifests, and remove orphan files, table by table."""
    from granary.core.paths import PROVINCE
    from granary.lake import housekeeping
    from granary.pipeline.spark import get_session, spark_errors

    if province and tenants:
        raise typer.BadParameter("give --tenants or --province, not both")
    codes = [] if province else [t.code for t in banks_arg(tenants)]
    if province or tenants is None:
        codes.append(PROVINCE)  # its namespace, housekept like a bank's
    retain = timedelta(days=settings().lake_snapshot_retention_days)
    grace = timedelta(hours=orphan_grace_hours)

    def run() -> None:
        spark = get_session()
        for code in codes:
            with (
                spark_errors(f"housekeeping {code}'s lake tables"),
                console.status(f"lake housekeep {code}…"),
            ):
                done = housekeeping.housekeep(spark, code, retain, grace)
            totals = {k: sum(getattr(u, k) for u in done) for k in housekeeping.Upkeep.COUNTS}
            console.print(
                f"[green]✓[/] {code}: {len(done)} tables; "
                + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in totals.items())
            )

    guard(run)


@lake_app.command("diff")
def lake_diff(
    tenant: TenantOpt,
    table: Annotated[str, typer.Option("--table", help="lake table, e.g. dwd_loan")],
    day: DateOpt,
    before: Annotated[
        int | None, typer.Option(help="snapshot id to compare from; default: the one before")
    ] = None,
    after: Annotated[
        int | None, typer.Option(help="snapshot id to compare to; default: the current one")
    ] = None,
) -> None:
    """The rows of one day a correction changed between two snapshots of a lake table."""
    from granary.lake import diff

    bank = bank_arg(tenant)

    def run() -> None:
        changes = diff.day_diff(bank.code, table, parse_date(day), before, after)
        console.print(
            f"{bank.code}.{table} {day}: snapshot {changes.before} → {changes.after}: "
            f"{len(changes.removed)} row(s) gone, {len(changes.added)} row(s) new"
        )
        for title, rows in (("gone (before)", changes.removed), ("new (after)", changes.added)):
            if not rows:
                continue
            shown = Table(title=title)
            for column in rows[0]:
                shown.add_column(column)
            for row in rows:
                shown.add_row(*(str(v) for v in row.values()))
            out.print(shown)

    guard(run)


@lake_app.command("migrate")
def lake_migrate(
    tenants: Annotated[
        str | None, typer.Option("--tenants", help="bank codes, comma-separated; default: all")
    ] = None,
) -> None:
    """Convert the Parquet lake of an older installation (lake/<bank>/<layer>/<table>/dt=…, and the
    province's ledger files) into Iceberg tables in place: each day checked (rows and content), then
    the old folders removed. Idempotent and resumable: run it again after a stop."""
    from granary.lake import migrate
    from granary.pipeline import dws_history

    def run() -> None:
        for bank in banks_arg(tenants):
            found, ledger = migrate.old_days(bank.code), migrate.old_ledger_files(bank.code)
            if not found and not ledger:
                console.print(f"[green]✓[/] {bank.code}: no Parquet lake left to migrate")
                continue
            what = f"{len(found)} table days, {len(ledger)} ledger days"
            with console.status(f"migrating {bank.code}: {what}…"):
                done = migrate.migrate(bank.code)
                history = dws_history.record_migrated(bank.code, done)
                ledger_days = migrate.migrate_ledger(bank.code)
            written = sum(not m.already for m in done)
            console.print(
                f"[green]✓[/] {bank.code}: {len(done)} table days checked ({written} written, "
                f"{len(done) - written} already there), {sum(m.rows for m in done)} rows; "
                f"{len(history)} history days; {ledger_days} ledger days into the province's ledger table; "
                "the Parquet folders removed"
            )

    guard(run)
