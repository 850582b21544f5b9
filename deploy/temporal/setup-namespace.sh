#!/bin/sh
# Creates the namespace the workers and the starter use and registers the
# order's search attributes on it: OrderStatus and CustomerId, both Keyword,
# which `starter list` and the Web UI's search filter on. The dev server of
# `make dev` gets the same from its flags; a real server starts with no
# namespace at all.
#
# Safe to re-run: an existing namespace is left as it is, and an attribute
# that already exists is accepted — then checked to be a Keyword, since a
# same-named attribute of another type would break every order.
#
# Environment: TEMPORAL_ADDRESS (read by the temporal CLI), NAMESPACE
# (default "default"), NAMESPACE_RETENTION (how long closed orders' histories
# are kept, default 72h).
set -eu

ns=${NAMESPACE:-default}
retention=${NAMESPACE_RETENTION:-72h}

# retry CMD...: the frontend reports healthy a little before every part of
# the server is ready, and a new namespace takes a few seconds to reach
# every service's cache, so each step is retried for about a minute.
retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    if [ "$n" -ge 30 ]; then
      echo "namespace: giving up on: $*" >&2
      return 1
    fi
    sleep 2
  done
}

ensure_namespace() {
  temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1 ||
    temporal operator namespace create --namespace "$ns" --retention "$retention"
}

# ensure_keyword NAME: create the attribute, or accept it if it is there.
ensure_keyword() {
  if out=$(temporal operator search-attribute create --namespace "$ns" --name "$1" --type Keyword 2>&1); then
    return 0
  fi
  case $out in
  *[Aa]lready*) return 0 ;;
  esac
  echo "$out" >&2
  return 1
}

retry ensure_namespace
for attr in OrderStatus CustomerId; do
  retry ensure_keyword "$attr"
done

# searchable: a query by both attributes answers. The frontend checks an
# order's search attributes against its cache of the namespace, which
# catches up a few seconds after they are registered; until then it
# refuses a new order with "no mapping defined for search attribute", so
# the job is done only once its frontend accepts them. Run the job against
# every frontend of a cluster to know each one does.
searchable() {
  temporal workflow list --namespace "$ns" --limit 1 \
    --query 'OrderStatus = "PENDING" AND CustomerId = "setup-namespace"' >/dev/null
}

list=$(temporal operator search-attribute list --namespace "$ns")
for attr in OrderStatus CustomerId; do
  echo "$list" | grep -w "$attr" || true
  if ! echo "$list" | grep -w "$attr" | grep -qw Keyword; then
    echo "namespace: $attr is registered in $ns but not as a Keyword" >&2
    exit 1
  fi
done
retry searchable
echo "namespace: $ns ready"
