"""The services a machine runs: Spark, Kafka, the lake catalog, the worker, Superset, Airflow."""

from __future__ import annotations

from typing import Annotated

import typer

from granary.cli.common import DateOpt, TenantOpt, bank_arg, banks_arg, console, guard, out, parse_date

spark_app = typer.Typer(help="The local Spark Connect server every Spark job talks to.")
worker_app = typer.Typer(help="The resident worker: the CLI with its imports done, for Airflow's tasks.")
kafka_app = typer.Typer(help="The Kafka broker (KRaft mode, from Apache's Maven jars) for intraday streams.")
superset_app = typer.Typer(help="Superset: start it, provision banks' roles, users, dashboards.")
airflow_app = typer.Typer(help="Airflow: start the scheduler stack, trigger and wait for runs.")

# --- services -------------------------------------------------------------------------


@spark_app.command("start")
def spark_start() -> None:
    """Start the local Spark Connect server (no-op if it already answers)."""
    from granary.stack.spark_server import start_connect_server

    guard(start_connect_server)


@spark_app.command("stop")
def spark_stop() -> None:
    """Stop the local Spark Connect server."""
    from granary.stack.spark_server import stop_connect_server

    guard(stop_connect_server)


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the local Kafka broker (no-op if it already answers)."""
    from granary.stack import kafka

    guard(kafka.start)
    host, port = kafka.host_port()
    console.print(f"[green]✓[/] Kafka broker on {host}:{port} (log {kafka.log_file()})")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local Kafka broker (its topics stay for the next start)."""
    from granary.stack import kafka

    guard(kafka.stop)


@worker_app.command("start")
def worker_start() -> None:
    """Start the worker (Airflow's tasks hand their commands to it; see granary/stack/worker.py)."""
    from granary.stack import worker

    guard(worker.start)
    console.print(f"[green]✓[/] worker pid {worker.running()} on {worker.socket_path()}")


@worker_app.command("stop")
def worker_stop() -> None:
    from granary.stack import worker

    guard(worker.stop)


@worker_app.command("status")
def worker_status() -> None:
    """Whether the worker runs; exit 1 if it does not."""
    from granary.stack import worker

    pid = worker.running()
    if not (pid and worker.answers()):
        console.print(f"worker: not running (log {worker.log_file()})")
        raise typer.Exit(1)
    out.print(f"worker pid {pid} on {worker.socket_path()} (log {worker.log_file()})")


@superset_app.command("start")
def superset_start() -> None:
    """Initialise Superset's metadata database if needed and start its web server."""
    from granary.superset.service import start

    guard(start)


@superset_app.command("stop")
def superset_stop() -> None:
    from granary.superset.service import stop

    guard(stop)


@superset_app.command("provision")
def superset_provision(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None) -> None:
    """Per bank: role, analyst user, database connection, datasets, dashboard (idempotent)."""
    from granary.superset.provision import provision

    guard(lambda: provision(banks_arg(tenant)))


@superset_app.command("refresh")
def superset_refresh(tenant: TenantOpt, date_: DateOpt) -> None:
    """After a publish: warm the bank's dashboards' chart caches (no-op if Superset is not set up)."""
    from granary.superset.refresh import refresh

    t, day = bank_arg(tenant), parse_date(date_)
    guard(lambda: refresh(t, day))


@airflow_app.command("start")
def airflow_start() -> None:
    """Start Airflow (scheduler, dag-processor, api-server) on its Postgres metadata DB."""
    from granary.stack.airflow import start

    guard(start)


@airflow_app.command("stop")
def airflow_stop() -> None:
    from granary.stack.airflow import stop

    guard(stop)


@airflow_app.command("run-day")
def airflow_run_day(
    date_: DateOpt,
    tenants_: Annotated[str | None, typer.Option("--tenants", help="comma list; default all")] = None,
    timeout: Annotated[int, typer.Option(help="seconds to wait for the runs")] = 1800,
) -> None:
    """Trigger each bank's DAG for a day through the scheduler and wait for the outcome."""
    from granary.stack.airflow import run_day

    ok = guard(lambda: run_day(banks_arg(tenants_), parse_date(date_), timeout=timeout))
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
    ok = guard(lambda: backfill(banks_arg(tenants_), first, last, timeout=timeout))
    raise typer.Exit(0 if ok else 1)
