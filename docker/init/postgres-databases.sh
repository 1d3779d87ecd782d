#!/usr/bin/env bash
# PostgreSQL's first start (docker-entrypoint-initdb.d, empty data directory only): the
# Airflow and Superset metadata databases, each owned by its own login role. The serving
# database and the banks' reader roles are made by `granary serving init` (granary-init).
set -euo pipefail
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" -v superset_password="$SUPERSET_DB_PASSWORD" <<'SQL'
create role airflow login password :'airflow_password';
create database granary_airflow owner airflow;
revoke all on database granary_airflow from public;
create role superset login password :'superset_password';
create database granary_superset owner superset;
revoke all on database granary_superset from public;
SQL
