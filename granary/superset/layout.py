"""A dashboard's layout tree and native filters, from rows of chart keys (used by the templates).

Chart ids in both are placeholders numbered in layout order: Superset's import maps each
layout entry's chart uuid to the chart's real id, and filter scopes along with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

Rows = list[list[tuple[str, int, int]]]  # rows of (chart key, width of 12, height)


def chart_keys(rows: Rows) -> list[str]:
    return [key for row in rows for key, _, _ in row]


def position(title: str, rows: Rows, chart_uuid: Callable[[str], str]) -> dict[str, Any]:
    """Superset's dashboard layout tree (v2)."""
    tree: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}},
    }
    number = 0
    for row_number, row in enumerate(rows, start=1):
        row_id = f"ROW-{row_number}"
        tree["GRID_ID"]["children"].append(row_id)
        tree[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for key, width, height in row:
            number += 1
            chart_id = f"CHART-{key.replace('.', '-')}"
            tree[row_id]["children"].append(chart_id)
            tree[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {"chartId": number, "uuid": chart_uuid(key), "width": width, "height": height},
            }
    return tree


def native_filters(
    dashboard: str, rows: Rows, specs: list[dict[str, Any]], dataset_uuid: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Select filters from specs {name, dataset, column, charts?}: `charts` (keys) limits a
    filter to those charts (e.g. a branch filter to the branch-grain charts); default all."""
    keys = chart_keys(rows)
    filters = []
    for spec in specs:
        in_scope = set(spec.get("charts") or keys)
        unknown = in_scope - set(keys)
        if unknown:
            raise ValueError(
                f"dashboard {dashboard}: filter {spec['name']} names charts not on it: {unknown}"
            )
        digest = hashlib.sha1(f"{dashboard}:{spec['column']}".encode()).hexdigest()[:10]
        filters.append(
            {
                "id": f"NATIVE_FILTER-{digest}",
                "name": spec["name"],
                "filterType": "filter_select",
                "type": "NATIVE_FILTER",
                "description": spec.get("description", ""),
                "targets": [
                    {"datasetUuid": dataset_uuid(spec["dataset"]), "column": {"name": spec["column"]}}
                ],
                "controlValues": {
                    "enableEmptyFilter": False,
                    "defaultToFirstItem": False,
                    "multiSelect": True,
                    "searchAllOptions": False,
                    "inverseSelection": False,
                },
                "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
                "cascadeParentIds": [],
                "scope": {
                    "rootPath": ["ROOT_ID"],
                    "excluded": [n for n, key in enumerate(keys, start=1) if key not in in_scope],
                },
                "tabsInScope": [],
            }
        )
    return filters
