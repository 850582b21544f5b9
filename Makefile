# ordersaga: the order saga on Temporal.
#
#   make demo   build everything, start the dev server and a worker, place three
#               orders, and keep it all up for the Web UI until Ctrl-C
#   make test   go vet, workflowcheck, and the whole test suite with -race
#   make dev    only the Temporal dev server with its Web UI (127.0.0.1:7233, :8233)
#   make build  bin/worker and bin/starter
#   make histories  record the histories the replay test replays (see docs/promises.md)
#   make fuzz   fuzz the order and --item parsers for FUZZTIME each (CI runs their corpora)
#   make chaos  the long fault test: 2,000 orders while workers, the server and the stores fail
#   make rehearsal  500 orders on the compose stack as a two-node Temporal cluster on
#               PostgreSQL, without Docker, while server nodes and workers are killed
#   make bench  the saga against a baseline workflow on a fresh dev server: bench/results.md
#               (BENCH_SERVER=cluster: on the compose stack's Temporal, one node and two)
#   make bench-open  10,000 orders open at once on one worker, its peak RSS: bench/open-orders.md
#   make bench-audit  `worker audit` over 100,000 orders in the stores, its time and peak RSS: bench/audit.md
#   make compose-up / compose-down  the production-shaped stack in Docker (docker-compose.yml)

GO ?= go
# The Temporal CLI (dev server + Web UI) is pinned in tools/go.mod and built
# from the Go module proxy: no Docker, no download from anywhere else.
TEMPORAL := bin/temporal
# workflowcheck reports non-deterministic code reachable from workflows.
WORKFLOWCHECK_VERSION := v0.6.0

.PHONY: all build dev demo test test-deps vet workflowcheck histories fuzz chaos rehearsal bench bench-open bench-audit compose-up compose-down compose-test clean

all: build

build: bin/worker bin/starter

# The binaries are always rebuilt; go build only redoes what changed.
bin/worker bin/starter: FORCE
	$(GO) build -o $@ ./$(notdir $@)

$(TEMPORAL): tools/go.mod tools/go.sum
	@echo "building the Temporal CLI from the module proxy (about 5 minutes the first time)"
	cd tools && $(GO) build -o ../$(TEMPORAL) github.com/temporalio/cli/cmd/temporal

# The Temporal Server and its SQL schema tool, at the version the CLI embeds
# (v1.29.1, pinned in tools/go.mod): what the compose stack's server and
# admin-tools images run, for the two-node cluster on PostgreSQL that
# internal/cluster brings up (the cluster test, make rehearsal, make bench
# BENCH_SERVER=cluster).
bin/temporal-server: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$@ go.temporal.io/server/cmd/server

bin/temporal-sql-tool: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$@ go.temporal.io/server/cmd/tools/sql

bin/workflowcheck:
	GOBIN=$(CURDIR)/bin $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

dev: $(TEMPORAL)
	scripts/dev-server.sh

demo: build $(TEMPORAL)
	scripts/demo.sh

vet:
	$(GO) vet ./...

workflowcheck: bin/workflowcheck
	bin/workflowcheck ./...

# The end-to-end tests start the dev server from bin/temporal and build the
# worker and starter themselves; the store tests start a PostgreSQL 15 and
# the Web UI test a headless chromium, which test-deps installs
# (scripts/install-test-deps.sh: silent when they are there, as root or
# through sudo). compose-test checks the Docker stack's files, without Docker.
test: $(TEMPORAL) bin/temporal-server bin/temporal-sql-tool test-deps vet workflowcheck compose-test
	$(GO) test -race -count=1 -timeout 30m ./...

test-deps:
	@scripts/install-test-deps.sh

# The benchmark (bench/main.go): a fresh dev server started as `make dev`
# starts it, one worker, then the baseline and the saga in alternating rounds
# at each concurrency. BENCH_FLAGS passes more, e.g. BENCH_FLAGS='-rounds 4'
# or BENCH_FLAGS='-worker-args "--workflow-pollers 16"' to try a tuning;
# -variant 'name=worker flags', repeated, compares worker configurations
# round by round on the same dev server, e.g. BENCH_FLAGS="-variant
# 'fixed=--pollers fixed' -variant 'autoscaling=--pollers autoscaling'";
# BENCH_FLAGS=-profile adds where the dev server's CPU goes, sampled with
# perf (Debian: apt-get install linux-perf), as bench/results.md has it.
# BENCH_SERVER=cluster runs the rounds on docker-compose.yml's Temporal
# instead, brought up without Docker as `make rehearsal` brings it up
# (PostgreSQL, temporal-server nodes), with one node and then two
# (BENCH_FLAGS=-nodes 1,2,3 for more), into bench/results-cluster.md.
BENCH_FLAGS ?=
BENCH_SERVER ?= dev
bench: build $(TEMPORAL) bin/temporal-server bin/temporal-sql-tool
	$(GO) run ./bench -server $(BENCH_SERVER) $(BENCH_FLAGS)

# 10,000 orders waiting in their cancel window at once on one worker, then
# shipped; reports the worker's peak RSS. Takes about 16 minutes.
OPEN_ORDERS ?= 10000
bench-open: build $(TEMPORAL)
	$(GO) run ./bench -open $(OPEN_ORDERS) $(BENCH_FLAGS)

# Fills fresh stores with AUDIT_ORDERS orders that Temporal never knew
# (through the stores' own methods), places 50 real ones on a fresh dev
# server, then runs `worker audit` three times over them all and reports
# each run's wall time and peak RSS; fails over 60 s or 300 MiB. Takes
# 3 to 5 minutes for 100,000, most of it filling the stores.
AUDIT_ORDERS ?= 100000
bench-audit: build $(TEMPORAL)
	$(GO) run ./bench -audit $(AUDIT_ORDERS) $(BENCH_FLAGS)

# The production-shaped stack (docker-compose.yml): PostgreSQL, Temporal
# Server 1.29 and its UI, one container per service, the codec server,
# Prometheus, Grafana and Jaeger. Needs Docker Compose v2, a .env with
# passwords (cp .env.example .env) and the key file it names
# (docs/production.md, Run it with Docker Compose).
compose-up: .env
	docker compose up -d --build

compose-down:
	docker compose down

.env:
	@echo "no .env: cp .env.example .env, give every password and the codec token its own value, and make the key file it names (docs/production.md)" >&2; exit 1

# Checks docker-compose.yml, the Dockerfile and deploy/ (a module of its
# own, so that the compose loader stays out of the main go.mod), and that
# the cluster the rehearsal and the cluster benchmark bring up without
# Docker still runs compose's files with compose's variables.
compose-test:
	cd deploy && $(GO) test -count=1 ./...
	$(GO) test -count=1 -run Drift ./internal/cluster

# Records one order down each path of the saga on a fresh dev server into
# workflows/testdata/histories/$(HISTORIES_VERSION)/, where the replay test
# finds it. Record a new version for each build that changes the workflow
# (and set currentVersion in workflows/replay_test.go to it), and keep the
# old ones while their builds' orders may run (docs/promises.md).
HISTORIES_VERSION ?= v6
histories: $(TEMPORAL)
	ORDERSAGA_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories/$(HISTORIES_VERSION) \
		$(GO) test -count=1 -run TestRecordHistories -v ./e2e

# The fault test (e2e/chaos_test.go) with 2,000 orders, at least two server
# crashes and more worker kills and store faults; `make test` runs it with
# 300. ORDERSAGA_CHAOS_SEED=<seed> repeats a run's plan.
CHAOS_ORDERS ?= 2000
chaos: $(TEMPORAL)
	ORDERSAGA_CHAOS_ORDERS=$(CHAOS_ORDERS) $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 60m ./e2e

# The production rehearsal (e2e/rehearsal_test.go): the fault test's orders
# against the compose stack run without Docker, a two-node Temporal cluster
# on PostgreSQL, while server nodes and worker processes are killed with
# SIGKILL; `make test` runs it with 60 orders, one node kill and one worker
# kill. ORDERSAGA_REHEARSAL_SEED=<seed> repeats a run's plan.
REHEARSAL_ORDERS ?= 500
rehearsal: $(TEMPORAL) bin/temporal-server bin/temporal-sql-tool
	ORDERSAGA_REHEARSAL_ORDERS=$(REHEARSAL_ORDERS) ORDERSAGA_REHEARSAL_RATE=5 \
		ORDERSAGA_REHEARSAL_NODE_KILLS=3 ORDERSAGA_REHEARSAL_WORKER_KILLS=4 \
		$(GO) test -count=1 -run '^TestRehearsal$$' -v -timeout 60m ./e2e

# Go fuzzes one target per run. Plain `go test` (and so `make test`) runs
# each target's checked-in corpus in testdata/fuzz/ as regular tests; a
# failure found here is added to that corpus by go test itself.
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./workflows -run '^$$' -fuzz '^FuzzOrderJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./starter -run '^$$' -fuzz '^FuzzParseItem$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./starter -run '^$$' -fuzz '^FuzzDecodeOrder$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s

clean:
	rm -rf bin .demo

FORCE:
