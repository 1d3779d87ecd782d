"""Where a bank's data lives at each layer — the only module that knows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from granary.core.config import settings


def landing_dir(tenant: str, dt: date) -> Path:
    return settings().landing_root / tenant / dt.isoformat()


def landing_file(tenant: str, dt: date, table: str, fmt: str = "csv") -> Path:
    return landing_dir(tenant, dt) / f"{table}.{fmt}"


def lake_dir(tenant: str) -> Path:
    """The bank's folder of the lake: its Iceberg tables' files (the catalog says which are live:
    granary.lake), its DWS day history and its quality and reconciliation records."""
    return settings().lake_root / tenant


def reconciliation_file(tenant: str, table: str, dt: date) -> Path:
    """rows in = rows clean + rows quarantined, one JSON per table and day."""
    return lake_dir(tenant) / "audit" / "reconciliation" / f"dt={dt.isoformat()}" / f"{table}.json"


def quality_dir(tenant: str, dt: date) -> Path:
    """Great Expectations results and Data Docs for a bank's day."""
    return lake_dir(tenant) / "quality" / f"dt={dt.isoformat()}"


def warehouse_db(tenant: str) -> Path:
    return settings().warehouse_root / f"{tenant}.duckdb"


def archive_dir(tenant: str, stamp: str) -> Path:
    """Where `granary tenant remove` moves a removed bank's landing, lake, warehouse and serving dump."""
    return settings().archive_root / f"{tenant}-{stamp}"


def removed_secrets_dir(tenant: str, stamp: str) -> Path:
    """A removed bank's keys and passwords (its PII key still reads its archived tokens): owner-only."""
    return settings().secrets_dir / "removed" / f"{tenant}-{stamp}"


def tenant_key_file(tenant: str) -> Path:
    return settings().secrets_dir / f"{tenant}.pii.key"


def tenant_password_file(tenant: str) -> Path:
    return settings().secrets_dir / f"{tenant}.pg.password"


def catalog_key_file() -> Path:
    """The installation's key for the banks' opaque PostgreSQL names (granary.core.secrets)."""
    return settings().secrets_dir / "catalog.key"


# --- province level: external data providers (granary.external) ---------------------------
# "_province" can never be a bank code (codes start with a letter), so these never clash.
PROVINCE = "_province"


def province_landing_dir(dt: date) -> Path:
    """Where the external data providers deliver their province-level files for a day."""
    return settings().landing_root / PROVINCE / dt.isoformat()


def province_file(dt: date, file_name: str) -> Path:
    """One provider product's delivery, e.g. landing/_province/<dt>/<provider>__<product>.csv."""
    return province_landing_dir(dt) / file_name
