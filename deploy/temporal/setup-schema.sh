#!/bin/sh
# Creates or upgrades the Temporal server's schemas in PostgreSQL: the
# history store ("temporal") and the visibility store
# ("temporal_visibility"). It runs in the admin-tools image of the server's
# exact release, whose /etc/temporal/schema holds that release's versioned
# SQL, so the schema always matches the server that will use it.
#
# Safe to run on every `docker compose up`: setup-schema only records the
# base version when none is recorded yet, and update-schema applies only the
# versions above the recorded one. After a server upgrade (a newer image tag
# for both the server and admin-tools) this is the migration step.
#
# The databases themselves are created by deploy/postgres/init-databases.sh,
# so the temporal role needs no CREATEDB right and the tool's
# create-database command is not used.
#
# Connection (read by temporal-sql-tool itself): SQL_PLUGIN, SQL_HOST,
# SQL_PORT, SQL_USER, SQL_PASSWORD.
#
# TEMPORAL_SCHEMA_DIR, which compose leaves unset, replaces the image's
# directory below with the same release's versioned SQL elsewhere: outside
# the image, internal/cluster runs this script on the Go module cache's
# copy of the server's schema/postgresql/v12, so the stack's own script is
# what it tests.
set -eu

schema=/etc/temporal/schema/postgresql/v12
schema=${TEMPORAL_SCHEMA_DIR:-$schema}

setup() {
  db=$1 dir=$2
  echo "schema: $db from $dir"
  temporal-sql-tool --database "$db" setup-schema --version 0.0
  temporal-sql-tool --database "$db" update-schema --schema-dir "$dir"
}

setup "${TEMPORAL_DBNAME:-temporal}" "$schema/temporal/versioned"
setup "${TEMPORAL_VISIBILITY_DBNAME:-temporal_visibility}" "$schema/visibility/versioned"
echo "schema: up to date"
