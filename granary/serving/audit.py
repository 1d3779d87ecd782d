"""Who (role) read what (object) when, per bank, from pgaudit's object log in PostgreSQL's own log.

`granary serving init` turns pgaudit object logging on in each bank's database (pgaudit.role =
granary_auditor, which publish grants SELECT on every published table), so each read of a
published table writes one AUDIT line. This module reads the server's log back through the admin
connection (pg_read_file: works whether PostgreSQL is local or not) and keeps the lines of one
bank's database: the bank's audit trail is its database's.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant
from granary.serving.databases import pgaudit_loaded

# Debian's log_line_prefix '%m [%p] %q%u@%d ': time, pid, user@database, then the message.
_RECORD = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Z]{2,5}|[+-]\d\d)?) \[(?P<pid>\d+)\] "
    r"(?P<role>[^@\s]*)@(?P<database>\S*) LOG:  AUDIT: (?P<rest>.*)$"
)
_LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
CHUNK = 16 * 1024 * 1024


@dataclass(frozen=True)
class Access:
    at: datetime
    role: str
    database: str
    object: str  # schema.table
    object_type: str
    command: str  # SELECT, …
    statement: str
    pid: int

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


def log_file(conn: psycopg.Connection) -> str:
    """The server log's path: the logging collector's current file, else Debian's per-cluster file."""
    (current,) = conn.execute("select pg_current_logfile()").fetchone()
    if current:
        (data_dir,) = conn.execute("show data_directory").fetchone()
        return current if current.startswith("/") else f"{data_dir}/{current}"
    (cluster,) = conn.execute("show cluster_name").fetchone()
    if not cluster or "/" not in cluster:
        raise EngineError(
            "cannot find PostgreSQL's log: no logging collector and no Debian cluster_name; "
            "turn on logging_collector (pgaudit writes to the server log)"
        )
    version, name = cluster.split("/", 1)
    return f"/var/log/postgresql/postgresql-{version}-{name}.log"


def _read_log(conn: psycopg.Connection, path: str) -> Iterator[str]:
    (size,) = conn.execute("select size from pg_stat_file(%s)", (path,)).fetchone()
    # Decoded across chunks: a chunk may end inside a character (the log holds Chinese text).
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    offset, tail = 0, ""
    while offset < size:
        (chunk,) = conn.execute("select pg_read_binary_file(%s, %s, %s)", (path, offset, CHUNK)).fetchone()
        offset += CHUNK
        lines = (tail + decoder.decode(bytes(chunk))).split("\n")
        tail = lines.pop()
        yield from lines
    tail += decoder.decode(b"", final=True)
    if tail:
        yield tail


def parse(lines: Iterator[str], database: str, since: str = "") -> Iterator[Access]:
    """The AUDIT records of one database in the log, at or after `since` ('YYYY-MM-DD HH:MM:SS'
    text, compared as text: the log's times sort that way). A statement spanning lines continues
    on lines starting with a tab. Cheap substring tests first: the log holds every bank's reads."""
    needle = f"@{database} LOG:  AUDIT: "
    head: re.Match[str] | None = None
    body: list[str] = []
    for line in lines:
        if _LINE_START.match(line):
            if head:
                yield _access(head, body)
            head = None
            if needle in line and line >= since:
                head = _RECORD.match(line)
                body = [head["rest"]] if head else []
        elif head:
            body.append(line[1:] if line.startswith("\t") else line)
    if head:
        yield _access(head, body)


def _access(head: re.Match[str], body: list[str]) -> Access:
    # AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER
    fields = next(csv.reader(io.StringIO("\n".join(body))), [])
    fields += [""] * (9 - len(fields))
    day, clock, *_zone = head["at"].split(" ")
    # Granary's servers log in UTC (log_timezone); a time in another zone is read as UTC too.
    at = datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=UTC)
    return Access(
        at=at,
        role=head["role"],
        database=head["database"],
        object=fields[6],
        object_type=fields[5],
        command=fields[4],
        statement=fields[7],
        pid=int(head["pid"]),
    )


def accesses(tenant: Tenant, since: datetime | None = None) -> list[Access]:
    """The bank's audited reads (any role, its database only), oldest first."""
    database = serving_database(tenant)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # the server logs in UTC here (log_timezone)
    with admin_connect(autocommit=True) as conn:
        if not pgaudit_loaded(conn):
            raise EngineError(
                "pgaudit is not loaded in this PostgreSQL, so reads are not audited: run "
                "`scripts/setup-machine.sh`, then `granary serving init`"
            )
        path = log_file(conn)
        try:
            text_since = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if since else ""
            found = [
                a
                for a in parse(_read_log(conn, path), database, text_since)
                if a.object_type == "TABLE" and (since is None or a.at >= since)
            ]
        except psycopg.Error as exc:
            raise EngineError(f"cannot read PostgreSQL's log {path}: {exc}") from exc
    return found
