#!/usr/bin/env bash
# Installs the Debian packages the tests need beyond Go, unless they are
# already there: chromium, which the Web UI test (e2e/webui_test.go) drives
# headless, and the PostgreSQL 15 server binaries (initdb, pg_ctl,
# postgres), with which the store tests start a throwaway cluster
# (internal/pgtest). .ci/run calls it before `make test`. Idempotent and
# quiet; runs as root or through sudo. Prints what it found.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql-15)
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "install-test-deps: run as root or install sudo to install ${need[*]}" >&2
      exit 1
    fi
    sudo=sudo
  fi
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-test-deps: apt-get install ${need[*]} failed" >&2
    exit 1
  fi
fi
chromium --version 2>/dev/null
initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)
"$initdb" --version
