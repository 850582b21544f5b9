# One image for the whole project: the worker (its entrypoint; the service
# to host is chosen with `run --services ...`) and the starter CLI next to
# it. docker-compose.yml runs the order, inventory, payment and shipping
# services as separate containers of this image.
#
#   docker build -t ordersaga:local .
#   docker run --rm ordersaga:local run --services payment
#   docker run --rm --entrypoint /usr/local/bin/starter ordersaga:local --help

# The Go release the project builds with (go.mod: go 1.26), to the patch, so
# that a rebuild months later compiles with the same toolchain.
FROM golang:1.26.8 AS build
WORKDIR /src

# Dependencies first, in their own layer: editing the code does not
# re-download them. The cache mounts need BuildKit (Docker's default
# builder since 23.0).
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
# Static binaries: every dependency is pure Go (SQLite is modernc.org/sqlite,
# PostgreSQL is pgx), so CGO is off and the result runs on an image with no
# libc. -trimpath keeps the build machine's paths out of the binaries and
# their stack traces; -s -w drops the symbol and debug tables (a third of
# the size). go.mod may ask for a newer toolchain than this image's; then
# the build fails rather than downloading one.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOTOOLCHAIN=local \
    go build -trimpath -ldflags "-s -w" -o /out/ ./worker ./starter

# Distroless "static": no shell, no package manager, only CA certificates
# (for a Temporal reached over TLS), time zones, and the nonroot user.
# Pin it further by digest (…:nonroot@sha256:…) where builds must be
# reproducible to the byte.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /usr/local/bin/
# The nonroot user's home: the worker's default data directory (.data, for
# the SQLite stores when no DSN is set) is created under it.
WORKDIR /home/nonroot
# Numeric, so that a runtime that enforces "run as non-root" (Kubernetes'
# runAsNonRoot) can check it without reading /etc/passwd.
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["run"]
