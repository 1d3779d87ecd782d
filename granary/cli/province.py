"""The province's verbs: ops records and marts, external data (providers, routing, bills)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from granary.cli.common import DateOpt, TenantOpt, bank_arg, banks_arg, guard, out, parse_date, step

ops_app = typer.Typer(help="The province's ops records: how each bank's runs and publishes ended.")
external_app = typer.Typer(help="External data: provider catalog, routing to banks, usage ledger, bills.")


@ops_app.command("record-run")
def ops_record_run(
    tenant: TenantOpt,
    date_: DateOpt,
    dag_id: Annotated[str, typer.Option("--dag-id")],
    run_id: Annotated[str, typer.Option("--run-id")],
    state: Annotated[str, typer.Option("--state", help="success | failed")],
    failed_task: Annotated[str | None, typer.Option("--failed-task")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    exit_code: Annotated[int | None, typer.Option("--exit-code", help="the failed step's exit code")] = None,
) -> None:
    """Record how a bank DAG run ended in the province's ops.dag_run (the DAGs' callbacks call this);
    a failure is also alerted, once per bank, day and task (granary.alerts)."""
    from granary.province import ops

    if state not in ops.RUN_STATES:
        raise typer.BadParameter(f"--state must be one of {', '.join(ops.RUN_STATES)}")
    day = parse_date(date_)
    guard(lambda: ops.record_run(tenant, day, dag_id, run_id, state, failed_task, reason))
    if state == "failed" and failed_task:
        from granary.alerts.notify import notify_failure

        bank = bank_arg(tenant)
        guard(lambda: notify_failure(bank, day, dag_id, run_id, failed_task, reason or "", exit_code))


@ops_app.command("refresh")
def ops_refresh(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenant", "-t", help="comma list; default all")] = None,
) -> None:
    """Rebuild the province ops marts for a day (run outcome, freshness, quality, quarantine, external
    usage and bill per bank); a rerun replaces that day's rows. The province DAG calls this."""
    from granary.province.marts import refresh

    day, banks = parse_date(date_), banks_arg(tenants_)
    rows = guard(lambda: refresh(banks, day))
    table = Table(title=f"ops {day}")
    # Bank code and served day never truncated (an 80-column log is narrow); the figures wrap instead.
    table.add_column("bank", no_wrap=True)
    table.add_column("served", no_wrap=True)
    for header in ("状态", "DAG", "lag", "质量失败", "隔离行", "外部数据", "元"):
        table.add_column(header)
    for r in rows:  # type: ignore[union-attr]
        table.add_row(
            r.tenant,
            str(r.serving_dt or "—"),
            r.status_zh,
            r.dag_state_zh,
            "—" if r.lag_days is None else str(r.lag_days),
            "—" if r.quality_failed is None else str(r.quality_failed),
            "—" if r.rows_quarantined is None else str(r.rows_quarantined),
            "—" if r.external_records is None else str(r.external_records),
            "—" if r.external_amount is None else str(r.external_amount),
        )
    out.print(table)


@external_app.command("providers")
def external_providers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The providers, their products, data kind, unit price (元/record) and delivery file."""
    from granary.catalog.providers import feeds

    items = guard(feeds)
    if as_json:
        rows = [
            {
                "provider": f.provider.code,
                "provider_zh": f.provider.name_zh,
                "product": f.product.code,
                "product_zh": f.product.name_zh,
                "kind": f.kind,
                "kind_zh": f.kind_zh,
                "unit_price": str(f.product.unit_price),
                "file": f.file_name,
                "table": f.table,
            }
            for f in items  # type: ignore[union-attr]
        ]
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    columns = ("provider", "数据商", "product", "产品", "kind", "类型", "元/条", "file")
    table = Table(*columns, title="external data 外部数据")
    for f in items:  # type: ignore[union-attr]
        table.add_row(
            f.provider.code,
            f.provider.name_zh,
            f.product.code,
            f.product.name_zh,
            f.kind,
            f.kind_zh,
            str(f.product.unit_price),
            f.file_name,
        )
    out.print(table)


@external_app.command("generate")
def external_generate(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenants", help="comma list; default all")] = None,
    days: Annotated[int, typer.Option(help="number of consecutive days ending at --date")] = 1,
    scale: Annotated[float, typer.Option(help="scale factor (as for `granary generate`)")] = 0.01,
    seed: Annotated[int, typer.Option(help="same seed as `granary generate`")] = 42,
) -> None:
    """Write synthetic province-level provider files into landing/_province/<dt>/."""
    from granary.generate.external import generate_provider_files

    end = parse_date(date_)
    dates = [end - timedelta(days=i) for i in reversed(range(days))]
    guard(lambda: generate_provider_files(banks_arg(tenants_), dates, scale=scale, seed=seed))


@external_app.command("route")
def external_route(tenant: TenantOpt, date_: DateOpt) -> None:
    """The same as `granary route` (the step's name since the regrouping; kept for habit)."""
    step("route", tenant, date_)


@external_app.command("bill")
def external_bill(
    month: Annotated[str, typer.Option("--month", "-m", help="YYYY-MM")],
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one bank; default all")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Monthly bill per bank from the usage ledger: bank x provider x product, records, amount."""
    from granary.province.ledger import monthly_bill

    code = bank_arg(tenant).code if tenant else None
    bill = guard(lambda: monthly_bill(month, code))
    if as_json:
        out.print_json(json.dumps(bill.as_json(), ensure_ascii=False))  # type: ignore[union-attr]
        return
    columns = ("bank", "provider", "product", "kind", "元/条", "days", "records", "amount 元")
    table = Table(*columns, title=f"外部数据账单 bill {month}")
    for line in bill.lines:  # type: ignore[union-attr]
        table.add_row(
            line.bank,
            line.provider,
            line.product,
            line.kind,
            str(line.unit_price),
            str(line.days),
            str(line.records),
            str(line.amount),
        )
    for bank, amount in bill.totals.items():  # type: ignore[union-attr]
        table.add_row(f"[bold]{bank}[/]", "", "", "", "", "", "合计 total", f"[bold]{amount}[/]")
    out.print(table)


alerts_app = typer.Typer(help="Alerts: deadlines watched, the province's morning digest (granary.alerts).")


def _days_or_recent(dates: list[str] | None) -> list:
    """The given days, or yesterday's and today's business dates (the nights a watch can be about)."""
    from datetime import datetime

    from granary.alerts.settings import alert_settings

    if dates:
        return [parse_date(d) for d in dates]
    today = datetime.now(alert_settings().zone).date()
    return [today - timedelta(days=1), today]


@alerts_app.command("watch")
def alerts_watch(
    dates: Annotated[
        list[str] | None, typer.Option("--date", "-d", help="business date(s); default: recent")
    ] = None,
    tenants_: Annotated[str | None, typer.Option("--tenant", "-t", help="comma list; default all")] = None,
) -> None:
    """Warn of each bank-day projected to miss its publish deadline, and alert once it has missed it
    (once per bank, day and cause). The watch DAG runs this every ten minutes."""
    from granary.alerts.notify import watch_deadlines

    sent = guard(lambda: watch_deadlines(banks_arg(tenants_), _days_or_recent(dates)))
    out.print(f"{len(sent)} deadline alert(s) sent")  # type: ignore[arg-type]


@alerts_app.command("digest")
def alerts_digest(date_: DateOpt) -> None:
    """The province's morning digest of a business day, to the province's channels (once)."""
    from granary.alerts.notify import digest

    sent = guard(lambda: digest(banks_arg(None), parse_date(date_)))
    out.print(sent.text if sent else f"the digest of {date_} was already sent")  # type: ignore[union-attr]
