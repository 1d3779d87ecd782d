"""Where this installation's engines are: the one place that reads the environment.

Every engine moves by one setting (issue 8): the Spark Connect URL, the serving database,
the lake root, Superset's and Airflow's URLs. Nothing else in code knows a host or a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    home: Path
    tenants_dir: Path
    landing_root: Path
    lake_root: Path
    warehouse_root: Path
    archive_root: Path  # a removed bank's data, moved (never deleted) by `granary tenant remove`
    secrets_dir: Path
    run_dir: Path
    spark_remote: str
    pg_admin_dsn: str
    pg_host: str
    pg_port: int
    serving_db: str  # prefix: bank T is served from <serving_db>_<T> (granary.serving.connection)
    superset_url: str
    airflow_url: str
    jars_dir: Path  # Spark's and Kafka's jars, fetched by `make setup` from the Maven poms in jvm/
    kafka_bootstrap: str  # host:port of the Kafka broker (`granary kafka start`)
    lake_catalog: str  # the Iceberg catalog's database and login role (granary.lake.iceberg)
    serving_retention_days: int  # days of served history each bank's database keeps (granary.serving.history)
    lake_snapshot_retention_days: (
        int  # days of lake snapshots kept for time travel (granary.lake.housekeeping)
    )


@cache
def settings() -> Settings:
    env = os.environ.get
    home = Path(env("GRANARY_HOME", str(REPO_ROOT))).resolve()
    data = Path(env("GRANARY_DATA", str(home))).resolve()
    # Keys and passwords live outside the repo, owner-only (see secrets.py).
    secrets_dir = Path(env("GRANARY_SECRETS_DIR", str(Path.home() / ".granary" / "secrets")))
    return Settings(
        home=home,
        tenants_dir=Path(env("GRANARY_TENANTS_DIR", str(home / "tenants"))),
        landing_root=Path(env("GRANARY_LANDING_ROOT", str(data / "landing"))),
        lake_root=Path(env("GRANARY_LAKE_ROOT", str(data / "lake"))),
        warehouse_root=Path(env("GRANARY_WAREHOUSE_ROOT", str(data / "warehouse"))),
        archive_root=Path(env("GRANARY_ARCHIVE_ROOT", str(data / "archive"))),
        secrets_dir=secrets_dir,
        run_dir=Path(env("GRANARY_RUN_DIR", str(home / ".run"))),
        spark_remote=env("GRANARY_SPARK_REMOTE", "sc://127.0.0.1:15002"),
        pg_admin_dsn=env("GRANARY_PG_ADMIN_DSN") or _installation_admin_dsn(secrets_dir),
        pg_host=env("GRANARY_PG_HOST", "127.0.0.1"),
        pg_port=int(env("GRANARY_PG_PORT", "5432")),
        serving_db=env("GRANARY_SERVING_DB", "granary_serving"),
        superset_url=env("GRANARY_SUPERSET_URL", "http://127.0.0.1:8088"),
        airflow_url=env("GRANARY_AIRFLOW_URL", "http://127.0.0.1:8080"),
        jars_dir=Path(env("GRANARY_JARS_DIR", str(home / ".jars"))),
        kafka_bootstrap=env("GRANARY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        lake_catalog=env("GRANARY_LAKE_CATALOG", "granary_lakehouse"),
        serving_retention_days=int(env("GRANARY_SERVING_RETENTION_DAYS", "400")),
        lake_snapshot_retention_days=int(env("GRANARY_LAKE_SNAPSHOT_RETENTION_DAYS", "7")),
    )


# Written by `make setup` (scripts/setup-machine.sh): the admin login it created, with its
# generated password. No password-less default: every login gives a password.
PG_ADMIN_DSN_FILE = "postgres.admin.dsn"


def _installation_admin_dsn(secrets_dir: Path) -> str:
    path = secrets_dir / PG_ADMIN_DSN_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    # Fails to log in with a clear error, naming the login; `make setup` writes the file.
    return "postgresql://granary_admin@127.0.0.1:5432/postgres"
