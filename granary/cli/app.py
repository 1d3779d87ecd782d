"""`granary <verb> --tenant T --date D`: the interface for provincial IT and for Airflow tasks.

Heavy libraries (Spark, dbt, Great Expectations) are imported inside each command, so
`granary --help` and cheap verbs stay fast. One module per verb group; this one assembles them.
Exit codes: 0 ok, 1 an engine failed (retrying may help), 2 bad usage or configuration,
3 bad data (do not retry: fix the extract; Airflow fails such a task at once).
"""

from __future__ import annotations

import sys

import typer

from granary.cli import banks, catalog, lake, province, services, steps

app = typer.Typer(
    help="Granary: multi-tenant data platform for inclusive (rural) finance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# The day's steps and a bank's verbs are top-level (`granary ingest`, `granary audit`); services and
# the province's verbs are groups (`granary spark start`, `granary ops refresh`).
for verbs in (steps.app, banks.app):
    app.add_typer(verbs)
GROUPS = {
    "catalog": catalog.catalog_app,
    "spark": services.spark_app,
    "kafka": services.kafka_app,
    "lake": lake.lake_app,
    "worker": services.worker_app,
    "superset": services.superset_app,
    "airflow": services.airflow_app,
    "serving": banks.serving_app,
    "credentials": banks.credentials_app,
    "tenant": banks.tenant_app,
    "ops": province.ops_app,
    "external": province.external_app,
    "alerts": province.alerts_app,
}
for name, group in GROUPS.items():
    app.add_typer(group, name=name)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
