"""A customer's rows out of the bank's serving database, and out of its relation files.

DELETE only marks a row dead: its bytes stay in the page until the space is reused. Publish leaves
dead rows too (a day replaced, yesterday's latest rows), so a table may hold the customer in dead
rows alone. Every table with a column that can name the customer is therefore rewritten by VACUUM
FULL (new files, the old ones unlinked), history partitions included, whether or not a live row
was deleted. The statements name the customer's values, so the session does not write them to the
audit log (pgaudit); the erasure itself is recorded by granary.admin.erasure.
"""

from __future__ import annotations

from psycopg import sql

from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant
from granary.lake.erasure import Identity, conditions, sql_filter


def _tables(conn) -> list[tuple[str, str, list[str]]]:  # noqa: ANN001 - a psycopg connection
    """(schema, table, columns) of every table (a partitioned table once, not its partitions)."""
    rows = conn.execute(
        """
        select n.nspname, c.relname, array_agg(a.attname::text order by a.attnum)
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relkind in ('r', 'p') and not c.relispartition
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%%'
        group by n.nspname, c.relname
        order by 1, 2
        """
    ).fetchall()
    return [(schema, table, list(columns)) for schema, table, columns in rows]


def rows_held(tenant: Tenant, identity: Identity) -> dict[str, int]:
    """Per table of the bank's serving database, the customer's rows in it."""
    found = {}
    with admin_connect(serving_database(tenant)) as conn:
        for schema, table, columns in _tables(conn):
            matches = conditions(columns, identity)
            if matches:
                query = sql.SQL("select count(*) from {} where ").format(sql.Identifier(schema, table))
                (count,) = conn.execute(query + sql.SQL(sql_filter(matches))).fetchone()
                if count:
                    found[f"{schema}.{table}"] = count
    return found


def erase(tenant: Tenant, identity: Identity) -> dict[str, int]:
    """Delete the customer's rows from every table that holds some, then rewrite those tables."""
    removed = {}
    with admin_connect(serving_database(tenant), autocommit=True) as conn:
        conn.execute("set pgaudit.log = 'none'")  # the statements carry the customer's values
        for schema, table, columns in _tables(conn):
            matches = conditions(columns, identity)
            if not matches:
                continue
            relation = sql.Identifier(schema, table)
            deleted = conn.execute(
                sql.SQL("delete from {} where ").format(relation) + sql.SQL(sql_filter(matches))
            )
            if deleted.rowcount:
                removed[f"{schema}.{table}"] = deleted.rowcount
            conn.execute(sql.SQL("vacuum (full, analyze) {}").format(relation))
        # ANALYZE's statistics quote common values; the ones replaced are dead rows of pg_statistic
        conn.execute("vacuum full pg_catalog.pg_statistic")
        conn.execute("checkpoint")  # the WAL that holds the old pages can be recycled from here on
    return removed
