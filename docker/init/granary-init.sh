#!/usr/bin/env bash
# One-shot, before Airflow and Superset start: put the admin logins from the env file where
# granary reads them (its secrets volume, owner-only), then create the serving database
# and one login role per bank (`granary serving init`), and the lake's Iceberg catalog
# (`granary lake init`); both idempotent.
set -euo pipefail
umask 077
mkdir -p "$GRANARY_SECRETS_DIR"
python - <<'PY'
import json, os
from pathlib import Path

secrets = Path(os.environ["GRANARY_SECRETS_DIR"])
airflow_password = os.environ["AIRFLOW_ADMIN_PASSWORD"]
files = {
    "airflow.admin.password": airflow_password + "\n",
    # Airflow's SimpleAuthManager reads its users' passwords from this file.
    "airflow.passwords.json": json.dumps({"admin": airflow_password}) + "\n",
    "superset.admin.password": os.environ["SUPERSET_ADMIN_PASSWORD"] + "\n",
}
for name, text in files.items():
    (secrets / name).write_text(text, encoding="utf-8")
PY
granary serving init
granary lake init
