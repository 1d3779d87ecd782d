"""What every verb group shares: the consoles, the options, and one way to fail (exit codes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from granary.catalog.indicators import CatalogError
from granary.catalog.sources import ContractError
from granary.core.errors import DataError, GranaryError
from granary.core.tenants import Tenant, TenantConfigError, get_tenant, load_tenants

console = Console(stderr=True)
out = Console()

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="bank code, e.g. qingshan")]
DateOpt = Annotated[str, typer.Option("--date", "-d", help="business date, YYYY-MM-DD")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", "-s", help="source table(s); default: all")]


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date; use YYYY-MM-DD") from None


def fail(exc: Exception, code: int) -> None:
    # One line, never wrapped: the last line of a task log is the reason an alert records.
    console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
    raise typer.Exit(code)


def guard(fn: Callable[[], object]) -> object:
    """Run one step; turn known failures into a message and a meaningful exit code."""
    try:
        return fn()
    except (TenantConfigError, ContractError, CatalogError) as exc:
        fail(exc, 2)
    except DataError as exc:
        fail(exc, 3)
    except GranaryError as exc:
        fail(exc, 1)
    return None


def bank_arg(code: str) -> Tenant:
    return guard(lambda: get_tenant(code))  # type: ignore[return-value]


def banks_arg(codes: str | None) -> list[Tenant]:
    """A comma list of bank codes; none, or `all`, is every bank in tenants/."""
    if not codes or codes.strip() == "all":
        return guard(load_tenants)  # type: ignore[return-value]
    return [bank_arg(c.strip()) for c in codes.split(",") if c.strip()]


def step(name: str, tenant: str, date_: str, sources: list[str] | None = None) -> None:
    from granary.pipeline import run as pipeline

    t, dt = bank_arg(tenant), parse_date(date_)
    guard(lambda: pipeline.run_step(name, t, dt, sources=sources))
