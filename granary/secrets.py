"""Per-installation secrets (PII keys, bank passwords): generated once, kept outside the repo.

Files are created owner-only (0600) in an owner-only directory (0700).
"""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import Callable
from pathlib import Path

from granary import paths


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path`, created owner-only by `make()` the first time."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = make()
    # O_EXCL: two processes racing to create the key must not both write one.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value


def pii_key(tenant: str) -> bytes:
    """The bank's HMAC key for PII tokens (32 random bytes, hex on disk)."""
    return bytes.fromhex(read_or_create(paths.tenant_key_file(tenant), lambda: _random.token_hex(32)))


def tenant_password(tenant: str) -> str:
    """The bank's serving-database login password."""
    return read_or_create(paths.tenant_password_file(tenant), lambda: _random.token_urlsafe(24))


def write_tenant_password(tenant: str, password: str) -> None:
    path = paths.tenant_password_file(tenant)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    os.replace(tmp, path)
