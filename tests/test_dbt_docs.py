"""`dbt docs generate` builds the catalog site, and everything in it is described.

The docs are generated the way granary.pipeline.transform builds (same project, profile, target and
vars) against a built warehouse: a copy of the `published_day` fixture's DuckDB file for one
bank and the last day, so catalog.json holds the real tables and columns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from granary.catalog.indicators import DBT_PROJECT_DIR
from granary.core.tenants import get_tenant
from granary.pipeline.transform import build_environment

BANK = "qingshan"
SITE_FILES = ("index.html", "manifest.json", "catalog.json")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docs_site(published_day, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dbt.cli.main import dbtRunner

    work = tmp_path_factory.mktemp("dbt-docs")
    warehouse = work / f"{BANK}.duckdb"
    # a writable copy: the fixture's copies are read-only and dbt-duckdb opens the file read-write
    shutil.copyfile(published_day.warehouses[(BANK, published_day.dt)], warehouse)
    warehouse.chmod(0o644)
    # the day's environment, as granary transform sets it (business date, lake days, lake plan)
    os.environ.update(build_environment(get_tenant(BANK), published_day.dt, "duckdb"))
    dbt_vars = {"tenant": BANK, "warehouse_path": str(warehouse)}
    target = work / "target"
    result = dbtRunner().invoke(
        [
            "docs", "generate",
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target", "duckdb",
            "--vars", json.dumps(dbt_vars),
            "--target-path", str(target),
            "--log-path", str(work / "logs"),
            "--quiet",
        ]
    )  # fmt: skip
    assert result.success, result.exception
    return target


def _json(site: Path, name: str) -> dict:
    return json.loads((site / name).read_text(encoding="utf-8"))


def _project_nodes(manifest: dict, kind: str) -> dict[str, dict]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == kind and node["package_name"] == "granary"
    }


def test_docs_generate_writes_the_site(docs_site: Path) -> None:
    for name in SITE_FILES:
        assert (docs_site / name).stat().st_size > 0, name
    assert "dbt" in (docs_site / "index.html").read_text(encoding="utf-8")[:5000].lower()


def test_every_model_is_in_the_catalog_with_its_columns(docs_site: Path) -> None:
    """catalog.json is read from the warehouse: every model was built and has its columns there."""
    manifest, catalog = _json(docs_site, "manifest.json"), _json(docs_site, "catalog.json")
    models = _project_nodes(manifest, "model")
    assert len(models) >= 10
    missing = sorted(uid for uid in models if uid not in catalog["nodes"])
    assert not missing, f"models not in the warehouse catalog: {missing}"
    for uid, node in models.items():
        built = {c.lower() for c in catalog["nodes"][uid]["columns"]}
        documented = {c.lower() for c in node["columns"]}
        assert documented <= built, f"{node['name']}: YAML columns not in the table: {documented - built}"


def test_every_model_and_documented_column_has_a_description(docs_site: Path) -> None:
    models = _project_nodes(_json(docs_site, "manifest.json"), "model")
    no_description = sorted(n["name"] for n in models.values() if not n["description"].strip())
    assert not no_description, f"models without a description: {no_description}"
    bare_columns = sorted(
        f"{n['name']}.{c['name']}"
        for n in models.values()
        for c in n["columns"].values()
        if not (c.get("description") or "").strip()
    )
    assert not bare_columns, f"YAML columns without a description: {bare_columns}"


def test_the_indicator_dictionary_is_in_the_docs(docs_site: Path) -> None:
    manifest, catalog = _json(docs_site, "manifest.json"), _json(docs_site, "catalog.json")
    seed = "seed.granary.indicator_catalog"
    assert seed in manifest["nodes"], "the indicator catalog seed is not documented"
    assert manifest["nodes"][seed]["description"].strip()
    columns = {c.lower() for c in catalog["nodes"][seed]["columns"]}
    assert {"indicator_code", "name_zh", "name_en", "definition_zh", "definition_en", "theme"} <= columns
    # the published dictionary is built from the seed, and the docs' lineage says so
    dictionary = manifest["nodes"]["model.granary.ads_indicator_dict"]
    assert seed in dictionary["depends_on"]["nodes"]


def test_every_indicator_has_a_definition_in_both_languages() -> None:
    """Through the CLI provincial IT uses (`granary catalog indicators --json`)."""
    cli = Path(sys.executable).with_name("granary")
    done = subprocess.run(
        [str(cli), "catalog", "indicators", "--json"], capture_output=True, text=True, check=True
    )
    items = json.loads(done.stdout)
    assert items
    missing = sorted(
        (i["code"], lang)
        for i in items
        for lang in ("definition_zh", "definition_en")
        if not (i.get(lang) or "").strip()
    )
    assert not missing, f"indicators without a definition: {missing[:20]} ({len(missing)} in all)"
    assert len({i["code"] for i in items}) == len(items)
