#!/bin/sh
# Creates, on the first start of an empty data volume, one database and one
# login role per owner: Temporal's two (its history and its visibility
# store) and one per service (orders, the order service's register of order
# IDs; inventory; payment; shipping). A role owns its database and nothing
# else, so one service's credentials cannot read or change another
# service's data — the services are separate in the database as they are in
# the code. One role more owns nothing: audit, the scheduled audit's
# login, which may only read the inventory, payment and shipping stores.
#
# The postgres image runs (or sources) the files in
# /docker-entrypoint-initdb.d only when the data directory is empty: change
# a password later with ALTER ROLE, not here. The passwords come from the
# container's environment (set from .env by docker-compose.yml); psql
# quotes them with :'var', so any character is safe in SQL (the services'
# DSNs still need URL-safe ones).
#
# The entrypoint executes this file if it is executable and sources it
# otherwise (a checkout can lose the mode), so it sets only -e, which the
# entrypoint's own shell already has, and no option that would leak into it.
set -e

: "${TEMPORAL_DB_PASSWORD:?}" "${ORDERS_DB_PASSWORD:?}" "${INVENTORY_DB_PASSWORD:?}" "${PAYMENT_DB_PASSWORD:?}" "${SHIPPING_DB_PASSWORD:?}" "${AUDIT_DB_PASSWORD:?}"

# create_owned ROLE PASSWORD DATABASE...: a login role and the databases it
# owns. Owning the database also gives the role its public schema (since
# PostgreSQL 15 that schema belongs to pg_database_owner), which the stores
# and Temporal's schema tool create their tables in.
create_owned() {
  role=$1 password=$2
  shift 2
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$role" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
  for db in "$@"; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -v role="$role" -v db="$db" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
-- Nobody but the owner (and the superuser) may connect.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  done
}

# Temporal's server keeps its history in "temporal" and its list/search
# index in "temporal_visibility"; one role owns both, as the server's config
# has one user for the two stores.
create_owned temporal "$TEMPORAL_DB_PASSWORD" temporal temporal_visibility
# The order service's register of order IDs.
create_owned orders "$ORDERS_DB_PASSWORD" orders
create_owned inventory "$INVENTORY_DB_PASSWORD" inventory
create_owned payment "$PAYMENT_DB_PASSWORD" payment
create_owned shipping "$SHIPPING_DB_PASSWORD" shipping

# The audit (`worker run --services audit`) reads the three stores whose
# records it checks against Temporal, and must not be able to change them:
# its role may connect to those databases and SELECT, nothing more. Their
# tables do not exist yet — each service creates its own on its first
# start, as its owner — so the grant is a default privilege of the owner's,
# which covers every table the owner creates there later (and none that
# another role creates). Default privileges belong to one database, hence
# one psql session in each. The public schema's CREATE is not PUBLIC's
# since PostgreSQL 15, so the role cannot create tables either, and without
# CONNECT it cannot reach Temporal's databases or the order register.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="$AUDIT_DB_PASSWORD" <<'SQL'
CREATE ROLE audit LOGIN PASSWORD :'password';
SQL
for db in inventory payment shipping; do
  # Each of these databases is owned by the role of the same name.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" \
    -v db="$db" <<'SQL'
GRANT CONNECT ON DATABASE :"db" TO audit;
GRANT USAGE ON SCHEMA public TO audit;
ALTER DEFAULT PRIVILEGES FOR ROLE :"db" IN SCHEMA public GRANT SELECT ON TABLES TO audit;
SQL
done
