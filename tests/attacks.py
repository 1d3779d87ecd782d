"""The attack matrix's machinery: what bank B's data looks like, attempts, and the judge.

An attempt is a real call against a real component (PostgreSQL, Superset, the CLI) made with
bank A's credentials; it *succeeds* when what came back holds something only bank B's published
data or objects hold (B's schema or database name, B's branch / manager / village ids, B's asset
UUIDs, names or passwords, bytes of B's lake files) that the attacker did not type itself. Error
text counts too: an error that names an object of B the attacker never named is a leak.

Role names are not markers: PostgreSQL role names are cluster-wide and carry no data; what a role's
settings say (B's search_path names B's schema) is a marker, through B's schema name.

An attempt that never reached a component's decision is *broken*, never refused: the harness raised
something no component raises to say no (a typo, a wrong call, a service not reachable), or an HTTP
404/405 came back without Superset's JSON (no such endpoint or method). A broken attempt tested
nothing, so it fails the matrix (judge) like a leak does.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import requests

from granary.core import postgres
from granary.core.errors import EngineError
from granary.core.secrets import tenant_password
from granary.core.tenants import Tenant
from granary.superset import bundle
from granary.superset import credentials as superset_credentials

# What came back, shortened for the report (the judge reads all of it).
DETAIL_CHARS = 160


@dataclass(frozen=True)
class Markers:
    """What only bank B's published data and objects contain."""

    bank: str
    names: frozenset[str]  # matched as substrings: schema, database, names, UUIDs, passwords
    ids: frozenset[str]  # matched on word boundaries: B's code, its branch, manager and village ids

    def found(self, text: str, typed: str = "") -> list[str]:
        """B's markers in `text` that are not in `typed` (an echo of the attacker's own input)."""
        hits = {m for m in self.names if m in text and m not in typed}
        if self.ids:
            hits |= {m for m in _ids_pattern(self.ids).findall(text) if m not in typed}
        return sorted(hits)


_PATTERNS: dict[frozenset[str], re.Pattern[str]] = {}


def _ids_pattern(ids: frozenset[str]) -> re.Pattern[str]:
    if ids not in _PATTERNS:
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        _PATTERNS[ids] = re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])")
    return _PATTERNS[ids]


def _column(conn: psycopg.Connection, schema: str, query: str) -> set[str]:
    return {str(r[0]) for r in conn.execute(query.format(s=schema)).fetchall() if r[0] is not None}


def _published_ids(tenant: Tenant) -> set[str]:
    """Branch, manager and village ids the bank's published tables hold, read as admin."""
    with postgres.admin_connect(postgres.serving_database(tenant)) as conn:
        ids = _column(conn, tenant.serving_schema, "select distinct branch_id from {s}.ads_branch_daily")
        for col in ("branch_id", "manager_id", "village_code"):
            ids |= _column(
                conn, tenant.serving_schema, f"select distinct {col} from {{s}}.ads_customer_profile"
            )
    return ids


def markers_for(them: Tenant, me: Tenant) -> Markers:
    """B's identifiers, read from what was really published and provisioned, minus anything A shares."""
    theirs, mine = _published_ids(them), _published_ids(me)
    if not theirs - mine:
        raise AssertionError(f"bank {them.code} published no id of its own: the matrix could judge nothing")
    names = {
        them.name_en,
        postgres.legacy_serving_database(them),
        them.serving_schema,
        tenant_password(them.code),
        superset_credentials.analyst_password(them),
        bundle.database_name(them),
        them.name_zh,
        bundle.dashboard_slug(them),
        *(bundle.asset_uuid(them, a) for a in ("database", "dashboard:overview")),
    }
    # Before one database per bank, both banks share a database name: only a name of B's own counts.
    if postgres.serving_database(them) != postgres.serving_database(me):
        names.add(postgres.serving_database(them))
    # B's code is matched like an id (on word boundaries): in a role, schema or database name too.
    return Markers(them.code, frozenset(names), frozenset(theirs - mine | {them.code}))


# How the components say no: these exceptions are answers to judge. Any other exception is the
# harness's own failure (requests' connection errors too: the attempt never reached Superset).
ANSWERS = (psycopg.Error, EngineError, PermissionError, subprocess.TimeoutExpired)
# Answers that show the attempt reached no decision, and why.
BROKEN_ANSWERS = (
    (re.compile(r"^HARNESS "), "the harness failed"),
    # Superset answers a missing object with its own JSON ({"message": "Not found"}); a missing
    # route or method is Werkzeug's error, as an HTML page or quoted in JSON.
    (re.compile(r"^HTTP 40[45] (?!\s*[\[{])"), "no such endpoint or method"),
    (
        re.compile(r"^HTTP 40[45] .*(requested URL was not found|method is not allowed for the req)", re.S),
        "no such endpoint or method",
    ),
)


def unreached(exc: BaseException) -> bool:
    """The call never reached the component (nothing listening, no answer in time)."""
    if isinstance(exc.__cause__, requests.RequestException):  # SupersetClient wraps these
        return True
    return isinstance(exc, psycopg.OperationalError) and "Connection refused" in str(exc)


def broken_because(text: str) -> str:
    """Why the answer shows the attempt reached no decision ("" when it did)."""
    return next((why for pattern, why in BROKEN_ANSWERS if pattern.search(text)), "")


@dataclass
class Attempt:
    door: str  # postgres | superset | cli | lake
    attacker: str  # bank A
    target: str  # bank B
    name: str  # short, unique within door and direction
    tried: str  # what was sent (SQL, URL and payload, command line)
    run: Callable[[], str]  # performs the attempt, returns the text of what came back
    extra: tuple[str, ...] = ()  # markers only this attempt can see (bytes of a file of B)
    leaked_if: Callable[[str], bool] | None = None  # a leak the markers cannot see (an oid of B)
    ignore: tuple[str, ...] = ()  # markers this answer may hold without leaking (A's own history)
    # filled in by run_attempt
    outcome: str = ""
    leaked: list[str] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0


def run_attempt(attempt: Attempt, markers: Markers) -> Attempt:
    started = time.perf_counter()
    try:
        text = attempt.run()
    except ANSWERS as exc:  # a component's no: an answer to judge, unless it never got the call
        text = f"{'HARNESS' if unreached(exc) else 'ERROR'} {type(exc).__name__}: {exc}"
    except Exception as exc:  # the harness's own failure: judged broken, never a crash of the matrix
        text = f"HARNESS {type(exc).__name__}: {exc}"
    attempt.seconds = time.perf_counter() - started
    leaked = [m for m in markers.found(text, attempt.tried) if m not in attempt.ignore]
    leaked += [m for m in attempt.extra if m in text]
    if attempt.leaked_if is not None and attempt.leaked_if(text):
        leaked.append("<leaked_if>")
    attempt.leaked = leaked
    broken = broken_because(text)
    attempt.outcome = "LEAKED" if leaked else ("BROKEN" if broken else "refused")
    attempt.detail = " ".join(f"{broken}: {text}".split() if broken else text.split())[:DETAIL_CHARS]
    return attempt


def judge(attempts: list[Attempt]) -> None:
    """The matrix passes only if every attempt reached a decision and none reached the other bank."""

    def line(a: Attempt) -> str:
        return f"{a.door} {a.attacker}->{a.target} {a.name}: {a.leaked or ''} {a.detail}"

    leaks = [line(a) for a in attempts if a.leaked]
    broken = [line(a) for a in attempts if a.outcome == "BROKEN"]
    assert not leaks, f"{len(leaks)} of {len(attempts)} attempts reached the other bank:\n" + "\n".join(leaks)
    assert not broken, (
        f"{len(broken)} of {len(attempts)} attempts are broken (they tested nothing; fix the attempt):\n"
        + "\n".join(broken)
    )


# --- doors ---------------------------------------------------------------------------


def pg_session(conninfo: dict[str, Any], statements: Iterable[str]) -> str:
    """Log in with `conninfo` and run each statement in autocommit; report every answer or error."""
    out: list[str] = []
    with psycopg.connect(**{"connect_timeout": 10, **conninfo}, autocommit=True) as conn:
        for stmt in statements:
            try:
                if re.match(r"(?is)\s*copy\b.*\bto\s+stdout", stmt):
                    with conn.cursor() as cur, cur.copy(stmt) as copy:
                        rows = [bytes(b"".join(copy)).decode("utf-8", "replace")]
                else:
                    cur = conn.execute(stmt)
                    rows = cur.fetchall() if cur.description else []
                out.append(f"{stmt} -> {rows!r}")
            except psycopg.Error as exc:
                out.append(f"{stmt} -> ERROR {exc}")
    return "\n".join(out)


def statement_ran(text: str, statement: str) -> bool:
    """Whether `statement` in a pg_session answer returned rather than failed."""
    return any(line.startswith(f"{statement} -> ") and " -> ERROR" not in line for line in text.splitlines())


def http_text(resp: Any) -> str:
    return f"HTTP {resp.status_code} {resp.text}"


def cli_run(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


# --- report --------------------------------------------------------------------------


def summary(attempts: list[Attempt]) -> dict[str, Any]:
    doors: dict[str, dict[str, int]] = {}
    for a in attempts:
        d = doors.setdefault(a.door, {"attempts": 0, "successes": 0, "broken": 0})
        d["attempts"] += 1
        d["successes"] += a.outcome == "LEAKED"
        d["broken"] += a.outcome == "BROKEN"
    return {
        "attempts": len(attempts),
        "successes": sum(a.outcome == "LEAKED" for a in attempts),
        "broken": sum(a.outcome == "BROKEN" for a in attempts),
        "doors": doors,
    }


def table(attempts: list[Attempt]) -> str:
    lines = [f"{'door':9} {'A -> B':20} {'attempt':44} {'outcome':8} detail"]
    for a in attempts:
        direction = f"{a.attacker}->{a.target}"
        shown = f"{','.join(a.leaked)} | {a.detail}" if a.leaked else a.detail[:70]
        lines.append(f"{a.door:9} {direction:20} {a.name[:44]:44} {a.outcome:8} {shown}")
    s = summary(attempts)
    lines.append("")
    for door, d in s["doors"].items():
        lines.append(f"{door:9} attempts {d['attempts']:4}  successes {d['successes']}  broken {d['broken']}")
    lines.append(f"{'total':9} attempts {s['attempts']:4}  successes {s['successes']}  broken {s['broken']}")
    return "\n".join(lines)


def to_json(attempts: list[Attempt], seconds: float) -> str:
    rows = [{k: v for k, v in asdict(a).items() if k not in ("run", "leaked_if", "extra")} for a in attempts]
    return json.dumps(
        {**summary(attempts), "seconds": round(seconds, 1), "matrix": rows}, ensure_ascii=False, indent=2
    )
