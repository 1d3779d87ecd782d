#!/usr/bin/env bash
# What the machine itself must provide: Java for Spark, Chromium + CJK fonts for browser
# tests and screenshots, a running PostgreSQL that checks bank passwords and audits reads.
# Idempotent; installs only what is missing, reloads or restarts PostgreSQL only on a change.
#
# GRANARY_PG_CLUSTER names the Debian cluster to set up, <version>/<name> (default 15/main),
# so the same script sets up CI's cluster and a private development one (e.g. 15/granary_dev).
set -euo pipefail

cluster=${GRANARY_PG_CLUSTER:-15/main}
pg_version=${cluster%%/*}
pg_name=${cluster#*/}
conf_dir=/etc/postgresql/$pg_version/$pg_name

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
# Access audit (granary audit) is pgaudit's object logging: Debian packages it per major version.
dpkg -s "postgresql-$pg_version-pgaudit" >/dev/null 2>&1 || need_apt+=("postgresql-$pg_version-pgaudit")
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -d "$conf_dir" ]; then
  echo "setup: no PostgreSQL cluster $cluster ($conf_dir); create it with" \
    "'pg_createcluster $pg_version $pg_name --start' or set GRANARY_PG_CLUSTER" >&2
  exit 2
fi
port=$(pg_conftool "$pg_version" "$pg_name" show port | sed 's/.*= *//')
psql_admin() { runuser -u postgres -- psql -X -q -p "$port" -v ON_ERROR_STOP=1 -tA "$@"; }
wait_ready() { for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && return; sleep 1; done; }

if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  echo "setup: starting PostgreSQL $cluster"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" start
  wait_ready
fi

# Bank roles (members of granary_bank_readers, see granary/serving/databases.py) must give their
# password, whatever rules follow for other roles. pg_hba.conf is read top-down, so
# the rules go first; Debian's own rules (passwords over TCP) follow for every other login.
hba=$conf_dir/pg_hba.conf
begin="# granary-bank-passwords begin (written by granary's setup-machine.sh)"
end="# granary-bank-passwords end"
block=$(cat <<EOF
$begin
local   all   +granary_bank_readers                  scram-sha-256
host    all   +granary_bank_readers   127.0.0.1/32   scram-sha-256
host    all   +granary_bank_readers   ::1/128        scram-sha-256
$end
EOF
)
current=$(sed -n "/^$begin\$/,/^$end\$/p" "$hba")
if [ "$current" != "$block" ]; then
  echo "setup: $hba: password rules for bank roles (scram-sha-256), then reload"
  tmp=$(mktemp)
  { printf '%s\n' "$block"; sed "/^$begin\$/,/^$end\$/d" "$hba"; } >"$tmp"
  cat "$tmp" >"$hba" # keep the file's owner and mode
  rm -f "$tmp"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" reload
fi

# pgaudit must be preloaded: one restart, only the first time.
preload=$(psql_admin -c "show shared_preload_libraries")
if [[ ",${preload// /}," != *",pgaudit,"* ]]; then
  echo "setup: enabling pgaudit in $cluster (shared_preload_libraries), restarting PostgreSQL once"
  psql_admin -c "alter system set shared_preload_libraries = '${preload:+$preload,}pgaudit'"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" restart
  wait_ready
fi

# The installation's admin login: a superuser with a generated password, kept owner-only in the
# secrets directory as one DSN that everything connecting as admin reads (granary/core/config.py).
# Debian's cluster asks for a password over TCP; no rule here lets a login skip it. The postgres
# OS user's peer login (psql_admin) is used only here, to create that login.
secrets_dir=$(.venv/bin/python -c 'from granary.core.config import settings; print(settings().secrets_dir)')
dsn_file=$secrets_dir/postgres.admin.dsn
admin_role=granary_admin
mkdir -p "$secrets_dir"
chmod 0700 "$secrets_dir"
password=
[ -s "$dsn_file" ] && password=$(sed -nE 's#^postgresql://[^:]+:([^@]+)@.*#\1#p' "$dsn_file")
[ -n "$password" ] || password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
dsn="postgresql://$admin_role:$password@127.0.0.1:$port/postgres"
if [ "$(cat "$dsn_file" 2>/dev/null)" != "$dsn" ]; then
  echo "setup: admin login $admin_role: $dsn_file (owner-only)"
  (umask 077 && printf '%s\n' "$dsn" >"$dsn_file.tmp" && mv "$dsn_file.tmp" "$dsn_file")
fi
if ! psql "$dsn" -X -q -tA -c "select 1" >/dev/null 2>&1; then
  echo "setup: creating or updating the superuser $admin_role in $cluster"
  # The password goes through stdin, never a command line (ps shows those).
  psql_admin -v role="$admin_role" -v password="$password" <<'SQL'
select format('create role %I login superuser', :'role')
 where not exists (select from pg_roles where rolname = :'role') \gexec
select format('alter role %I with login superuser password %L', :'role', :'password') \gexec
SQL
  psql "$dsn" -X -q -tA -c "select 1" >/dev/null
fi

pg_isready -h 127.0.0.1 -p "$port"
echo "setup: PostgreSQL $cluster on port $port: preload=$(psql_admin -c 'show shared_preload_libraries'), admin login $admin_role"
java -version 2>&1 | head -1
