#!/usr/bin/env bash
# make demo: starts the Temporal dev server (with its Web UI) and a worker
# (the four services and the scheduled audit),
# places three orders — one completes, one is declined and compensated, one is
# cancelled during its cancel window and compensated — each placement
# answered at once with its priced lines, total and reservation ID; then
# shows a cancel that the shipped order refuses at once. It prints each
# final state with its Web UI link and the audit, then keeps the server and
# the worker up for inspection until Ctrl-C, and stops them cleanly.
#
# Environment: TEMPORAL_PORT (7233) and TEMPORAL_UI_PORT (8233) as for
# scripts/dev-server.sh; ORDERSAGA_DATA_DIR (.data) for the services' stores.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${TEMPORAL_PORT:-7233}
ui_port=${TEMPORAL_UI_PORT:-8233}
address=127.0.0.1:$port
ui=http://localhost:$ui_port
data=${ORDERSAGA_DATA_DIR:-.data}
logs=.demo
mkdir -p "$logs"
export TEMPORAL_ADDRESS=$address ORDERSAGA_UI_URL=$ui ORDERSAGA_DATA_DIR=$data

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping the worker and the Temporal dev server..."
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  echo "stopped. History is kept in .temporal/, stores in $data/: 'make demo' again continues from them."
}
trap stop_all EXIT
# Ctrl-C is how the demo ends once it is up (exit 0); before that, it is an
# interruption (exit 130).
up=0
trap 'exit $((up ? 0 : 130))' INT TERM

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "demo: $what did not happen within ${seconds}s; see $logs/" >&2
      exit 1
    fi
    sleep 0.2
  done
}

if bin/temporal operator cluster health --address "$address" >/dev/null 2>&1; then
  echo "== a Temporal server already answers on $address: using it"
else
  echo "== starting the Temporal dev server on $address (Web UI $ui), log in $logs/dev-server.log"
  TEMPORAL_PORT=$port TEMPORAL_UI_PORT=$ui_port scripts/dev-server.sh >"$logs/dev-server.log" 2>&1 &
  pids+=($!)
  wait_for "the Temporal server's start" 60 bin/temporal operator cluster health --address "$address"
fi

# The worker joins the Worker Deployment "ordersaga" as build $build (the
# checkout's commit, "-dirty" with local changes): each order runs to its
# end on the build it started on (docs/production.md, Rolling out a new build).
deployment=ordersaga
build=$(git describe --always --dirty 2>/dev/null || echo dev)
echo "== starting a worker (build $build of deployment $deployment) with all four services and the scheduled audit, log in $logs/worker.log"
: >"$logs/worker.log"
# The audit service creates (or updates) the schedule ordersaga-audit,
# which audits the stores against Temporal every --audit-every.
bin/worker run --services order,inventory,payment,shipping,audit \
  --deployment-name "$deployment" --build-id "$build" >>"$logs/worker.log" 2>&1 &
pids+=($!)
wait_for "the worker's start" 30 grep -q "worker started" "$logs/worker.log"
# New orders start on the deployment's current version: make it this build
# (the one a previous `make demo` left current may be another commit's).
# Temporal accepts it once the worker's polls registered the build.
wait_for "build $build becoming the current version" 60 \
  bin/temporal worker deployment set-current-version --address "$address" \
  --deployment-name "$deployment" --build-id "$build" --yes

run=demo-$(date +%Y%m%d-%H%M%S)
address_line="1 Gopher Way, Mountain View"
failures=0
expect() { # expect WANT_EXIT COMMAND...
  local want=$1 got=0
  shift
  "$@" || got=$?
  if [ "$got" != "$want" ]; then
    echo "demo: expected exit $want, got $got: $*" >&2
    failures=$((failures + 1))
  fi
}

echo
echo "== 1. an order that completes (cancel window 3s): its placement answers at once with the total and the reservation"
expect 0 bin/starter place --id "$run-ok" --customer c-1001 --item BOOK-GOPL:1 --item MUG-GOPHER:2 \
  --payment tok_visa --address "$address_line" --cancel-window 3s --wait

echo
echo "== 2. an order whose card is declined: the stock reservation is released"
expect 3 bin/starter place --id "$run-declined" --customer c-1002 --item TEE-TEMPORAL-M:1 \
  --payment tok_declined --address "$address_line" --wait

echo
echo "== 3. an order cancelled during its cancel window (the cancel-order update): refunded and released"
expect 0 bin/starter place --id "$run-cancel" --customer c-1003 --item STICKER-PACK:3 \
  --payment tok_visa --address "$address_line" --cancel-window 10m
wait_for "order $run-cancel reaching its cancel window" 30 \
  sh -c "bin/starter status '$run-cancel' -o json | grep -q '\"status\": \"AWAITING_FULFILLMENT\"'"
expect 0 bin/starter cancel "$run-cancel" --reason "customer changed their mind" --wait

echo
echo "== 4. a cancel refused at once: order $run-ok has shipped, so it stays COMPLETED (exit 1, the reason on one line)"
expect 1 bin/starter cancel "$run-ok" --reason "too late"

echo
echo "== the three orders, as Temporal and the stores see them"
bin/starter list --limit 3
echo
bin/worker audit || failures=$((failures + 1))

echo
if ((failures > 0)); then
  echo "demo: $failures step(s) did not go as expected; see above and $logs/" >&2
  exit 1
fi
cat <<MSG
== all three orders ended as expected.
   Web UI:      $ui/namespaces/default/workflows
   Only orders: $ui/namespaces/default/workflows?query=WorkflowType%3D%22OrderWorkflow%22
   Audits:      $ui/namespaces/default/schedules/ordersaga-audit (every 5 minutes)
   Try:         bin/starter place --id my-1 --customer c-42 --item LAMP-LIMITED:1 --payment tok_flaky --address "2 Main St" --wait
                bin/starter list --status CANCELLED
The server and the worker keep running for you to look around. Press Ctrl-C to stop them.
MSG
up=1
sleep infinity &
pids+=($!)
wait $!
