"""The installation's alert settings: `alerts.yaml` (GRANARY_ALERTS_FILE), read at the edge.

    smtp: {host: smtp.province.example, port: 25, sender: granary@province.example}
    province: {email: [ops@province.example], dingtalk: ["https://oapi.dingtalk.com/robot/send?access_token=…"]}
    publish_deadline: "1d 07:00"     # default for every bank: business date + 1 day, 07:00
    timezone: Asia/Shanghai

Each bank adds its own people in its tenant YAML (`contact:`) and may override `publish_deadline`.
No file: no province channels (and no email), deadline 1d 07:00 Beijing time.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from granary.core.config import settings
from granary.core.tenants import DEADLINE_PATTERN, Contacts, Tenant, TenantConfigError


class Smtp(BaseModel):
    """The province's mail relay; needed only once someone is to be told by email."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None
    port: int = Field(25, ge=1, le=65535)
    sender: str | None = None
    starttls: bool = False
    user: str | None = None
    password_file: Path | None = None  # owner-only file holding the SMTP password


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    smtp: Smtp = Smtp()
    province: Contacts = Contacts()
    publish_deadline: str = Field("1d 07:00", pattern=DEADLINE_PATTERN)
    timezone: str = "Asia/Shanghai"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def alerts_file() -> Path:
    return Path(os.environ.get("GRANARY_ALERTS_FILE", str(settings().home / "alerts.yaml")))


@cache
def alert_settings() -> AlertSettings:
    path = alerts_file()
    if not path.exists():
        return AlertSettings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return AlertSettings.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TenantConfigError(f"{path}: {exc}; fix the file (see granary/alerts/settings.py)") from exc


def deadline(tenant: Tenant, day: date) -> datetime:
    """When the bank's day must be published: its YAML's publish_deadline, else the installation's."""
    spec = tenant.publish_deadline or alert_settings().publish_deadline
    days, hh, mm = (int(x) for x in re.match(r"^(\d+)d (\d\d):(\d\d)$", spec).groups())  # type: ignore[union-attr]
    return datetime.combine(day + timedelta(days=days), time(hh, mm), tzinfo=alert_settings().zone)
