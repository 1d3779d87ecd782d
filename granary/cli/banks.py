"""A bank's serving side and lifecycle: serving init, credentials, audit, tag lookup, removal, demo."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from granary.cli.common import DateOpt, TenantOpt, bank_arg, banks_arg, console, guard, out, parse_date

app = typer.Typer()
serving_app = typer.Typer(help="The PostgreSQL serving databases: one per bank, its role, the province's.")
credentials_app = typer.Typer(help="Banks' serving credentials (kept owner-only outside the repo).")
tenant_app = typer.Typer(
    help="A bank's lifecycle: onboarding is adding tenants/T.yaml (add), its connection (show), removing it."
)


@app.command()
def tags(
    tenant: TenantOpt,
    customer: Annotated[str, typer.Option("--customer", "-c", help="customer id, e.g. C0000000001")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A customer's current tags from the serving database, read with the bank's own role."""
    from granary.serving.connection import customer_tags

    t = bank_arg(tenant)
    rows = guard(lambda: customer_tags(t, customer))
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    if not rows:
        console.print(f"no tags for customer {customer} in {t.code} (unknown id, or no tag holds)")
        raise typer.Exit(1)
    table = Table("tag_code", "标签", "tag", "category", "business date")
    for r in rows:
        table.add_row(r["tag_code"], r["tag_name_zh"], r["tag_name_en"], r["category_zh"], str(r["dt"]))
    out.print(table)


@app.command()
def demo(
    date_: DateOpt = "2026-11-20",
    tenants_: Annotated[
        str, typer.Option("--tenants", help="comma list of banks to run, or all (the province)")
    ] = "qingshan,hexi",
    scale: Annotated[float, typer.Option(help="scale factor of the generated data")] = 0.01,
    history_days: Annotated[int, typer.Option(help="days of extracts generated up to --date")] = 3,
) -> None:
    """Start every service, run all banks' day through the Airflow scheduler, provision Superset."""
    from granary.admin.demo import run_demo

    guard(lambda: run_demo(banks_arg(tenants_), parse_date(date_), scale, history_days))


@serving_app.command("init")
def serving_init(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None) -> None:
    """Create or converge each bank's database and login role, and the province's ops database.

    CONNECT on a bank's database is its own role's only (PUBLIC stripped); idempotent.
    """
    from granary.serving.databases import init_serving

    guard(lambda: init_serving(banks_arg(tenant)))


@tenant_app.command("add")
def tenant_add(code: Annotated[str, typer.Argument(help="the bank code, e.g. qingshan")]) -> None:
    """Create what a bank added as tenants/T.yaml needs and is missing: its secrets, serving database
    and login role, Airflow pool, Superset role, analyst and dashboards; prints what it created.
    Idempotent. Each DAG run does the same first, so adding the file is enough."""
    from granary.admin.onboarding import add

    guard(lambda: add(code))


@tenant_app.command("show")
def tenant_show(
    code: Annotated[str, typer.Argument(help="the bank code, e.g. qingshan")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the bank's loan systems and tools connect with: host, port, its (opaque) database and
    login role, its schema, and where its password is kept. Nothing is created."""
    from granary.core import paths
    from granary.serving.connection import tenant_address

    t = bank_arg(code)
    info = tenant_address(t) | {
        "schema": t.serving_schema,
        "password_file": str(paths.tenant_password_file(t.code)),
    }
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table("", t.name_zh, title=f"{t.code}: serving connection")
    for key, value in info.items():
        table.add_row(key, str(value))
    out.print(table)


@tenant_app.command("remove")
def tenant_remove(code: Annotated[str, typer.Argument(help="the bank code, e.g. qingshan")]) -> None:
    """Remove a bank whose tenants/T.yaml was deleted: its Superset assets, role and analyst, its serving
    database (pg_dump archived first) and login role, its Airflow pool; its landing, lake and warehouse
    data are moved to the archive, never deleted. Idempotent."""
    from granary.admin.lifecycle import remove

    guard(lambda: remove(code))


@credentials_app.command("rotate")
def credentials_rotate(tenant: TenantOpt) -> None:
    """A new password for the bank's serving role: stored owner-only, set in PostgreSQL, and in the
    bank's Superset connection if Superset is up. Other banks are untouched; open sessions stay open."""
    from granary.admin.credentials import rotate

    t = bank_arg(tenant)
    guard(lambda: rotate(t))


@app.command()
def audit(
    tenant: TenantOpt,
    since: Annotated[str | None, typer.Option(help="only reads at or after this time (ISO, UTC)")] = None,
    limit: Annotated[int, typer.Option(help="show the last N reads (0: all)")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who (role) read what (object) when in the bank's serving database, from pgaudit's log."""
    from datetime import datetime

    from granary.serving.audit import accesses

    t = bank_arg(tenant)
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"'{since}' is not a time; use e.g. 2026-01-01T08:00") from None
    found = guard(lambda: accesses(t, start))
    rows = found[-limit:] if limit else found  # type: ignore[index]
    if as_json:
        out.print_json(json.dumps([a.as_json() for a in rows], ensure_ascii=False))  # type: ignore[union-attr]
        return
    table = Table(
        "when (UTC)", "who (role)", "what (object)", "command", title=f"{t.code}: {len(found)} reads"
    )  # type: ignore[arg-type]
    for a in rows:  # type: ignore[union-attr]
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], a.role, a.object, a.command)
    out.print(table)


@app.command()
def history(
    tenant: TenantOpt,
    date_: DateOpt,
    indicator: Annotated[
        str | None, typer.Option(help="show this indicator's value in every version")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What was published for a served day and when, and what a rerun replaced (the restatement audit)."""
    from granary.serving.history import audit_day

    t, dt = bank_arg(tenant), parse_date(date_)
    found = guard(lambda: audit_day(t, dt, indicator))
    versions, values = found  # type: ignore[misc]
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "tenant": t.code,
                    "dt": dt.isoformat(),
                    "versions": [
                        {
                            "publish_id": v.publish_id,
                            "published_at": v.published_at.isoformat(),
                            "replaced_at": v.replaced_at.isoformat() if v.replaced_at else None,
                            "replaced_by": v.replaced_by,
                            "rows": v.rows,
                            "values_changed_by_replacement": v.changed,
                            "lake_snapshots": v.lake_snapshots,
                        }
                        for v in versions
                    ],
                    "values": [
                        {
                            "publish_id": v.publish_id,
                            "grain": v.grain,
                            "grain_id": v.grain_id,
                            "value": v.value,
                        }
                        for v in values
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        "publish",
        "published (UTC)",
        "replaced (UTC)",
        "rows",
        "values the rerun changed",
        "built from (DWD lake snapshots)",
        title=f"{t.code} {dt}",
    )
    for v in versions:
        replaced = f"{v.replaced_at:%Y-%m-%d %H:%M:%S} by {v.replaced_by}" if v.replaced_at else "serving"
        changed = "" if v.changed is None else str(v.changed)
        lake = ", ".join(f"{name} {snapshot}" for name, snapshot in (v.lake_snapshots or {}).items())
        table.add_row(
            str(v.publish_id), f"{v.published_at:%Y-%m-%d %H:%M:%S}", replaced, str(v.rows), changed, lake
        )
    out.print(table)
    if len(versions) > 1 and versions[-1].lake_snapshots:
        console.print(
            f"What a rerun changed in the lake: `granary lake diff --tenant {t.code} --table dwd_loan "
            f"--date {dt} --before <snapshot> --after <snapshot>`"
        )
    if indicator:
        by_member = Table("grain", "member", *(str(v.publish_id) for v in versions), title=indicator)
        members: dict[tuple[str, str], dict[int, float | None]] = {}
        for v in values:
            members.setdefault((v.grain, v.grain_id), {})[v.publish_id] = v.value
        for (grain, member), by_publish in members.items():
            by_member.add_row(grain, member, *(str(by_publish.get(v.publish_id, "")) for v in versions))
        out.print(by_member)


@app.command()
def erase(
    tenant: TenantOpt,
    customer: Annotated[
        str, typer.Option("--customer", "-c", help="the bank's customer id, e.g. C0000000042")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go, change nothing")] = False,
) -> None:
    """删除权: erase a customer's personal information from the lake (every layer and file), the
    warehouse, the serving database and Superset's caches; recorded in ops.erasure."""
    from granary.admin.erasure import erase as run_erasure
    from granary.pipeline.spark import get_session

    t = bank_arg(tenant)
    verb = "would remove" if dry_run else "removed"
    with console.status(f"erasing customer {customer} of {t.code}…" if not dry_run else "counting…"):
        done = guard(lambda: run_erasure(get_session, t, customer, dry_run=dry_run))
    table = Table(title=f"{t.code} customer {customer}: {verb}")
    for column in ("place", "where", "rows"):
        table.add_column(column)
    for place, found in done.removed.items():  # type: ignore[union-attr]
        for where, count in found.items() or [("—", 0)]:
            table.add_row(place, where, str(count))
    out.print(table)
