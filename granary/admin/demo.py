"""`make demo`: bring the platform up and run the banks' day through the real scheduler."""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console
from rich.panel import Panel

from granary.core.config import settings
from granary.core.errors import GranaryError
from granary.core.tenants import Tenant

console = Console()


def run_demo(tenants: list[Tenant], dt: date, scale: float, history_days: int) -> None:
    from granary.generate import generate
    from granary.serving.publish import init_serving
    from granary.stack import airflow, spark_server
    from granary.superset import provision, service

    console.rule("[bold]Granary demo")
    spark_server.start_connect_server()
    init_serving(tenants)
    # A few days of history, so period indicators and tag movements mean something.
    days = [dt - timedelta(days=i) for i in reversed(range(history_days))]
    generate(tenants, days, scale=scale, seed=42)
    service.start()
    # Before the day: each bank DAG ends by warming its dashboards (`granary superset refresh`),
    # which fails while Superset runs without them. Importing needs no published table.
    provision.provision(tenants)
    airflow.start()
    # The earlier days first, as the Airflow backfill an operator would run: the build only sees
    # days that went through the lake, and tag movements and day-on-day comparisons need them.
    if len(days) > 1 and not airflow.backfill(tenants, days[0], days[-2]):
        raise GranaryError(
            f"the backfill of the earlier days did not succeed; open Airflow at {settings().airflow_url}, "
            "read the failed task's log, then rerun `make demo`"
        )
    if not airflow.run_day(tenants, dt, timeout=1800):
        raise GranaryError(
            f"not every bank's DAG run succeeded; open Airflow at {settings().airflow_url} and read "
            "the failed task's log"
        )
    _print_where_to_look(tenants, dt)


def _print_where_to_look(tenants: list[Tenant], dt: date) -> None:
    from granary.stack import airflow
    from granary.superset import credentials

    s = settings()
    lines = [
        f"Airflow   {s.airflow_url}   login admin / {airflow.admin_password()}",
        f"Superset  {s.superset_url}   login admin / {credentials.admin_password()}",
    ]
    for t in tenants:
        lines.append(f"  {t.name_zh} analyst: {t.analyst_user} / {credentials.analyst_password(t)}")
    lines += [
        f"Serving   {s.pg_host}:{s.pg_port}; a bank's database and role: granary tenant show <bank>",
        f"          bank passwords: {s.secrets_dir}/<bank>.pg.password",
        f"Try       .venv/bin/granary tags --tenant {tenants[0].code} --customer C0000000001",
        "Stop      make stop",
    ]
    console.print(Panel("\n".join(lines), title=f"Granary is running — business date {dt}", expand=False))
