"""Superset's per-installation secrets: its SECRET_KEY, the admin's and each analyst's password.

Generated once, kept owner-only (0600) in settings().secrets_dir like the bank keys in
granary/core/secrets.py; never in the repo, never in Superset's own config file.
"""

from __future__ import annotations

import secrets as _random
from pathlib import Path

from granary.core.config import settings
from granary.core.secrets import read_or_create
from granary.core.tenants import Tenant

ADMIN_USER = "admin"


def _secret_file(name: str) -> Path:
    return settings().secrets_dir / name


def secret_files(tenant: Tenant) -> list[Path]:
    """The files these secrets live in (installation-wide ones, then the bank's analyst)."""
    names = ("superset.secret_key", "superset.admin.password", f"{tenant.code}.superset.password")
    return [_secret_file(n) for n in names]


def secret_key() -> str:
    """Flask SECRET_KEY: signs sessions and encrypts database passwords in the metadata DB."""
    return read_or_create(_secret_file("superset.secret_key"), lambda: _random.token_urlsafe(48))


def admin_secret_file() -> Path:
    """Exists once Superset was set up in this installation (`granary superset start`)."""
    return _secret_file("superset.admin.password")


def admin_password() -> str:
    return read_or_create(admin_secret_file(), lambda: _random.token_urlsafe(18))


def analyst_password(tenant: Tenant) -> str:
    """The bank analyst's Superset login password (user tenant.analyst_user)."""
    return read_or_create(_secret_file(f"{tenant.code}.superset.password"), lambda: _random.token_urlsafe(18))
