"""The province ops dashboard (全省运营监控) in Superset, for the province admin only.

The same mechanism as a bank's assets (granary.superset.bundle, provision): Superset export YAML
in `province_templates/`, rendered with deterministic UUIDs (uuid5 of "_province" + asset, which
no bank code can produce) and imported through `/api/v1/assets/import/`. Its database connection
logs in as the province's read-only role (granary.serving.connection.province_reader_role), which can SELECT
the ops tables and nothing else; the dashboard, datasets and connection are granted to one role,
PROVINCE_ROLE, held by the province admin user. Bank analysts' roles never name any of them.
"""

from __future__ import annotations

import json
import secrets as _random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from granary.core import paths
from granary.core.config import settings
from granary.core.postgres import province_database
from granary.core.secrets import read_or_create
from granary.serving.connection import province_reader_password, province_reader_role
from granary.superset import bundle, layout
from granary.superset.client import SupersetClient

TEMPLATES = Path(__file__).with_name("province_templates")
DATABASE_FILE = "databases/province.yaml"
SCHEMA = "ops"
# Names in Superset: one place.
PROVINCE_ROLE = "province_admin"
PROVINCE_USER = "province_admin"
DATABASE_NAME = "全省运营监控（province）"
DASHBOARD_TITLE = "全省运营监控"
DASHBOARD_SLUG = "province-ops"
DASHBOARD = "dashboard:ops"


def password() -> str:
    """The province admin's Superset password (generated once, owner-only)."""
    return read_or_create(
        settings().secrets_dir / "province.superset.password", lambda: _random.token_urlsafe(18)
    )


def asset_uuid(asset: str) -> str:
    return str(uuid.uuid5(bundle.NAMESPACE, f"{paths.PROVINCE}:{asset}"))


def sqlalchemy_uri() -> str:
    s = settings()
    return (
        f"postgresql+psycopg2://{province_reader_role()}:{bundle.PASSWORD_MASK}@{s.pg_host}:{s.pg_port}/"
        f"{province_database()}?options=-csearch_path%3D{SCHEMA}"
    )


def _position(rows: layout.Rows) -> dict[str, Any]:
    """Superset's dashboard layout tree for the ops dashboard's rows of (chart key, width, height)."""
    return layout.position(DASHBOARD_TITLE, rows, lambda key: asset_uuid(f"chart:{key}"))


def render() -> dict[str, str]:
    """The province bundle as {path inside the bundle: YAML text}."""
    # The banks' templates directory second: its _macros.j2 (dataset/chart heads) is shared.
    env = bundle.environment([TEMPLATES, bundle.TEMPLATES])
    context = {
        "schema": SCHEMA,
        "catalog": province_database(),
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": sqlalchemy_uri(),
        "dashboard_title": DASHBOARD_TITLE,
        "dashboard_slug": DASHBOARD_SLUG,
        "timestamp": datetime.now(UTC).isoformat(),
        "uuid": asset_uuid,
        "position": _position,
    }
    return bundle.render_tree(env, TEMPLATES, context, "the province")


def zip_bundle(files: dict[str, str]) -> bytes:
    return bundle.zip_files("granary_province", files)


@dataclass(frozen=True)
class ProvinceAssets:
    database_id: int
    datasets: dict[str, int]  # table name -> dataset id
    dashboard_id: int
    charts: int


def import_assets(client: SupersetClient) -> ProvinceAssets:
    """Import (overwrite: same UUIDs, so assets update in place) and look the assets up."""
    files = render()
    client.call(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("granary_province.zip", zip_bundle(files), "application/zip")},
        data={"passwords": json.dumps({DATABASE_FILE: province_reader_password()})},
    )
    database = client.one("database", "province ops database", uuid=asset_uuid("database"))
    datasets = client.list_all(
        "dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": database["id"]}]
    )
    dashboard = client.one("dashboard", "province ops dashboard", uuid=asset_uuid(DASHBOARD))
    charts = sum(name.startswith("charts/") for name in files)
    return ProvinceAssets(
        database["id"], {d["table_name"]: d["id"] for d in datasets}, dashboard["id"], charts
    )


def data_permission_ids(assets: ProvinceAssets, known: dict[tuple[str, str], int]) -> set[int]:
    """schema_access on ops and datasource_access on each ops dataset (as for a bank's role)."""
    from granary.core.errors import EngineError

    wanted = {("schema_access", f"[{DATABASE_NAME}].[{province_database()}].[{SCHEMA}]")}
    wanted |= {
        ("datasource_access", f"[{DATABASE_NAME}].[{table}](id:{i})") for table, i in assets.datasets.items()
    }
    missing = wanted - known.keys()
    if missing:
        raise EngineError(f"Superset: permissions missing for the province ops assets: {sorted(missing)}")
    return {known[key] for key in wanted}


def grant(client: SupersetClient, assets: ProvinceAssets, permissions: set[int]) -> None:
    """PROVINCE_ROLE holds exactly `permissions`; the province admin holds it; the dashboard is its."""
    role_id = client.ensure_role(PROVINCE_ROLE)
    client.call(
        "POST",
        f"/api/v1/security/roles/{role_id}/permissions",
        json={"permission_view_menu_ids": sorted(permissions)},
    )
    user = {
        "first_name": "全省",
        "last_name": "运营管理员",
        "email": f"{PROVINCE_USER}@granary.local",
        "active": True,
        "roles": [role_id],
        "password": password(),
    }
    found = client.find("security/users", username=PROVINCE_USER)
    if found:
        client.call("PUT", f"/api/v1/security/users/{found[0]['id']}", json=user)
    else:
        client.call("POST", "/api/v1/security/users/", json={"username": PROVINCE_USER, **user})
    client.call(
        "PUT", f"/api/v1/dashboard/{assets.dashboard_id}", json={"roles": [role_id], "published": True}
    )


def provision(client: SupersetClient, base_permissions: set[int]) -> ProvinceAssets:
    """Import the province's assets and grant them to the province admin (idempotent)."""
    assets = import_assets(client)
    grant(client, assets, base_permissions | data_permission_ids(assets, client.all_permissions()))
    return assets
