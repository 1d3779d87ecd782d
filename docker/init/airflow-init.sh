#!/usr/bin/env bash
# One-shot, before the Airflow components start: migrate the metadata database (also the
# upgrade step after a new lock), then one pool per bank sized from tenants/*.yaml.
set -euo pipefail
airflow db migrate
pools="$(mktemp)"
"${GRANARY_HOME:-/opt/granary}/.venv/bin/python" - > "$pools" <<'PY'
import json
from granary.core.tenants import load_tenants

print(json.dumps({
    t.airflow_pool: {"slots": t.airflow.pool_slots, "description": f"{t.name_zh} · {t.name_en}", "include_deferred": False}
    for t in load_tenants()
}))
PY
airflow pools import "$pools"
rm -f "$pools"
