package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/compose-spec/compose-go/v2/types"
)

// source is where what the compose file assumes of an image was checked:
// the repository and commit the image is built from, and what is in it
// that the compose file uses.
type source struct {
	repo, commit string
	// programs are the executables the compose file runs in the image (an
	// entrypoint, a health check), all of them in the image's PATH.
	programs []string
}

// imageSources are the third-party images the compose file runs, exactly
// as it names them, each with the source its comment cites. A new tag is a
// new check against its own build files: update the comment and this
// together.
var imageSources = map[string]source{
	// docker-library/postgres, 15/alpine3.23/Dockerfile: `make
	// install-world-bin` puts the client programs beside the server.
	"postgres:15.15-alpine3.23": {repo: "docker-library/postgres", commit: "9cd7083", programs: []string{"pg_isready", "psql"}},
	// temporalio/docker-builds, release/v1.29.x, server.Dockerfile: tctl,
	// temporal-server and temporal (the CLI) in /usr/local/bin.
	"temporalio/server:1.29.1": {repo: "temporalio/docker-builds", commit: "b9a3ead", programs: []string{"temporal", "temporal-server", "tctl"}},
	// Same commit, admin-tools.Dockerfile, on Alpine (busybox sh).
	"temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0": {repo: "temporalio/docker-builds", commit: "b9a3ead", programs: []string{"sh", "temporal", "temporal-sql-tool", "tctl"}},
	// temporalio/ui-server (= temporalio/ui's server/), tag v2.42.1.
	"temporalio/ui:2.42.1": {repo: "temporalio/ui-server", commit: "v2.42.1"},
	// prometheus/prometheus v3.16.0, as the Go module v0.316.0: its
	// Dockerfile's base, quay.io/prometheus/busybox, is busybox:glibc
	// (prometheus/busybox, glibc/Dockerfile), whose applets include wget.
	"prom/prometheus:v3.16.0": {repo: "prometheus/prometheus", commit: "v0.316.0", programs: []string{"prometheus", "promtool", "wget"}},
	// grafana/grafana's Dockerfile, read at 78515af and on mid-2026's main
	// (the tag's own could not be read: see the compose file's comment):
	// the Alpine final stage installs curl; run.sh execs grafana.
	"grafana/grafana:13.1.2": {repo: "grafana/grafana", commit: "78515af", programs: []string{"grafana", "curl"}},
	// jaegertracing/jaeger v2.20.0 (798e4b0), cmd/jaeger/Dockerfile on
	// scripts/build/docker/base/Dockerfile (alpine:3.24.1, busybox wget).
	"jaegertracing/jaeger:2.20.0": {repo: "jaegertracing/jaeger", commit: "798e4b0", programs: []string{"jaeger-linux", "wget"}},
}

// serverTemplateEnv are the variables the server image's
// config_template.yaml reads at v1.29.1 that the compose file may set on
// the server: its ".Env.NAME"s, rendered by dockerize in entrypoint.sh.
var serverTemplateEnv = []string{
	"DB", "DB_PORT", "POSTGRES_SEEDS", "POSTGRES_USER", "POSTGRES_PWD",
	"DBNAME", "VISIBILITY_DBNAME", "SQL_MAX_CONNS", "SQL_VIS_MAX_CONNS",
	"NUM_HISTORY_SHARDS", "BIND_ON_IP", "DYNAMIC_CONFIG_FILE_PATH",
	"LOG_LEVEL", "FRONTEND_GRPC_PORT", "PROMETHEUS_ENDPOINT",
}

// sqlToolEnv are the variables temporal-sql-tool reads for its connection
// (tools/sql/main.go at v1.29.1, the flags' EnvVar).
var sqlToolEnv = []string{"SQL_PLUGIN", "SQL_HOST", "SQL_PORT", "SQL_USER", "SQL_PASSWORD"}

// uiTemplateEnv are the variables the UI image's config/docker.yaml reads
// at v2.42.1 (`env "NAME"`) that the compose file may set on the UI.
var uiTemplateEnv = []string{
	"TEMPORAL_ADDRESS", "TEMPORAL_UI_PORT", "TEMPORAL_CORS_ORIGINS",
	"TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_INCLUDE_CREDENTIALS", "TEMPORAL_DEFAULT_NAMESPACE",
}

// temporalServices are the services in the one server process
// (start-temporal.sh starts them all when SERVICES is unset), each with
// its own pools on the default and the visibility store (temporal/fx.go,
// service/*/fx.go at v1.29.1).
const temporalServices = 4

// Pool sizes of the main module (internal/platform/storedb), which this
// module does not import: a store's default pool, and the audit's per read
// store.
const (
	storeMaxConns    = 10
	readOnlyMaxConns = 2
	// superuserReserved is PostgreSQL's superuser_reserved_connections
	// default.
	superuserReserved = 3
)

func TestImagesAreTheCheckedOnes(t *testing.T) {
	p := load(t, true)
	compose := readFile(t, filepath.Join(root, composeFile))
	for name, s := range p.Services {
		if s.Build != nil {
			continue
		}
		src, ok := imageSources[s.Image]
		if !ok {
			t.Errorf("%s: image %s was not checked against its build files: check it and add it to imageSources", name, s.Image)
			continue
		}
		if !strings.Contains(compose, src.repo) || !regexp.MustCompile(`\b`+regexp.QuoteMeta(src.commit)+`\b`).MatchString(compose) {
			t.Errorf("%s: %s does not cite %s at %s, where %s was checked", name, composeFile, src.repo, src.commit, s.Image)
		}
	}
}

// TestProgramsAreInTheirImages: every program the compose file runs in a
// third-party image (entrypoint, command, health check) is one that image
// has.
func TestProgramsAreInTheirImages(t *testing.T) {
	p := load(t, true)
	for name, s := range p.Services {
		if s.Build != nil {
			continue
		}
		src, ok := imageSources[s.Image]
		if !ok {
			continue // TestImagesAreTheCheckedOnes
		}
		check := func(what string, argv []string) {
			if len(argv) == 0 {
				return
			}
			if !slices.Contains(src.programs, filepath.Base(argv[0])) {
				t.Errorf("%s: %s runs %s, which %s is not known to have (%v)", name, what, argv[0], s.Image, src.programs)
			}
		}
		check("entrypoint", s.Entrypoint)
		if hc := s.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 {
			if hc.Test[0] != "CMD" {
				t.Errorf("%s: health check %q: use the exec form [\"CMD\", ...], which needs no shell in the image", name, hc.Test)
				continue
			}
			check("its health check", hc.Test[1:])
		}
		if len(s.Command) > 0 && s.Command[0] != "postgres" {
			check("command", s.Command)
		}
	}
}

func TestServerEnvironmentIsReadByItsTemplate(t *testing.T) {
	p := load(t, true)
	server := one(t, p, "temporalio/server")
	for k := range server.Environment {
		if !slices.Contains(serverTemplateEnv, k) {
			t.Errorf("%s: %s is not one config_template.yaml reads (serverTemplateEnv): the server would ignore it", server.Name, k)
		}
	}
	if db := env(server, "DB"); db != "postgres12" && db != "postgres12_pgx" {
		t.Errorf("%s: DB=%q: the template renders PostgreSQL stores only for postgres12 or postgres12_pgx", server.Name, db)
	}
	_, tag, _ := splitImage(server.Image)
	template, ok := moduleFile(t, "go.temporal.io/server", "v"+tag, "docker/config_template.yaml")
	if !ok {
		return
	}
	read := templateNames(template, `\.Env\.([A-Z0-9_]+)`)
	for _, k := range serverTemplateEnv {
		if !read[k] {
			t.Errorf("serverTemplateEnv has %s, which config_template.yaml at v%s does not read", k, tag)
		}
	}
}

func TestSchemaJobEnvironmentIsReadBySQLTool(t *testing.T) {
	p := load(t, true)
	schema := service(t, p, jobRunning(t, p, "setup-schema"))
	script := readFile(t, filepath.Join("temporal", "setup-schema.sh"))
	for k := range schema.Environment {
		switch {
		case strings.HasPrefix(k, "SQL_"):
			if !slices.Contains(sqlToolEnv, k) {
				t.Errorf("%s: %s is not one temporal-sql-tool reads (sqlToolEnv)", schema.Name, k)
			}
		case !strings.Contains(script, "${"+k):
			t.Errorf("%s: %s is read neither by temporal-sql-tool nor by setup-schema.sh", schema.Name, k)
		}
	}
	for _, k := range sqlToolEnv {
		if env(schema, k) == "" {
			t.Errorf("%s: %s not set: temporal-sql-tool would use its default", schema.Name, k)
		}
	}
	version := adminToolsServerVersion(t, schema.Image)
	main, ok := moduleFile(t, "go.temporal.io/server", version, "tools/sql/main.go")
	if !ok {
		return
	}
	read := templateNames(main, `EnvVar:\s*"([A-Z0-9_]+)"`)
	for _, k := range sqlToolEnv {
		if !read[k] {
			t.Errorf("sqlToolEnv has %s, which temporal-sql-tool at %s does not read", k, version)
		}
	}
}

// TestSchemaDirectoriesAreInAdminTools: the versioned directories
// setup-schema.sh migrates from are the server's schema/ tree, which
// admin-tools.Dockerfile copies to /etc/temporal/schema.
func TestSchemaDirectoriesAreInAdminTools(t *testing.T) {
	const inImage = "/etc/temporal/schema/"
	p := load(t, true)
	schema := service(t, p, jobRunning(t, p, "setup-schema"))
	script := readFile(t, filepath.Join("temporal", "setup-schema.sh"))
	base := regexp.MustCompile(`(?m)^schema=(\S+)$`).FindStringSubmatch(script)
	if base == nil || !strings.HasPrefix(base[1], inImage) {
		t.Fatalf("setup-schema.sh: no schema=%s... line", inImage)
	}
	var dirs []string
	for _, m := range regexp.MustCompile(`"\$schema/([a-z0-9_/]+)"`).FindAllStringSubmatch(script, -1) {
		dirs = append(dirs, filepath.Join("schema", strings.TrimPrefix(base[1], inImage), m[1]))
	}
	if len(dirs) != 2 {
		t.Fatalf("setup-schema.sh migrates %v, want the history and the visibility store's directories", dirs)
	}
	version := adminToolsServerVersion(t, schema.Image)
	for _, dir := range dirs {
		manifests, ok := moduleGlob(t, "go.temporal.io/server", version, filepath.Join(dir, "v*", "manifest.json"))
		if ok && len(manifests) == 0 {
			t.Errorf("setup-schema.sh migrates from %s, which has no versions in the server at %s", dir, version)
		}
	}
}

func TestUIEnvironmentIsReadByItsTemplate(t *testing.T) {
	p := load(t, true)
	ui := one(t, p, "temporalio/ui")
	for k := range ui.Environment {
		if !slices.Contains(uiTemplateEnv, k) {
			t.Errorf("%s: %s is not one the UI's config/docker.yaml reads (uiTemplateEnv)", ui.Name, k)
		}
	}
	_, tag, _ := splitImage(ui.Image)
	template, ok := moduleFile(t, "github.com/temporalio/ui-server/v2", "v"+tag, "config/docker.yaml")
	if !ok {
		return
	}
	read := templateNames(template, `env "([A-Z0-9_]+)"`)
	for _, k := range uiTemplateEnv {
		if !read[k] {
			t.Errorf("uiTemplateEnv has %s, which config/docker.yaml at v%s does not read", k, tag)
		}
	}
}

// TestPostgresHasRoomForEveryPool: max_connections holds every pool at
// its fullest, for one replica of each container and two more of one
// service (`--scale payment=3`).
func TestPostgresHasRoomForEveryPool(t *testing.T) {
	p := load(t, true)
	pg := one(t, p, "postgres")
	maxConns := 100 // PostgreSQL's default
	for i, arg := range pg.Command {
		if v, ok := strings.CutPrefix(arg, "max_connections="); ok && i > 0 && pg.Command[i-1] == "-c" {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: max_connections=%q", pg.Name, v)
			}
			maxConns = n
		}
	}
	server := one(t, p, "temporalio/server")
	perService := 0
	for _, k := range []string{"SQL_MAX_CONNS", "SQL_VIS_MAX_CONNS"} {
		n, err := strconv.Atoi(env(server, k))
		if err != nil {
			t.Fatalf("%s: %s=%q: write the pool size here, so that this budget counts it", server.Name, k, env(server, k))
		}
		perService += n
	}
	need := temporalServices * perService
	largest := 0
	for _, name := range runners() {
		s := service(t, p, name)
		pool := storeMaxConns
		if v := env(s, "ORDERSAGA_DB_MAX_CONNS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: ORDERSAGA_DB_MAX_CONNS=%q", name, v)
			}
			pool = n
		}
		if name == auditService {
			pool = readOnlyMaxConns
		}
		n := 0
		for k := range s.Environment {
			if strings.HasSuffix(k, "_DSN") {
				n += pool
			}
		}
		need += n
		if name != auditService {
			largest = max(largest, n)
		}
	}
	need += 2 * largest
	if room := maxConns - superuserReserved; need > room {
		t.Errorf("%s: max_connections=%d leaves %d connections, but the pools may hold %d (Temporal's %d services x %d, the workers', the audit's, two more replicas of a service)", pg.Name, maxConns, room, need, temporalServices, perService)
	}
}

// onFailure matches a bounded on-failure restart policy.
var onFailure = regexp.MustCompile(`^on-failure:([0-9]+)$`)

// maxJobRestarts bounds a one-shot job's restarts: enough for a dropped
// connection, few enough that `docker compose up` reports a lasting
// failure within a few minutes rather than waiting for ever.
const maxJobRestarts = 5

// checkJobRestart checks a one-shot job's restart policy: no restart, or a
// bounded number on failure.
func checkJobRestart(t *testing.T, name string, s types.ServiceConfig) {
	t.Helper()
	if s.Restart == types.RestartPolicyNo {
		return
	}
	m := onFailure.FindStringSubmatch(s.Restart)
	if m == nil {
		t.Errorf("%s runs once: restart %q, want on-failure:N (1-%d) or no: plain on-failure restarts a job that cannot succeed for ever, and `up` waits for ever", name, s.Restart, maxJobRestarts)
		return
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > maxJobRestarts {
		t.Errorf("%s: restart %q: give 1 to %d restarts", name, s.Restart, maxJobRestarts)
	}
}

// adminToolsServerVersion is the server release of an admin-tools image
// (its tag is "SERVER-tctl-...-cli-..."), as a module version.
func adminToolsServerVersion(t *testing.T, image string) string {
	t.Helper()
	_, tag, _ := splitImage(image)
	server, _, _ := strings.Cut(tag, "-")
	return "v" + server
}

// templateNames returns the names that re's first group matches in text.
func templateNames(text, re string) map[string]bool {
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(text, -1) {
		names[m[1]] = true
	}
	return names
}

// moduleFile reads file of module path at version from the Go module
// cache, where tools/go.mod's dependencies put it. Without it the check
// that needs it is skipped, with a note: the lists in this file hold.
func moduleFile(t *testing.T, path, version, file string) (string, bool) {
	t.Helper()
	dir, ok := moduleDir(t, path, version)
	if !ok {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Errorf("%s@%s: %v: the image's build files moved; check the image again", path, version, err)
		return "", false
	}
	return string(b), true
}

// moduleGlob returns the files of module path at version that match
// pattern, like moduleFile.
func moduleGlob(t *testing.T, path, version, pattern string) ([]string, bool) {
	t.Helper()
	dir, ok := moduleDir(t, path, version)
	if !ok {
		return nil, false
	}
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m, true
}

func moduleDir(t *testing.T, path, version string) (string, bool) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), escapeModulePath(path)+"@"+version)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Logf("%s@%s is not in the module cache, so the lists here are not compared with it: `cd tools && go mod download %s@%s` to compare", path, version, path, version)
		return "", false
	}
	return dir, true
}

// escapeModulePath is the module cache's spelling of a module path: each
// capital letter as '!' and its lower case.
func escapeModulePath(path string) string {
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
