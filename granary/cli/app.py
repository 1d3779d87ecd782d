"""`granary <verb> --tenant T --date D`: the interface for provincial IT and for Airflow tasks.

Heavy libraries (Spark, dbt, Great Expectations) are imported inside each command, so
`granary --help` and cheap verbs stay fast.
Exit codes: 0 ok, 1 an engine failed (retrying may help), 2 bad usage or configuration,
3 bad data (do not retry: fix the extract; Airflow fails such a task at once).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from granary.catalog.indicators import CatalogError
from granary.catalog.sources import ContractError
from granary.core.errors import DataError, GranaryError
from granary.core.tenants import Tenant, TenantConfigError, get_tenant, load_tenants

app = typer.Typer(
    help="Granary: multi-tenant data platform for inclusive (rural) finance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
spark_app = typer.Typer(help="The local Spark Connect server every Spark job talks to.")
serving_app = typer.Typer(help="The PostgreSQL serving databases: one per bank, its role, the province's.")
credentials_app = typer.Typer(help="Banks' serving credentials (kept owner-only outside the repo).")
superset_app = typer.Typer(help="Superset: start it, provision banks' roles, users, dashboards.")
airflow_app = typer.Typer(help="Airflow: start the scheduler stack, trigger and wait for runs.")
worker_app = typer.Typer(help="The resident worker: the CLI with its imports done, for Airflow's tasks.")
app.add_typer(spark_app, name="spark")
app.add_typer(serving_app, name="serving")
app.add_typer(credentials_app, name="credentials")
app.add_typer(superset_app, name="superset")
app.add_typer(airflow_app, name="airflow")
app.add_typer(worker_app, name="worker")
kafka_app = typer.Typer(help="The Kafka broker (KRaft mode, from Apache's Maven jars) for intraday streams.")
app.add_typer(kafka_app, name="kafka")
lakehouse_app = typer.Typer(help="The lake's Iceberg catalog in PostgreSQL (read by Spark and DuckDB).")
app.add_typer(lakehouse_app, name="lakehouse")
ops_app = typer.Typer(help="The province's ops records: how each bank's runs and publishes ended.")
app.add_typer(ops_app, name="ops")

console = Console(stderr=True)
out = Console()

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="bank code, e.g. qingshan")]
DateOpt = Annotated[str, typer.Option("--date", "-d", help="business date, YYYY-MM-DD")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", "-s", help="source table(s); default: all")]


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date; use YYYY-MM-DD") from None


def _fail(exc: Exception, code: int) -> None:
    # One line, never wrapped: the last line of a task log is the reason an alert records.
    console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn: Callable[[], object]) -> object:
    """Run one step; turn known failures into a message and a meaningful exit code."""
    try:
        return fn()
    except (TenantConfigError, ContractError, CatalogError) as exc:
        _fail(exc, 2)
    except DataError as exc:
        _fail(exc, 3)
    except GranaryError as exc:
        _fail(exc, 1)
    return None


def _tenant(code: str) -> Tenant:
    return _guard(lambda: get_tenant(code))  # type: ignore[return-value]


def _tenants(codes: str | None) -> list[Tenant]:
    """A comma list of bank codes; none, or `all`, is every bank in tenants/."""
    if not codes or codes.strip() == "all":
        return _guard(load_tenants)  # type: ignore[return-value]
    return [_tenant(c.strip()) for c in codes.split(",") if c.strip()]


@app.command()
def tenants(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the configured banks (validates every tenants/*.yaml)."""
    banks = _tenants(None)
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
    _guard(lambda: run_generate(_tenants(tenants_), dates, scale=scale, seed=seed))


def _step(name: str, tenant: str, date_: str, sources: list[str] | None = None) -> None:
    from granary.pipeline import run as pipeline

    t, dt = _tenant(tenant), parse_date(date_)
    _guard(lambda: pipeline.run_step(name, t, dt, sources=sources))


@app.command()
def ingest(tenant: TenantOpt, date_: DateOpt, source: SourceOpt = None) -> None:
    """Spark: landing CSV -> ODS Parquet (typed, lineage columns), one day of one bank."""
    _step("ingest", tenant, date_, source)


@app.command()
def clean(tenant: TenantOpt, date_: DateOpt, source: SourceOpt = None) -> None:
    """Spark: ODS -> DWD (codes standardised, deduped, PII tokenised); bad rows quarantined."""
    _step("clean", tenant, date_, source)


@app.command()
def validate(tenant: TenantOpt, date_: DateOpt) -> None:
    """Great Expectations: the bank's DWD tables against suites from the source contracts."""
    _step("validate", tenant, date_)


@app.command()
def transform(tenant: TenantOpt, date_: DateOpt) -> None:
    """dbt build for one bank: DWS summaries, ADS indicators and tags, in warehouse/<bank>.duckdb."""
    _step("transform", tenant, date_)


@app.command()
def publish(tenant: TenantOpt, date_: DateOpt) -> None:
    """Copy the bank's ADS tables into its serving database and swap them in atomically (readers see
    the old day or the new one; a failed or killed publish leaves the old day serving)."""
    _step("publish", tenant, date_)


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
        _fail(ValueError("give --date, or --from and --to, not both"), 2)
    if date_:
        start = end = parse_date(date_)
    elif from_ and to:
        start, end = parse_date(from_), parse_date(to)
    else:
        _fail(ValueError("give --date D, or --from D1 --to D2"), 2)
    t = _tenant(tenant)
    day = start
    while day <= end:
        _guard(lambda d=day: pipeline.run_all(t, d))
        day += timedelta(days=1)


@app.command()
def tags(
    tenant: TenantOpt,
    customer: Annotated[str, typer.Option("--customer", "-c", help="customer id, e.g. C0000000001")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A customer's current tags from the serving database, read with the bank's own role."""
    from granary.serving.connection import customer_tags

    t = _tenant(tenant)
    rows = _guard(lambda: customer_tags(t, customer))
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    if not rows:
        console.print(f"no tags for customer {customer} in {t.code} (unknown id, or no tag holds)")
        raise typer.Exit(1)
    table = Table("tag_code", "标签", "tag", "category", "business date")
    for r in rows:
        table.add_row(r["tag_code"], r["tag_name_zh"], r["tag_name_en"], r["category_zh"], str(r["dt"]))
    out.print(table)


@app.command()
def demo(
    date_: DateOpt = "2026-11-20",
    tenants_: Annotated[
        str, typer.Option("--tenants", help="comma list of banks to run, or all (the province)")
    ] = "qingshan,hexi",
    scale: Annotated[float, typer.Option(help="scale factor of the generated data")] = 0.01,
    history_days: Annotated[int, typer.Option(help="days of extracts generated up to --date")] = 3,
) -> None:
    """Start every service, run all banks' day through the Airflow scheduler, provision Superset."""
    from granary.admin.demo import run_demo

    _guard(lambda: run_demo(_tenants(tenants_), parse_date(date_), scale, history_days))


catalog_app = typer.Typer(help="The indicator and tag catalogs, expanded from YAML.")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("indicators")
def catalog_indicators(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    theme: Annotated[str | None, typer.Option(help="only this theme")] = None,
) -> None:
    """Every indicator: code, Chinese and English name, theme, unit, grain, what it derives from."""
    from granary.catalog.indicators import expand

    items = [i for i in _guard(expand) if theme is None or i.theme == theme]  # type: ignore[union-attr]
    if as_json:
        out.print_json(json.dumps([i.model_dump() for i in items], ensure_ascii=False, default=str))
        return
    table = Table("code", "指标", "indicator", "theme", "unit", "grain", title=f"{len(items)} indicators")
    for i in items:
        table.add_row(i.code, i.name_zh, i.name_en, i.theme, i.unit, i.grain)
    out.print(table)


@catalog_app.command("tags")
def catalog_tags(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    category: Annotated[str | None, typer.Option(help="only this category code, e.g. risk")] = None,
) -> None:
    """Every customer tag: code, Chinese and English name, category, rule (110 tags, 21 categories)."""
    from granary.catalog.tags import categories, load

    known = _guard(categories)
    if category is not None and category not in known:  # type: ignore[operator]
        _fail(CatalogError(f"unknown tag category '{category}' (known: {', '.join(known)})"), 2)  # type: ignore[arg-type]
    items = [t for t in _guard(load) if category is None or t.category == category]  # type: ignore[union-attr]
    if as_json:
        out.print_json(json.dumps([t.model_dump() for t in items], ensure_ascii=False, default=str))
        return
    shown = len({t.category for t in items})
    title = f"{len(items)} tags in {shown} categories"
    table = Table("code", "标签", "tag", "类别", "category", "规则", title=title)
    for t in items:
        table.add_row(t.code, t.name_zh, t.name_en, t.category_zh, t.category_en, t.rule_text)
    out.print(table)


# --- services -------------------------------------------------------------------------


@spark_app.command("start")
def spark_start() -> None:
    """Start the local Spark Connect server (no-op if it already answers)."""
    from granary.stack.spark_server import start_connect_server

    _guard(start_connect_server)


@spark_app.command("stop")
def spark_stop() -> None:
    """Stop the local Spark Connect server."""
    from granary.stack.spark_server import stop_connect_server

    _guard(stop_connect_server)


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the local Kafka broker (no-op if it already answers)."""
    from granary.stack import kafka

    _guard(kafka.start)
    host, port = kafka.host_port()
    console.print(f"[green]✓[/] Kafka broker on {host}:{port} (log {kafka.log_file()})")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local Kafka broker (its topics stay for the next start)."""
    from granary.stack import kafka

    _guard(kafka.stop)


@lakehouse_app.command("init")
def lakehouse_init() -> None:
    """Create the Iceberg catalog's database and login role in PostgreSQL (idempotent)."""
    from granary.pipeline import lakehouse

    _guard(lakehouse.ensure_catalog)
    console.print(
        f"[green]✓[/] lake catalog {lakehouse.catalog_database()} (login {lakehouse.catalog_role()}), "
        f"tables under {lakehouse.warehouse()}"
    )


@worker_app.command("start")
def worker_start() -> None:
    """Start the worker (Airflow's tasks hand their commands to it; see granary/stack/worker.py)."""
    from granary.stack import worker

    _guard(worker.start)
    console.print(f"[green]✓[/] worker pid {worker.running()} on {worker.socket_path()}")


@worker_app.command("stop")
def worker_stop() -> None:
    from granary.stack import worker

    _guard(worker.stop)


@worker_app.command("status")
def worker_status() -> None:
    """Whether the worker runs; exit 1 if it does not."""
    from granary.stack import worker

    pid = worker.running()
    if not (pid and worker.answers()):
        console.print(f"worker: not running (log {worker.log_file()})")
        raise typer.Exit(1)
    out.print(f"worker pid {pid} on {worker.socket_path()} (log {worker.log_file()})")


@serving_app.command("init")
def serving_init(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None) -> None:
    """Create or converge each bank's database and login role, and the province's ops database.

    CONNECT on a bank's database is its own role's only (PUBLIC stripped); idempotent.
    """
    from granary.serving.databases import init_serving

    _guard(lambda: init_serving(_tenants(tenant)))


@ops_app.command("record-run")
def ops_record_run(
    tenant: TenantOpt,
    date_: DateOpt,
    dag_id: Annotated[str, typer.Option("--dag-id")],
    run_id: Annotated[str, typer.Option("--run-id")],
    state: Annotated[str, typer.Option("--state", help="success | failed")],
    failed_task: Annotated[str | None, typer.Option("--failed-task")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Record how a bank DAG run ended in the province's ops.dag_run (the DAGs' callbacks call this)."""
    from granary.province import ops

    if state not in ops.RUN_STATES:
        raise typer.BadParameter(f"--state must be one of {', '.join(ops.RUN_STATES)}")
    day = parse_date(date_)
    _guard(lambda: ops.record_run(tenant, day, dag_id, run_id, state, failed_task, reason))


@ops_app.command("refresh")
def ops_refresh(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenant", "-t", help="comma list; default all")] = None,
) -> None:
    """Rebuild the province ops marts for a day (run outcome, freshness, quality, quarantine, external
    usage and bill per bank); a rerun replaces that day's rows. The province DAG calls this."""
    from granary.province.marts import refresh

    day, banks = parse_date(date_), _tenants(tenants_)
    rows = _guard(lambda: refresh(banks, day))
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


tenant_app = typer.Typer(help="A bank's lifecycle: onboarding is adding tenants/T.yaml; removing is below.")
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("remove")
def tenant_remove(code: Annotated[str, typer.Argument(help="the bank code, e.g. qingshan")]) -> None:
    """Remove a bank whose tenants/T.yaml was deleted: its Superset assets, role and analyst, its serving
    database (pg_dump archived first) and login role, its Airflow pool; its landing, lake and warehouse
    data are moved to the archive, never deleted. Idempotent."""
    from granary.admin.lifecycle import remove

    _guard(lambda: remove(code))


@credentials_app.command("rotate")
def credentials_rotate(tenant: TenantOpt) -> None:
    """A new password for the bank's serving role: stored owner-only, set in PostgreSQL, and in the
    bank's Superset connection if Superset is up. Other banks are untouched; open sessions stay open."""
    from granary.admin.credentials import rotate

    t = _tenant(tenant)
    _guard(lambda: rotate(t))


@app.command()
def audit(
    tenant: TenantOpt,
    since: Annotated[str | None, typer.Option(help="only reads at or after this time (ISO, UTC)")] = None,
    limit: Annotated[int, typer.Option(help="show the last N reads (0: all)")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who (role) read what (object) when in the bank's serving database, from pgaudit's log."""
    from datetime import datetime

    from granary.serving.audit import accesses

    t = _tenant(tenant)
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"'{since}' is not a time; use e.g. 2026-01-01T08:00") from None
    found = _guard(lambda: accesses(t, start))
    rows = found[-limit:] if limit else found  # type: ignore[index]
    if as_json:
        out.print_json(json.dumps([a.as_json() for a in rows], ensure_ascii=False))  # type: ignore[union-attr]
        return
    table = Table(
        "when (UTC)", "who (role)", "what (object)", "command", title=f"{t.code}: {len(found)} reads"
    )  # type: ignore[arg-type]
    for a in rows:  # type: ignore[union-attr]
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], a.role, a.object, a.command)
    out.print(table)


@superset_app.command("start")
def superset_start() -> None:
    """Initialise Superset's metadata database if needed and start its web server."""
    from granary.superset.service import start

    _guard(start)


@superset_app.command("stop")
def superset_stop() -> None:
    from granary.superset.service import stop

    _guard(stop)


@superset_app.command("provision")
def superset_provision(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None) -> None:
    """Per bank: role, analyst user, database connection, datasets, dashboard (idempotent)."""
    from granary.superset.provision import provision

    _guard(lambda: provision(_tenants(tenant)))


@superset_app.command("refresh")
def superset_refresh(tenant: TenantOpt, date_: DateOpt) -> None:
    """After a publish: warm the bank's dashboards' chart caches (no-op if Superset is not set up)."""
    from granary.superset.refresh import refresh

    t, day = _tenant(tenant), parse_date(date_)
    _guard(lambda: refresh(t, day))


@airflow_app.command("start")
def airflow_start() -> None:
    """Start Airflow (scheduler, dag-processor, api-server) on its Postgres metadata DB."""
    from granary.stack.airflow import start

    _guard(start)


@airflow_app.command("stop")
def airflow_stop() -> None:
    from granary.stack.airflow import stop

    _guard(stop)


@airflow_app.command("run-day")
def airflow_run_day(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenants", help="comma list; default all")] = None,
    timeout: Annotated[int, typer.Option(help="seconds to wait for the runs")] = 1800,
) -> None:
    """Trigger each bank's DAG for a day through the scheduler and wait for the outcome."""
    from granary.stack.airflow import run_day

    ok = _guard(lambda: run_day(_tenants(tenants_), parse_date(date_), timeout=timeout))
    raise typer.Exit(0 if ok else 1)


@airflow_app.command("backfill")
def airflow_backfill(
    from_: Annotated[str, typer.Option("--from", help="first business day, YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="last business day, YYYY-MM-DD")],
    tenants_: Annotated[str | None, typer.Option("--tenants", help="comma list; default all")] = None,
    timeout: Annotated[int, typer.Option(help="seconds to wait for every day")] = 7200,
) -> None:
    """Backfill days through Airflow (one backfill per bank, days in order) and wait for them."""
    from granary.stack.airflow import backfill

    first, last = parse_date(from_), parse_date(to)
    if last < first:
        raise typer.BadParameter(f"--to {to} is before --from {from_}")
    ok = _guard(lambda: backfill(_tenants(tenants_), first, last, timeout=timeout))
    raise typer.Exit(0 if ok else 1)


# --- external data: one-point access (granary.external) --------------------------------

external_app = typer.Typer(help="External data: provider catalog, routing to banks, usage ledger, bills.")
app.add_typer(external_app, name="external")


@external_app.command("providers")
def external_providers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The providers, their products, data kind, unit price (元/record) and delivery file."""
    from granary.catalog.providers import feeds

    items = _guard(feeds)
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
    _guard(lambda: generate_provider_files(_tenants(tenants_), dates, scale=scale, seed=seed))


@external_app.command("route")
def external_route(tenant: TenantOpt, date_: DateOpt) -> None:
    """Route the day's provider files to one bank: its customers' records and its usage ledger."""
    _step("route_external", tenant, date_)


@external_app.command("bill")
def external_bill(
    month: Annotated[str, typer.Option("--month", "-m", help="YYYY-MM")],
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one bank; default all")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Monthly bill per bank from the usage ledger: bank x provider x product, records, amount."""
    from granary.province.ledger import monthly_bill

    code = _tenant(tenant).code if tenant else None
    bill = _guard(lambda: monthly_bill(month, code))
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


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
