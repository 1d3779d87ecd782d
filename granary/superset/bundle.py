"""A bank's Superset assets as an import bundle: the templates/ YAML rendered for one bank, zipped.

templates/ holds one template set in Superset's own export layout (metadata.yaml,
databases/, datasets/, charts/, dashboards/). Every UUID is uuid5(bank, asset), so
importing a bank's bundle again updates its assets instead of adding copies.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml

from granary.config import settings
from granary.serving import serving_database
from granary.tenants import Tenant

TEMPLATES = Path(__file__).with_name("templates")
# Fixed namespace: a bank's asset UUIDs are the same on every machine and every run.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://granary.local/superset")
# Superset's placeholder for a password kept out of the bundle (sent beside it instead).
PASSWORD_MASK = "X" * 10
DATABASE_FILE = "databases/bank.yaml"


def asset_uuid(tenant: Tenant, asset: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{tenant.code}:{asset}"))


def database_name(tenant: Tenant) -> str:
    """What analysts see in SQL Lab's database list."""
    return f"{tenant.name_zh}（{tenant.code}）"


def dashboard_slug(tenant: Tenant) -> str:
    return f"{tenant.code}-overview"


def sqlalchemy_uri(tenant: Tenant) -> str:
    """The bank's own login role; search_path makes unqualified names mean the bank's schema."""
    s = settings()
    return (
        f"postgresql+psycopg2://{tenant.reader_role}:{PASSWORD_MASK}@{s.pg_host}:{s.pg_port}/"
        f"{serving_database(tenant)}?options=-csearch_path%3D{tenant.serving_schema}"
    )


def _position(tenant: Tenant, title: str, rows: list[list[tuple[str, int, int]]]) -> dict[str, Any]:
    """Superset's dashboard layout tree (v2) for rows of (chart key, width, height)."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}},
    }
    chart_number = 0
    for row_number, row in enumerate(rows, start=1):
        row_id = f"ROW-{row_number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for key, width, height in row:
            chart_number += 1
            chart_id = f"CHART-{key}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                # chartId is a placeholder: the import maps uuid -> the chart's real id.
                "meta": {
                    "chartId": chart_number,
                    "uuid": asset_uuid(tenant, f"chart:{key}"),
                    "width": width,
                    "height": height,
                },
            }
    return position


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # JSON is YAML: every interpolated value is quoted and escaped correctly, Chinese kept readable.
    env.filters["y"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def _query_context(chart: dict[str, Any]) -> str:
    """Complete the template's short query_context into what /api/v1/chart/<id>/data/ runs."""
    short = chart.get("query_context") or {"queries": []}
    queries = [
        {
            "extras": {"having": "", "where": ""},
            "applied_time_extras": {},
            "annotation_layers": [],
            "series_limit": 0,
            "order_desc": True,
            "url_params": {},
            "custom_params": {},
            "custom_form_data": {},
            **q,
        }
        for q in short["queries"]
    ]
    return json.dumps(
        {
            # id 0 is a placeholder: the import points it at the dataset's real id.
            "datasource": {"id": 0, "type": "table"},
            "force": False,
            "queries": queries,
            "form_data": {**chart["params"], "datasource": "0__table"},
            "result_format": "json",
            "result_type": "full",
        },
        ensure_ascii=False,
    )


def render(tenant: Tenant) -> dict[str, str]:
    """The bank's bundle as {path inside the bundle: YAML text}."""
    env = _environment()
    context = {
        "bank": tenant,
        "schema": tenant.serving_schema,
        # Superset treats a Postgres database as a catalog; permissions name it.
        "catalog": serving_database(tenant),
        "database_name": database_name(tenant),
        "sqlalchemy_uri": sqlalchemy_uri(tenant),
        "dashboard_slug": dashboard_slug(tenant),
        "timestamp": datetime.now(UTC).isoformat(),
        "uuid": lambda asset: asset_uuid(tenant, asset),
        "position": lambda title, rows: _position(tenant, title, rows),
    }
    files: dict[str, str] = {}
    for path in sorted(TEMPLATES.rglob("*.yaml")):
        name = path.relative_to(TEMPLATES).as_posix()
        text = env.get_template(name).render(context)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: renders to invalid YAML for bank '{tenant.code}': {exc}") from exc
        if name.startswith("charts/"):
            doc["query_context"] = _query_context(doc)
            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        files[name] = text
    return files


def dashboard_uuids(tenant: Tenant) -> list[str]:
    """The UUIDs of the bank's dashboards, as the templates define them."""
    files = render(tenant)
    return [yaml.safe_load(text)["uuid"] for name, text in files.items() if name.startswith("dashboards/")]


def zip_bundle(tenant: Tenant, files: dict[str, str]) -> bytes:
    """Superset expects one top-level folder in the ZIP; it strips it on import."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(f"granary_{tenant.code}/{name}", text)
    return buffer.getvalue()
