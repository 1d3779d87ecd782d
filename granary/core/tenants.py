"""The bank (tenant) model and its loader: `tenants/<code>.yaml`, validated at the edge.

The tenant is the one boundary that runs through everything; every per-bank name
(serving schema and role, Superset role, Airflow pool) is derived here and nowhere else.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from granary.core.config import settings
from granary.core.secrets import catalog_token


class TenantConfigError(ValueError):
    """A tenant file that cannot be used; the message names the file and the field."""


class AirflowPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_slots: int = Field(2, ge=1, le=64, description="tasks of this bank that may run at once")
    priority_weight: int = Field(1, ge=1, le=100)
    retries: int = Field(2, ge=0, le=10, description="for transient errors only")
    schedule: str = "@daily"


class Contacts(BaseModel):
    """Who hears about a bank's failed or late days, by channel (granary.alerts.channels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: tuple[str, ...] = ()
    dingtalk: tuple[str, ...] = ()  # DingTalk robot webhook URLs
    wecom: tuple[str, ...] = ()  # WeCom (企业微信) robot webhook URLs
    webhook: tuple[str, ...] = ()  # any endpoint taking Granary's own JSON

    def targets(self) -> dict[str, tuple[str, ...]]:
        return {channel: tuple(getattr(self, channel)) for channel in type(self).model_fields}


# "<days>d HH:MM": days after the business date, at that time of day (the installation's time zone)
DEADLINE_PATTERN = r"^\d{1,2}d ([01]\d|2[0-3]):[0-5]\d$"


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$", description="stable bank code")
    name_zh: str = Field(min_length=2)
    name_en: str = Field(min_length=2)
    county_code: str = Field(pattern=r"^\d{6}$", description="fictional 6-digit county code")
    county_zh: str = Field(min_length=2)
    encoding: Literal["utf-8", "gbk"] = "utf-8"
    customers_sf1: int = Field(ge=100, description="customers at scale factor 1")
    branches: int = Field(ge=1, le=500)
    airflow: AirflowPolicy = AirflowPolicy()
    contact: Contacts = Contacts()
    publish_deadline: str | None = Field(
        None, pattern=DEADLINE_PATTERN, description="e.g. '1d 07:00'; default: the installation's"
    )

    # Derived per-bank names: one place, so nothing else spells them.
    @cached_property
    def serving_schema(self) -> str:
        return f"t_{self.code}"

    @cached_property
    def history_schema(self) -> str:
        """Beside the serving schema, in the bank's own database: its served history."""
        return f"{self.serving_schema}_history"

    @property
    def reader_role(self) -> str:
        """The bank's PostgreSQL login role: opaque (secrets.catalog_token), because every role of
        the cluster can read every role's name."""
        return f"{settings().serving_db}_{catalog_token(self.code, 'role')}_reader"

    @cached_property
    def superset_role(self) -> str:
        return f"bank_{self.code}"

    @cached_property
    def analyst_user(self) -> str:
        return f"{self.code}_analyst"

    @cached_property
    def airflow_pool(self) -> str:
        return f"bank_{self.code}"

    @cached_property
    def dag_id(self) -> str:
        return f"granary_bank_{self.code}"


def _field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def load_tenant_file(path: Path) -> Tenant:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TenantConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        tenant = Tenant.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"field '{_field_path(e['loc'])}': {e['msg']}" for e in exc.errors())
        raise TenantConfigError(f"{path}: {problems}") from exc
    if tenant.code != path.stem:
        raise TenantConfigError(
            f"{path}: field 'code': '{tenant.code}' must equal the file name '{path.stem}'"
        )
    return tenant


def load_tenants(directory: Path | None = None) -> list[Tenant]:
    directory = directory or settings().tenants_dir
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise TenantConfigError(f"{directory}: no tenant files (*.yaml); add one per bank")
    return [load_tenant_file(f) for f in files]


def get_tenant(code: str, directory: Path | None = None) -> Tenant:
    directory = directory or settings().tenants_dir
    path = directory / f"{code}.yaml"
    if not path.exists():
        known = ", ".join(f.stem for f in sorted(directory.glob("*.yaml")))
        raise TenantConfigError(f"{path}: no such bank '{code}' (known: {known})")
    return load_tenant_file(path)
