#!/usr/bin/env bash
# Installs the Debian packages the tests need beyond Go, unless they are
# already there: chromium, which the Web UI test (e2e/webui_test.go) drives
# headless, and the PostgreSQL 15 server binaries (initdb, pg_ctl,
# postgres, and psql with them), with which the store tests start a
# throwaway cluster (internal/platform/pgtest, deploy/grants_test.go). `make test`
# runs it first (its test-deps step). Idempotent, and silent when all is
# there; runs as root or through sudo, and otherwise says in one line
# which command to run.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql-15)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-test-deps: the tests need ${need[*]}: run as root: apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  sudo=sudo
fi
echo "install-test-deps: installing ${need[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $sudo apt-get update -qq &&
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-test-deps: apt-get install ${need[*]} failed: run it yourself as root: apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
chromium --version 2>/dev/null || true
initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)
"$initdb" --version
