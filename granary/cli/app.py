"""`granary <verb> --tenant T --date D`: the interface for provincial IT and for Airflow tasks.

Heavy libraries (Spark, dbt, Great Expectations) are imported inside each command, so
`granary --help` and cheap verbs stay fast. One module per verb group; this one assembles them.
Exit codes: 0 ok, 1 an engine failed (retrying may help), 2 bad usage or configuration,
3 bad data (do not retry: fix the extract; Airflow fails such a task at once).
"""

from __future__ import annotations

import sys

import typer

from granary.cli import banks, catalog, province, services, steps

app = typer.Typer(
    help="Granary: multi-tenant data platform for inclusive (rural) finance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(steps.app)
app.add_typer(banks.app)
app.add_typer(catalog.catalog_app, name="catalog")
app.add_typer(services.spark_app, name="spark")
app.add_typer(services.kafka_app, name="kafka")
app.add_typer(services.lakehouse_app, name="lakehouse")
app.add_typer(services.worker_app, name="worker")
app.add_typer(services.superset_app, name="superset")
app.add_typer(services.airflow_app, name="airflow")
app.add_typer(banks.serving_app, name="serving")
app.add_typer(banks.credentials_app, name="credentials")
app.add_typer(banks.tenant_app, name="tenant")
app.add_typer(province.ops_app, name="ops")
app.add_typer(province.external_app, name="external")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
