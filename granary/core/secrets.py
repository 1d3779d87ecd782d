"""Per-installation secrets (PII keys, bank passwords): generated once, kept outside the repo.

Files are created owner-only (0600) in an owner-only directory (0700).
"""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import Callable
from pathlib import Path

from granary.core import paths


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


def stage_tenant_password(tenant: str, password: str) -> Callable[[bool], None]:
    """Write a new password beside the bank's current one (owner-only); the returned function either
    swaps it in (True, after the role has it) or throws it away (False)."""
    path = paths.tenant_password_file(tenant)
    pending = path.with_suffix(".pending")
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover .pending from a crash may have been created otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")

    def commit(ok: bool) -> None:
        if ok:
            os.replace(pending, path)
        else:
            pending.unlink(missing_ok=True)

    return commit
