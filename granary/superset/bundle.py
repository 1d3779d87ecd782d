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

from granary.core.config import settings
from granary.core.postgres import serving_database
from granary.core.tenants import Tenant
from granary.superset import layout, themes

TEMPLATES = Path(__file__).with_name("templates")
# Fixed namespace: a bank's asset UUIDs are the same on every machine and every run.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://granary.local/superset")
# Superset's placeholder for a password kept out of the bundle (sent beside it instead).
PASSWORD_MASK = "X" * 10
DATABASE_FILE = "databases/bank.yaml"
THEME_DIR = themes.THEME_DIR


def asset_uuid(tenant: Tenant, asset: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{tenant.code}:{asset}"))


def database_name(tenant: Tenant) -> str:
    """What analysts see in SQL Lab's database list."""
    return f"{tenant.name_zh}（{tenant.code}）"


def dashboard_slug(tenant: Tenant, name: str = "overview") -> str:
    return f"{tenant.code}-{name}"


def sqlalchemy_uri(tenant: Tenant) -> str:
    """The bank's own login role; search_path makes unqualified names mean the bank's schema."""
    s = settings()
    return (
        f"postgresql+psycopg2://{tenant.reader_role}:{PASSWORD_MASK}@{s.pg_host}:{s.pg_port}/"
        f"{serving_database(tenant)}?options=-csearch_path%3D{tenant.serving_schema}"
    )


def environment(search_path: list[Path]) -> jinja2.Environment:
    """The one renderer of Superset export YAML, for a bank's bundle and the province's alike."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # JSON is YAML: every interpolated value is quoted and escaped correctly, Chinese kept readable.
    env.filters["y"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def render_file(
    env: jinja2.Environment, template: str, context: dict[str, Any], for_whom: str, chart: bool
) -> str:
    """One template rendered and checked as YAML; a chart gets the query context Superset stores."""
    text = env.get_template(template).render(context)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{template}: renders to invalid YAML for {for_whom}: {exc}") from exc
    if chart:
        doc["query_context"] = _query_context(doc)
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text


def render_tree(
    env: jinja2.Environment, root: Path, context: dict[str, Any], for_whom: str, skip: str | None = None
) -> dict[str, str]:
    """Every template under `root` (but those under `skip`/), as {path inside the bundle: YAML}."""
    names = (path.relative_to(root).as_posix() for path in sorted(root.rglob("*.yaml")))
    return {
        name: render_file(env, name, context, for_whom, chart=name.startswith("charts/"))
        for name in names
        if not (skip and name.startswith(f"{skip}/"))
    }


def zip_files(folder: str, files: dict[str, str]) -> bytes:
    """Superset expects one top-level folder in the ZIP; it strips it on import."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(f"{folder}/{name}", text)
    return buffer.getvalue()


def _as_frontend_builds(params: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """The stored query in the shape Superset's own frontend builds from the chart's params for
    each viz type, so that warming it (`granary superset refresh`) fills the very cache entries a
    dashboard then reads: the cache key is a hash of the whole query."""
    q = dict(query)
    viz = params["viz_type"]
    metrics = q.get("metrics") or []
    if viz == "big_number_total":
        q.pop("orderby", None)
        q.pop("row_limit", None)
    elif viz == "table":
        q |= {"post_processing": [], "time_offsets": []}
        if params.get("query_mode") == "raw":
            q["metrics"] = None
        else:
            q["series_limit_metric"] = params.get("timeseries_limit_metric")
    elif viz == "pie":
        metric = metrics[0]
        q["post_processing"] = [
            {
                "operation": "contribution",
                "options": {"columns": [metric], "rename_columns": [f"{metric}__contribution"]},
            }
        ]
    elif viz == "pivot_table_v2":
        q["columns"] = [*params["groupbyColumns"], *params["groupbyRows"]]
    elif viz in ("echarts_timeseries_bar", "echarts_timeseries_line"):
        x, series = params["x_axis"], list(params.get("groupby") or [])
        axis = {
            "columnType": "BASE_AXIS",
            "sqlExpression": x,
            "label": x,
            "expressionType": "SQL",
            "isColumnReference": True,
        }
        steps: list[dict[str, Any]] = [
            {
                "operation": "pivot",
                "options": {
                    "index": [x],
                    "columns": series,
                    "aggregates": {m: {"operator": "mean"} for m in metrics},
                    "drop_missing_columns": False,
                },
            }
        ]
        if params.get("x_axis_sort"):
            steps.append(
                {
                    "operation": "sort",
                    "options": {"by": params["x_axis_sort"], "ascending": params["x_axis_sort_asc"]},
                }
            )
        if series and len(metrics) == 1:
            steps.append(
                {
                    "operation": "rename",
                    "options": {"columns": {metrics[0]: None}, "level": 0, "inplace": True},
                }
            )
        steps.append({"operation": "flatten"})
        q |= {
            "columns": [axis, *series],
            "series_columns": series,
            "post_processing": steps,
            "time_offsets": [],
        }
    return q


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
            "group_others_when_limit_reached": False,
            **_as_frontend_builds(chart["params"], q),
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


def _query_filters(filters: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """A template's (column, operator, value) filters as a stored query's filter clauses."""
    return [
        {"col": col, "op": op} if op in ("IS NULL", "IS NOT NULL") else {"col": col, "op": op, "val": val}
        for col, op, val in filters
    ]


def _context(tenant: Tenant) -> dict[str, Any]:
    def chart_uuid(key: str) -> str:
        return asset_uuid(tenant, f"chart:{key}")

    def dataset_uuid(table: str) -> str:
        return asset_uuid(tenant, f"dataset:{table}")

    return {
        "bank": tenant,
        "schema": tenant.serving_schema,
        # Superset treats a Postgres database as a catalog; permissions name it.
        "catalog": serving_database(tenant),
        "database_name": database_name(tenant),
        "sqlalchemy_uri": sqlalchemy_uri(tenant),
        "dashboard_slug": lambda name: dashboard_slug(tenant, name),
        "timestamp": datetime.now(UTC).isoformat(),
        "uuid": lambda asset: asset_uuid(tenant, asset),
        "position": lambda title, rows: layout.position(title, rows, chart_uuid),
        "filters": lambda name, rows, specs: layout.native_filters(name, rows, specs, dataset_uuid),
        "query_filter_list": _query_filters,
        "themes": themes.themes(),
        "labels": themes.label_sql(),
    }


def render(tenant: Tenant) -> dict[str, str]:
    """The bank's bundle as {path inside the bundle: YAML text}.

    Templates under theme/ are rendered once per indicator theme of the catalog (with `theme`
    in the context): theme/charts/* for every theme, theme/<code>/* for that theme only, and
    theme/dashboard.yaml as the theme's dashboard.
    """
    env = environment([TEMPLATES])
    context = _context(tenant)
    for_whom = f"bank '{tenant.code}'"
    files = render_tree(env, TEMPLATES, context, for_whom, skip=THEME_DIR)
    for theme in context["themes"]:
        theme_context = {**context, "theme": theme}
        for name in theme.chart_templates:
            stem = name.rsplit("/", 1)[1].removesuffix(".yaml")
            files[f"charts/{theme.code}.{stem}.yaml"] = render_file(
                env, name, theme_context, for_whom, chart=True
            )
        dashboard = render_file(env, f"{THEME_DIR}/dashboard.yaml", theme_context, for_whom, chart=False)
        files[f"dashboards/theme_{theme.code}.yaml"] = dashboard
    return files


def dashboard_uuids(tenant: Tenant) -> list[str]:
    """The UUIDs of the bank's dashboards, as the templates define them."""
    files = render(tenant)
    return [yaml.safe_load(text)["uuid"] for name, text in files.items() if name.startswith("dashboards/")]


def zip_bundle(tenant: Tenant, files: dict[str, str]) -> bytes:
    return zip_files(f"granary_{tenant.code}", files)
