"""The production deployment, checked without a container engine (none runs here).

docker/compose.yaml and docker/Dockerfile are validated statically (YAML parsed, the
Dockerfile read instruction by instruction); the init scripts and every command of
docs/deployment.md that can run on one machine are run for real against a scratch
PostgreSQL cluster of their own.
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
GUIDE = REPO / "docs" / "deployment.md"
CONFIG_PY = REPO / "granary" / "core" / "config.py"
LOCK_FILES = {"uv.lock", "envs/airflow/uv.lock", "envs/superset/uv.lock"}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def one_shot(service: dict) -> bool:
    """Set-up jobs that run to completion (restart: "no"); everything else is long-running."""
    return str(service.get("restart", "")) == "no"


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def granary_services() -> dict[str, dict]:
    """Services that run granary code: built from the core or airflow target."""
    return {
        name: s
        for name, s in services().items()
        if (s.get("build") or {}).get("target") in ("core", "airflow")
    }


# --- Dockerfile, read instruction by instruction ---------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]


def dockerfile_stages(path: Path) -> dict[str, Stage]:
    text = path.read_text(encoding="utf-8")
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            current = Stage(name, parts[0], [])
            stages[name] = current
        elif current is not None:
            current.instructions.append((keyword, rest.strip()))
    return stages


def stage_chain(stages: dict[str, Stage], target: str) -> list[Stage]:
    """The target stage and the stages it is built FROM, base first."""
    chain = []
    name: str | None = target
    while name in stages:
        chain.insert(0, stages[name])
        name = stages[name].base
    return chain


def compose_builds() -> list[tuple[str, Path, str]]:
    """(service, Dockerfile path, target) of every service that builds an image."""
    builds = []
    for name, service in services().items():
        build = service.get("build")
        if build:
            context = (COMPOSE_FILE.parent / build["context"]).resolve()
            builds.append((name, context / build.get("dockerfile", "Dockerfile"), build.get("target", "")))
    return builds


# --- compose ---------------------------------------------------------------------------


def test_compose_holds_the_whole_platform():
    names = set(services())
    expected = {
        "postgres", "spark-master", "spark-worker", "spark-connect", "airflow-api-server",
        "airflow-scheduler", "airflow-dag-processor", "superset",
    }  # fmt: skip
    assert expected <= names, f"missing services: {expected - names}"
    assert int(env_example()["SPARK_WORKERS"]) >= 2
    assert services()["spark-worker"]["deploy"]["replicas"] == "${SPARK_WORKERS}"


def test_every_service_has_an_image_or_a_build():
    for name, service in services().items():
        assert service.get("image") or service.get("build"), f"{name}: neither image nor build"


def test_every_long_running_service_has_a_healthcheck():
    for name, service in services().items():
        if one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert str(service.get("restart")) == "unless-stopped", f"{name}: not restarted after a failure"


def test_one_shot_services_are_waited_for_until_they_succeed():
    """A one-shot has nothing to health-check: its dependents wait for it to exit 0."""
    shots = {name for name, s in services().items() if one_shot(s)}
    assert shots == {"granary-init", "airflow-init", "superset-init"}
    waited = {
        target
        for s in services().values()
        for target, rule in (s.get("depends_on") or {}).items()
        if rule.get("condition") == "service_completed_successfully"
    }
    assert shots <= waited, f"one-shots nobody waits for: {shots - waited}"


def test_depends_on_targets_exist_and_wait_for_health():
    all_services = services()
    for name, service in all_services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must name a condition per service"
        for target, rule in depends.items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            wanted = "service_completed_successfully" if one_shot(all_services[target]) else "service_healthy"
            assert rule.get("condition") == wanted, f"{name} -> {target}: condition must be {wanted}"
    # What must be up before what: tasks need Spark and the migrated metadata; Superset its init.
    depends = {n: set(s.get("depends_on") or {}) for n, s in all_services.items()}
    assert "spark-connect" in depends["airflow-scheduler"]
    assert {"spark-master", "spark-worker"} <= depends["spark-connect"]
    assert {"airflow-init", "granary-init"} <= depends["airflow-api-server"]
    assert "superset-init" in depends["superset"]


def test_named_volumes_are_declared_and_used():
    declared = set(compose().get("volumes") or {})
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/", "~", "$")):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: bind mount {source} does not exist"
                continue
            assert source in declared, f"{name}: volume {source} is not declared under volumes:"
            used.add(source)
    assert declared == used, f"declared but unused volumes: {declared - used}"


def test_the_lake_and_keys_are_shared_where_they_are_used():
    mounts = {
        name: {str(v).split(":", 1)[0] for v in s.get("volumes") or []} for name, s in services().items()
    }
    for name in ("spark-worker", "spark-connect", "airflow-scheduler"):
        assert "granary-data" in mounts[name], f"{name} must see the lake at the same path"
    for name in ("granary-init", "airflow-scheduler"):
        assert "granary-secrets" in mounts[name]
    assert "pg-data" in mounts["postgres"]


def test_every_compose_variable_is_in_env_example():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    referenced = set(VARIABLE.findall(text))
    example = set(env_example())
    assert referenced <= example, f"not in .env.example: {sorted(referenced - example)}"
    assert example <= referenced, f"in .env.example but unused: {sorted(example - referenced)}"
    assert not re.search(r"\$[A-Za-z_]", VARIABLE.sub("", text)), "use ${VAR}, not $VAR, in compose.yaml"


def test_env_file_with_secrets_is_not_committed():
    assert ".env" in (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO)
    assert ignored.returncode == 0, "docker/.env would be committed"
    tracked = subprocess.run(["git", "ls-files", "docker/.env"], cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""
    # Secrets are only placeholders in the example, never real values.
    for name, value in env_example().items():
        if re.search(r"PASSWORD|SECRET|KEY", name):
            assert value.startswith("change-me"), f"{name} in .env.example must be a change-me placeholder"


def test_build_contexts_dockerfiles_and_targets_exist():
    builds = compose_builds()
    assert builds
    for name, dockerfile, target in builds:
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        assert target in dockerfile_stages(dockerfile), f"{name}: no stage {target} in {dockerfile}"
        assert (dockerfile.parent / f"{dockerfile.name}.dockerignore").is_file(), "the context is the repo"


def test_images_install_from_the_lock_files():
    """Every `uv sync` is --frozen against a lock COPYed before it; no other installer brings packages."""
    locks_used: set[str] = set()
    for name, dockerfile, target in compose_builds():
        chain = stage_chain(dockerfile_stages(dockerfile), target)
        copied: set[str] = set()
        syncs = 0
        for stage in chain:
            for keyword, args in stage.instructions:
                if keyword == "COPY" and "--from=" in args:
                    continue  # from another stage (the jars), not from the repository
                if keyword == "COPY":
                    sources = [a for a in args.split() if not a.startswith("--")][:-1]
                    copied |= {s.rstrip("/") for s in sources}
                    copied |= {f"{s.rstrip('/')}/uv.lock" for s in sources}  # a directory COPY
                    for source in sources:
                        assert (REPO / source).exists(), f"{dockerfile}: COPY source {source} missing"
                if keyword != "RUN":
                    continue
                for command in re.split(r"&&|;", args):
                    if "uv sync" in command:
                        assert "--frozen" in command, f"{name}: `{command.strip()}` must use --frozen"
                        project = re.search(r"cd (envs/\w+)", args)
                        lock = f"{project.group(1)}/uv.lock" if project else "uv.lock"
                        assert lock in copied, f"{name}: {lock} is not COPYed before `uv sync`"
                        locks_used.add(lock)
                        syncs += 1
                    elif re.search(r"\bpip install\b", command):
                        assert re.search(r'"?uv==\$\{UV_VERSION\}"?', command), (
                            f"{name}: unlocked `{command}`"
                        )
                    assert not re.search(r"uv pip install(?! -r)", command), (
                        f"{name}: unlocked uv pip install"
                    )
        assert syncs, f"{name}: target {target} installs nothing from a lock"
    assert locks_used == LOCK_FILES


def test_core_image_bakes_the_jars_make_setup_fetches():
    """The same Maven poms as `make setup`, resolved at build time; the image resolves nothing at run time."""
    stages = dockerfile_stages(DOCKER / "Dockerfile")
    fetch = " ".join(a for k, a in stages["jars"].instructions if k == "RUN")
    poms = {p.parent.name for p in (REPO / "jvm").glob("*/pom.xml")}
    assert poms == {"spark", "kafka"}
    assert "for side in spark kafka" in fetch and "jvm/$side/pom.xml dependency:copy-dependencies" in fetch
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "-f jvm/$*/pom.xml dependency:copy-dependencies -DincludeScope=runtime" in make
    assert "-DincludeScope=runtime" in fetch
    core = dict((k, a) for k, a in stages["core"].instructions if k in ("COPY", "ENV") and ".jars" in a)
    assert core["COPY"] == "--from=jars /opt/granary/.jars ./.jars"
    assert "GRANARY_JARS_DIR=/opt/granary/.jars" in core["ENV"]


def test_uv_in_images_is_the_one_make_setup_pins():
    pinned = re.search(r"^UV_VERSION := (\S+)", (REPO / "Makefile").read_text(), re.M).group(1)
    stages = dockerfile_stages(DOCKER / "Dockerfile")
    args = [
        a for s in stages.values() for k, a in s.instructions if k == "ARG" and a.startswith("UV_VERSION")
    ]
    assert args == [f"UV_VERSION={pinned}"]


# --- configuration: one setting per engine ----------------------------------------------


def config_settings() -> dict[str, str | None]:
    """GRANARY_* names granary/core/config.py reads, with their default values."""
    found: dict[str, str | None] = {}
    for node in ast.walk(ast.parse(CONFIG_PY.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if isinstance(name, str) and name.startswith("GRANARY_"):
                default = node.args[1] if len(node.args) > 1 else None
                found[name] = default.value if isinstance(default, ast.Constant) else None
    return found


def names_read_by_code() -> set[str]:
    files = [
        *(REPO / "granary").rglob("*.py"),
        *(REPO / "dags").glob("*.py"),
        REPO / "dbt_project" / "profiles.yml",
    ]
    return {m for f in files for m in re.findall(r"GRANARY_[A-Z_]+", f.read_text(encoding="utf-8"))}


def test_config_covers_every_engine():
    names = set(config_settings())
    engines = {
        "GRANARY_SPARK_REMOTE", "GRANARY_PG_ADMIN_DSN", "GRANARY_PG_HOST", "GRANARY_SERVING_DB",
        "GRANARY_LAKE_ROOT", "GRANARY_SUPERSET_URL", "GRANARY_AIRFLOW_URL",
    }  # fmt: skip
    assert engines <= names, f"config.py does not read {engines - names}"


def test_services_pass_the_granary_settings_config_reads():
    settings = config_settings()
    known = names_read_by_code()
    # A setting whose default is this machine would point a container at itself: each must be set.
    loopback = {
        n for n, default in settings.items() if default and re.search(r"127\.0\.0\.1|localhost", default)
    }
    assert loopback, "config.py defaults changed: no loopback defaults found"
    for name, service in granary_services().items():
        env = environment(service)
        passed = {k for k in env if k.startswith("GRANARY_")}
        assert passed <= known, f"{name}: {passed - known} are read by no code"
        assert loopback <= passed, f"{name}: must set {loopback - passed}"
        for key in loopback:
            assert not re.search(r"127\.0\.0\.1|localhost", env[key]), f"{name}: {key} points at itself"
        assert env["GRANARY_LAKE_ROOT"] == "${GRANARY_LAKE_ROOT}"
        assert env["GRANARY_SPARK_REMOTE"] == "${GRANARY_SPARK_REMOTE}"
    for name in ("superset", "superset-init"):
        passed = {k for k in environment(services()[name]) if k.startswith("GRANARY_")}
        assert passed <= known, f"{name}: {passed - known} are read by no code"


def test_every_airflow_component_shares_one_configuration():
    airflow = {n: environment(s) for n, s in granary_services().items() if n.startswith("airflow-")}
    assert set(airflow) == {
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
    }
    first = next(iter(airflow.values()))
    assert first["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR}"
    for name, env in airflow.items():
        assert env == first, f"{name}: Airflow settings differ between components"


def test_init_script_databases_are_the_ones_the_code_uses(monkeypatch):
    from granary.core import config
    from granary.stack import airflow
    from granary.superset import service

    monkeypatch.delenv("GRANARY_SERVING_DB", raising=False)
    config.settings.cache_clear()
    try:
        script = (DOCKER / "init" / "postgres-databases.sh").read_text(encoding="utf-8")
        created = set(re.findall(r"create database (\w+)", script))
        assert created == {airflow.METADATA_DB, service.metadata_db()}
        assert env_example()["GRANARY_SERVING_DB"] == config.settings().serving_db
    finally:
        config.settings.cache_clear()
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for db in created:
        assert f"/{db}" in text, f"compose never connects to {db}"


# Where code still names this machine, and why that is fine: each is the single-machine
# path (`granary spark|airflow|superset start`), which the containers do not use.
LOOPBACK_ALLOWED = {
    "granary/pipeline/spark.py": 1,  # the example URL in an error
    "granary/stack/spark_server.py": 2,  # the loopback-only local server
    "granary/stack/airflow.py": 2,  # api-server --host when GRANARY_AIRFLOW_URL has no host
    "granary/superset/service.py": 1,  # gunicorn binds 127.0.0.1 locally (compose runs it on 0.0.0.0)
    "granary/stack/cluster.py": 3,  # this machine's trial cluster
}


def test_no_new_hard_coded_hosts_outside_config():
    found: dict[str, int] = {}
    for path in [
        *(REPO / "granary").rglob("*.py"),
        *(REPO / "dags").glob("*.py"),
        *(REPO / "spark_jobs").glob("*.py"),
    ]:
        rel = path.relative_to(REPO).as_posix()
        if rel == "granary/core/config.py":
            continue
        hits = len(re.findall(r"127\.0\.0\.1|localhost", path.read_text(encoding="utf-8")))
        if hits:
            found[rel] = hits
    assert found.keys() <= LOOPBACK_ALLOWED.keys(), (
        f"new hard-coded hosts: {found.keys() - LOOPBACK_ALLOWED.keys()}"
    )
    for rel, hits in found.items():
        assert hits <= LOOPBACK_ALLOWED[rel] + 2, f"{rel}: {hits} hard-coded hosts"


# --- the guide --------------------------------------------------------------------------


def guide_blocks(tag: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(rf"^```{tag}\n(.*?)^```", text, re.M | re.S)


def test_every_guide_block_is_tagged_as_checked():
    fences = re.findall(r"^```(\S*(?: \S+)?)\n", GUIDE.read_text(encoding="utf-8"), re.M)
    opening = fences[::2]
    allowed = {"bash runnable", "bash docker", "bash scale-out", "yaml k8s"}
    assert set(opening) <= allowed, f"untagged or unknown blocks: {set(opening) - allowed}"
    assert len(guide_blocks("bash runnable")) >= 4


def test_guide_sizing_is_filled_from_measurements():
    text = GUIDE.read_text(encoding="utf-8")
    assert "PLACEHOLDER" not in text
    assert "benchmarks/results/scale_out.json" in text
    for heading in (
        "## Sizing",
        "## Backups",
        "## Upgrades",
        "## From compose to Kubernetes",
        "## What runs where",
    ):
        assert heading in text


def test_docker_blocks_are_valid_shell_naming_real_services():
    names = set(services())
    blocks = guide_blocks("bash docker")
    assert blocks
    for block in blocks:
        check = subprocess.run(["bash", "-n"], input=block, text=True, capture_output=True)
        assert check.returncode == 0, f"{block}\n{check.stderr}"
        joined = block.replace("\\\n", " ")
        for command in re.findall(r"docker compose[^\n]*", joined):
            assert "-f docker/compose.yaml" in command and "--env-file docker/.env" in command
            verb = re.search(r"\b(exec|run)\b(.*)", command)
            if verb:
                words = [w for w in verb.group(2).split() if not w.startswith("-")]
                # options with a value (-e NAME, -v a:b) leave their value first: skip those
                values = re.findall(r"(?:-e|-v)\s+(\S+)", verb.group(2))
                service = next(w for w in words if w not in values)
                assert service in names, f"`{command}` names no service of compose.yaml"


def test_k8s_sketch_parses():
    for block in guide_blocks("yaml k8s"):
        docs = [d for d in yaml.safe_load_all(block) if d]
        assert {d["kind"] for d in docs} >= {"Deployment", "Service"}


# --- init scripts and the guide's commands on a scratch PostgreSQL ----------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)


@pytest.fixture(scope="module")
def scratch_postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL cluster of this test's own (initdb on a free port), removed afterwards."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert bins, "PostgreSQL server binaries not found under /usr/lib/postgresql"
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="granary-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    port = _free_port()
    data = root / "data"
    # Passwords everywhere, as on a stock cluster: the scripts under test must send one.
    password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    _as_postgres(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
         f"--pwfile={pwfile}", "-E", "UTF8"]
    )  # fmt: skip
    _as_postgres(
        [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
         "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"]
    )  # fmt: skip
    try:
        yield {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "postgres", "PGPASSWORD": password}
    finally:
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _script_env(pg: dict[str, str], scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANARY_", "PG", "AIRFLOW"))}
    dsn = f"postgresql://postgres:{pg['PGPASSWORD']}@{pg['PGHOST']}:{pg['PGPORT']}/postgres"
    env.update(pg)
    env.update(
        PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
        GRANARY_HOME=str(REPO),
        GRANARY_DATA=str(scratch / "data"),
        GRANARY_SECRETS_DIR=str(scratch / "secrets"),
        GRANARY_RUN_DIR=str(scratch / "run"),
        GRANARY_PG_ADMIN_DSN=dsn,
        GRANARY_PG_HOST=pg["PGHOST"],
        GRANARY_PG_PORT=pg["PGPORT"],
        POSTGRES_USER="postgres",
        AIRFLOW_DB_PASSWORD="airflow-db-test",
        SUPERSET_DB_PASSWORD="superset-db-test",
        AIRFLOW_ADMIN_PASSWORD='admin "quoted" test',
        SUPERSET_ADMIN_PASSWORD="superset-admin-test",
        BACKUP_DIR=str(scratch / "backups"),
    )
    return env


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"{script}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    return done


def _psql(env: dict[str, str], db: str, sql: str) -> str:
    return _bash(f"psql --no-psqlrc -v ON_ERROR_STOP=1 -d {db} -Atc {json.dumps(sql)}", env).stdout.strip()


@pytest.mark.slow
def test_init_scripts_and_guide_commands_on_scratch_postgres(scratch_postgres, tmp_path: Path):
    env = _script_env(scratch_postgres, tmp_path)

    # PostgreSQL's first start, then granary-init, exactly as the containers run them.
    _bash(f"bash {DOCKER / 'init' / 'postgres-databases.sh'}", env)
    owners = _psql(
        env, "postgres", "select datname || ':' || pg_get_userbyid(datdba) from pg_database order by 1"
    )
    assert {"granary_airflow:airflow", "granary_superset:superset"} <= set(owners.split())
    _bash(f"bash {DOCKER / 'init' / 'granary-init.sh'}", env)
    _bash(f"bash {DOCKER / 'init' / 'granary-init.sh'}", env)  # rerun on every `up`: idempotent
    secrets = tmp_path / "secrets"
    assert json.loads((secrets / "airflow.passwords.json").read_text()) == {"admin": 'admin "quoted" test'}
    assert (secrets / "superset.admin.password").read_text().strip() == "superset-admin-test"
    for file in ("airflow.passwords.json", "airflow.admin.password", "superset.admin.password"):
        assert stat.S_IMODE((secrets / file).stat().st_mode) == 0o600, file
    # Each bank's database and role are opaque names; `granary tenant show` gives them.
    hexi, qingshan = (
        json.loads(_bash(f"granary tenant show {code} --json", env).stdout) for code in ("hexi", "qingshan")
    )
    roles = set(_psql(env, "postgres", "select rolname from pg_roles").split())
    assert {hexi["user"], qingshan["user"]} <= roles
    assert not [r for r in roles if "hexi" in r or "qingshan" in r]
    hexi_db, hexi_role = hexi["dbname"], hexi["user"]

    # A published day stands in for real data: the backups must carry it and the roles.
    _psql(
        env, hexi_db,
        "create schema t_hexi; create table t_hexi.publish_info (tenant text, row_count bigint);"
        f"insert into t_hexi.publish_info values ('hexi', 42); grant usage on schema t_hexi to {hexi_role};"
        f"grant select on all tables in schema t_hexi to {hexi_role}",
    )  # fmt: skip

    backup, check, restore = guide_blocks("bash runnable")[:3]
    _bash(backup, env)
    stamp_dirs = list((tmp_path / "backups").iterdir())
    assert len(stamp_dirs) == 1
    dumps = {p.name for p in stamp_dirs[0].iterdir()}
    serving = set(
        _psql(
            env, "postgres", "select datname from pg_database where datname like 'granary\\_serving\\_%'"
        ).split()
    )
    assert {hexi_db, qingshan["dbname"], "granary_serving_province"} <= serving
    assert dumps == {"roles.sql", "granary_airflow.dump", "granary_superset.dump"} | {
        f"{db}.dump" for db in serving
    }
    assert hexi_role in (stamp_dirs[0] / "roles.sql").read_text()

    checked = _bash(check, env)
    assert "t_hexi" in checked.stdout.split()
    assert "granary_restore_check" not in _psql(
        env, "postgres", "select string_agg(datname, ' ') from pg_database"
    )

    # Disaster: the day is lost; restoring brings back the rows and the reader's grant.
    _psql(env, hexi_db, "drop schema t_hexi cascade")
    _bash(restore, env)
    assert _psql(env, hexi_db, "select row_count from t_hexi.publish_info") == "42"
    reader = _psql(
        env, hexi_db, f"select has_table_privilege('{hexi_role}', 't_hexi.publish_info', 'select')"
    )
    assert reader == "t"


@pytest.mark.slow
def test_guide_lock_check_runs():
    blocks = guide_blocks("bash runnable")
    lock_checks = [b for b in blocks if "uv lock --check" in b]
    assert len(lock_checks) == 1 and len(blocks) == 4, "a new runnable block needs a test that runs it"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANARY_")}
    _bash(lock_checks[0], env)
