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

# Tuning, each measured with `make bench` on a 2-core machine (docs/performance.md,
# Performance); none of it is for production, which runs a real cluster.
#
# SQLite: write-ahead logging and synchronous=normal let the dev server commit
# without an fsync per transaction: about 30 workflows/s against 12 with the
# defaults. A crash of the machine (not of the server) can lose the last
# transactions, which is fine for a development server.
#
# system.forceSearchAttributesCacheRefreshOnRead: the CLI turns it on so that
# search attributes created while the server runs are usable at once; then
# every search attribute read goes to the database (about 30 reads of the
# cluster metadata and 13 of the namespace per order, against 7 and 1 for a
# workflow without search attributes). Ours are registered at start below,
# so the cache may be used: saga throughput at 50 orders in flight went from
# 0.73 to 0.92 of the baseline's.
#
# history.*ProcessorMaxPollRPS: the dev server has one history shard, and its
# transfer, timer and visibility queues each read at most 20 times a second
# by default, which paces every step of a workflow at about 50 ms: the
# baseline's p50 at 10 in flight went from 459 ms to 289 ms at 1000. A
# cluster spreads its queues over many shards and does not need this.
#
# history.*ProcessorUpdateAckInterval: each queue keeps the tasks it has
# done in memory until its next checkpoint (30 s by default) and walks all
# of them each time it reads new tasks, which at 1000 reads a second took a
# quarter of the server's CPU under the saga (perf on the server, sampled
# as `make bench BENCH_FLAGS=-profile` does: 16 ms of 64 per order); the
# saga's search attribute updates make three times the visibility tasks of
# the baseline. A checkpoint a second keeps the walk under 1 ms per order.
#
# Worker Deployment Versioning (`worker run --deployment-name --build-id`)
# needs no setting: at Server 1.29.1 system.enableDeploymentVersions and
# frontend.workerVersioningWorkflowAPIs default to true
# (common/dynamicconfig/constants.go), and the CLI's dev server changes
# neither. matching.wv.VersionDrainageStatus*: a version that is no longer
# current looks for open pinned orders every 3 minutes, after a 3-minute
# grace period for visibility to catch up; the dev server's visibility is
# its own SQLite file, so 5 s each lets `temporal worker deployment
# describe-version` show a drained build within seconds when trying a
# rollout (docs/production.md, Rolling out a new build).
exec "$bin" server start-dev \
  --ip "${TEMPORAL_IP:-127.0.0.1}" \
  --port "${TEMPORAL_PORT:-7233}" \
  --ui-port "${TEMPORAL_UI_PORT:-8233}" \
  --db-filename "$db" \
  --search-attribute OrderStatus=Keyword \
  --search-attribute CustomerId=Keyword \
  --sqlite-pragma journal_mode=wal \
  --sqlite-pragma synchronous=normal \
  --dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=false \
  --dynamic-config-value history.transferProcessorMaxPollRPS=1000 \
  --dynamic-config-value history.timerProcessorMaxPollRPS=1000 \
  --dynamic-config-value history.visibilityProcessorMaxPollRPS=1000 \
  --dynamic-config-value 'history.transferProcessorUpdateAckInterval="1s"' \
  --dynamic-config-value 'history.timerProcessorUpdateAckInterval="1s"' \
  --dynamic-config-value 'history.visibilityProcessorUpdateAckInterval="1s"' \
  --dynamic-config-value 'matching.wv.VersionDrainageStatusRefreshInterval="5s"' \
  --dynamic-config-value 'matching.wv.VersionDrainageStatusVisibilityGracePeriod="5s"' \
  --log-level warn \
  "$@"
