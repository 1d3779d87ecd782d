#!/usr/bin/env bash
# One-shot, before the Superset web server starts: migrate the metadata database (also the
# upgrade step after a new lock), default roles and permissions, the admin login.
set -euo pipefail
superset db upgrade
superset init
# create-admin leaves an existing admin alone: reset-password applies a changed env file.
superset fab create-admin --username admin --firstname Granary --lastname Admin \
  --email admin@granary.local --password "$SUPERSET_ADMIN_PASSWORD"
superset fab reset-password --username admin --password "$SUPERSET_ADMIN_PASSWORD"
