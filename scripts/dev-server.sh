#!/usr/bin/env bash
# Starts the local Temporal dev server (with its Web UI) the way the project
# needs it: gRPC on 127.0.0.1:7233, Web UI on :8233, history kept in a SQLite
# file under .temporal/, and the OrderStatus and CustomerId search attributes
# registered. `make dev`, `make demo` and the end-to-end tests all start the
# server through this script, so they all run the same server.
#
# Environment (all optional):
#   TEMPORAL_BIN      the Temporal CLI (default bin/temporal, built by `make bin/temporal`)
#   TEMPORAL_IP       address to bind (default 127.0.0.1: loopback only)
#   TEMPORAL_PORT     gRPC port (default 7233)
#   TEMPORAL_UI_PORT  Web UI port (default 8233)
#   TEMPORAL_DB       SQLite file of the server's state (default .temporal/dev.db)
# Extra arguments are passed to `temporal server start-dev`.
set -euo pipefail

bin=${TEMPORAL_BIN:-bin/temporal}
db=${TEMPORAL_DB:-.temporal/dev.db}
if [ ! -x "$bin" ]; then
  echo "dev-server: $bin not found; build it with 'make bin/temporal'" >&2
  exit 1
fi
mkdir -p "$(dirname "$db")"

# SQLite tuning: write-ahead logging and synchronous=normal let the dev server
# commit without an fsync per transaction; on these 2-core machines that
# measured about 30 workflows/s against 12 with the defaults. A crash of the
# machine (not of the server) can lose the last transactions, which is fine
# for a development server and wrong for production (use a real cluster).
exec "$bin" server start-dev \
  --ip "${TEMPORAL_IP:-127.0.0.1}" \
  --port "${TEMPORAL_PORT:-7233}" \
  --ui-port "${TEMPORAL_UI_PORT:-8233}" \
  --db-filename "$db" \
  --search-attribute OrderStatus=Keyword \
  --search-attribute CustomerId=Keyword \
  --sqlite-pragma journal_mode=wal \
  --sqlite-pragma synchronous=normal \
  --log-level warn \
  "$@"
