"""Per-installation secrets (PII keys, bank passwords): generated once, kept outside the repo.

Files are created owner-only (0600) in an owner-only directory (0700).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets as _random
from collections.abc import Callable
from pathlib import Path

from granary.core import paths
from granary.core.config import settings


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


@functools.cache
def _catalog_key(path: Path) -> bytes:
    return bytes.fromhex(read_or_create(path, lambda: _random.token_hex(32)))


def catalog_token(tenant: str, kind: str) -> str:
    """What the bank's cluster-wide PostgreSQL names (kind: its "database", its "role") say instead
    of its code: every role can read every role's name, and can ask whether a database of a given
    name exists, so a name made from the code would tell any bank which other banks there are.
    Keyed by the installation's own secret (a bank cannot recompute it from a code it guesses) and
    by the installation's serving name (two installations on one cluster never share a role); one
    token per kind, so a role's name does not give away its database's."""
    message = f"{settings().serving_db}/{kind}/{tenant}".encode()
    digest = hmac.new(_catalog_key(paths.catalog_key_file()), message, hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()  # 16 characters, [a-z2-7]


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
