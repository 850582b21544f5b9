// Package deploy checks the project's container deployment — the root's
// docker-compose.yml and Dockerfile and the scripts under deploy/ — without
// a Docker engine: the compose file is loaded the way `docker compose` loads
// it (compose-go, with .env.example as the environment) and its structure
// is asserted, so that a broken dependency order, an unpinned image, a
// leaked password or an environment variable the code no longer reads is
// caught by `go test` instead of by the first `docker compose up`.
package deploy

import (
	"bufio"
	"context"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	root        = ".."
	composeFile = "docker-compose.yml"
	envExample  = ".env.example"
	dockerfile  = "Dockerfile"
)

// workers are the project's services, one container each, and the database
// each one's store lives in (the order service's store is its register of
// order IDs). The database names the rest: its role, its DSN's variable on
// the worker (dsnEnv) and its role's password in .env (passwordEnv).
var workers = map[string]string{
	"order":     "orders",
	"inventory": "inventory",
	"payment":   "payment",
	"shipping":  "shipping",
}

// auditService is the container that runs the scheduled audit (`worker
// run --services audit`). It reads the stores of the audited databases,
// and only those, as auditRole: a role that owns nothing and may only read
// there (deploy/postgres/init-databases.sh), never as a store's owner. Its
// password is passwordEnv(auditRole).
const (
	auditService = "audit"
	auditRole    = "audit"
)

// audited are the databases of the stores the audit reads: not the order
// register.
var audited = []string{"inventory", "payment", "shipping"}

// runners are the containers that run `worker run`: the four services and
// the audit.
func runners() []string { return append(slices.Sorted(maps.Keys(workers)), auditService) }

// pinnedImages is every third-party image the stack may use, with the
// release line it must stay on. The Temporal server, its admin-tools (the
// schema files must be the server's) and the UI follow the Temporal CLI
// pinned in tools/go.mod (Server 1.29.1, UI 2.42.1): move them together.
// Prometheus is the release of the module deploy/go.mod loads its files
// with (TestPrometheusImageIsTheModule); Grafana and Jaeger stay on the
// major versions whose configuration this stack is written for.
var pinnedImages = map[string]*regexp.Regexp{
	"postgres":               regexp.MustCompile(`^15\.\d+(-[a-z0-9.]+)?$`),
	"temporalio/server":      regexp.MustCompile(`^1\.29\.\d+$`),
	"temporalio/admin-tools": regexp.MustCompile(`^1\.29\.\d+(-[a-z0-9.-]+)?$`),
	"temporalio/ui":          regexp.MustCompile(`^2\.42\.\d+$`),
	"prom/prometheus":        regexp.MustCompile(`^v3\.\d+\.\d+$`),
	"grafana/grafana":        regexp.MustCompile(`^13\.\d+\.\d+$`),
	"jaegertracing/jaeger":   regexp.MustCompile(`^2\.\d+\.\d+$`),
}

// codeEnv are the variables the compose file must set on the workers, and
// that the Go sources must read.
var codeEnv = []string{
	"ORDERSAGA_ORDERS_DSN",
	"ORDERSAGA_INVENTORY_DSN",
	"ORDERSAGA_PAYMENT_DSN",
	"ORDERSAGA_SHIPPING_DSN",
	"ORDERSAGA_METRICS_ADDR",
	"ORDERSAGA_LOG_FORMAT",
	"ORDERSAGA_DEPLOYMENT_NAME",
	"ORDERSAGA_BUILD_ID",
}

// load loads the compose file with every profile active. interpolate
// false keeps the ${VAR} references as written, to check what is in the
// file rather than what .env.example fills in.
func load(t *testing.T, interpolate bool) *types.Project {
	t.Helper()
	env, err := dotenv.Read(filepath.Join(root, envExample))
	if err != nil {
		t.Fatalf("read %s: %v", envExample, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, composeFile)}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("ordersaga", true)
		o.Profiles = []string{"*"}
		o.SkipInterpolation = !interpolate
		o.ResolvePaths = true
	})
	if err != nil {
		t.Fatalf("load %s with %s: %v", composeFile, envExample, err)
	}
	return p
}

// dsnEnv is the variable that holds the DSN of database db's store.
func dsnEnv(db string) string { return "ORDERSAGA_" + strings.ToUpper(db) + "_DSN" }

// passwordEnv is the variable that holds the password of database db's
// role, in .env and in the postgres service's environment.
func passwordEnv(db string) string { return strings.ToUpper(db) + "_DB_PASSWORD" }

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("no service %q in %s", name, composeFile)
	}
	return s
}

// servicesByImage returns the services that run repository repo.
func servicesByImage(p *types.Project, repo string) []string {
	var names []string
	for name, s := range p.Services {
		if r, _, _ := splitImage(s.Image); r == repo && s.Build == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// one returns the single service that runs repo.
func one(t *testing.T, p *types.Project, repo string) types.ServiceConfig {
	t.Helper()
	names := servicesByImage(p, repo)
	if len(names) != 1 {
		t.Fatalf("want one service running %s, have %v", repo, names)
	}
	return p.Services[names[0]]
}

// splitImage splits "repo:tag@digest" into its parts.
func splitImage(image string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

func env(s types.ServiceConfig, name string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return *v
	}
	return ""
}

// isJob reports whether a service runs once and exits: something waits for
// it to complete.
func isJob(p *types.Project, name string) bool {
	for _, s := range p.Services {
		if d, ok := s.DependsOn[name]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

func TestImagesArePinned(t *testing.T) {
	p := load(t, true)
	for name, s := range p.Services {
		if s.Build != nil {
			continue // built here; checked by TestWorkersShareOneImage
		}
		repo, tag, digest := splitImage(s.Image)
		want, known := pinnedImages[repo]
		switch {
		case !known:
			t.Errorf("%s: image %q is not one this test knows: add its release line to pinnedImages", name, s.Image)
		case tag == "" || tag == "latest":
			t.Errorf("%s: image %q has no explicit version", name, s.Image)
		case !want.MatchString(tag):
			t.Errorf("%s: image %q: tag %q is not on the %s line", name, s.Image, tag, want)
		}
		if digest != "" && !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("%s: image %q: malformed digest", name, s.Image)
		}
	}
	// The schema job must create the schema of the server's exact release.
	_, serverTag, _ := splitImage(one(t, p, "temporalio/server").Image)
	for _, name := range servicesByImage(p, "temporalio/admin-tools") {
		_, tag, _ := splitImage(p.Services[name].Image)
		if tag != serverTag && !strings.HasPrefix(tag, serverTag+"-") {
			t.Errorf("%s: admin-tools %s is not the server's release %s", name, tag, serverTag)
		}
	}
}

func TestDependenciesWaitForReadiness(t *testing.T) {
	p := load(t, true)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %q", name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart == types.RestartPolicyAlways || target.Restart == types.RestartPolicyUnlessStopped {
					t.Errorf("%s waits for %s to complete, but %s restarts %q", name, dep, dep, target.Restart)
				}
			case types.ServiceConditionStarted:
				// Only the audit may wait on a mere start, of the workers
				// whose stores it reads: they have no health check, and an
				// audit run that finds a store missing fails and is retried.
				if name != auditService || !slices.Contains(audited, workers[dep]) {
					t.Errorf("%s depends on %s with condition %q: use service_healthy or service_completed_successfully", name, dep, d.Condition)
				}
			default:
				t.Errorf("%s depends on %s with condition %q: use service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
		}
	}
	want := func(svc, dep, cond string) {
		t.Helper()
		if got := service(t, p, svc).DependsOn[dep].Condition; got != cond {
			t.Errorf("%s depends on %s with %q, want %q", svc, dep, got, cond)
		}
	}
	pg := one(t, p, "postgres").Name
	server := one(t, p, "temporalio/server").Name
	schema := jobRunning(t, p, "setup-schema")
	namespace := jobRunning(t, p, "setup-namespace")
	want(schema, pg, types.ServiceConditionHealthy)
	want(server, schema, types.ServiceConditionCompletedSuccessfully)
	want(namespace, server, types.ServiceConditionHealthy)
	want(one(t, p, "temporalio/ui").Name, server, types.ServiceConditionHealthy)
	for _, w := range runners() {
		want(w, server, types.ServiceConditionHealthy)
		want(w, namespace, types.ServiceConditionCompletedSuccessfully)
		want(w, pg, types.ServiceConditionHealthy)
	}
	// The audit starts after the workers whose first start creates the
	// stores it reads.
	for name, db := range workers {
		if slices.Contains(audited, db) {
			want(auditService, name, types.ServiceConditionStarted)
		}
	}
}

// jobRunning returns the admin-tools service whose entrypoint runs the
// named script of deploy/temporal.
func jobRunning(t *testing.T, p *types.Project, script string) string {
	t.Helper()
	for _, name := range servicesByImage(p, "temporalio/admin-tools") {
		if strings.Contains(strings.Join(p.Services[name].Entrypoint, " "), "/"+script+".sh") {
			return name
		}
	}
	t.Fatalf("no admin-tools service runs %s.sh", script)
	return ""
}

func TestHealthChecks(t *testing.T) {
	p := load(t, true)
	for repo, probe := range map[string]string{
		"postgres":          "pg_isready",
		"temporalio/server": "temporal operator cluster health",
	} {
		s := one(t, p, repo)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("%s: no health check", s.Name)
			continue
		}
		if !strings.Contains(strings.Join(hc.Test, " "), probe) {
			t.Errorf("%s: health check %q does not run %s", s.Name, hc.Test, probe)
		}
		if hc.Interval == nil || hc.Retries == nil {
			t.Errorf("%s: health check without interval or retries", s.Name)
		}
	}
}

func TestSchemaJobMatchesServer(t *testing.T) {
	p := load(t, true)
	server := one(t, p, "temporalio/server")
	schema := service(t, p, jobRunning(t, p, "setup-schema"))
	if env(server, "DB") != "postgres12" || env(schema, "SQL_PLUGIN") != "postgres12" {
		t.Errorf("server DB=%q, schema job SQL_PLUGIN=%q: both must be postgres12", env(server, "DB"), env(schema, "SQL_PLUGIN"))
	}
	pg := one(t, p, "postgres").Name
	for _, pair := range [][2]string{
		{env(server, "POSTGRES_SEEDS"), env(schema, "SQL_HOST")},
		{env(server, "POSTGRES_USER"), env(schema, "SQL_USER")},
		{env(server, "POSTGRES_PWD"), env(schema, "SQL_PASSWORD")},
		{env(server, "DBNAME"), env(schema, "TEMPORAL_DBNAME")},
		{env(server, "VISIBILITY_DBNAME"), env(schema, "TEMPORAL_VISIBILITY_DBNAME")},
	} {
		if pair[0] == "" || pair[0] != pair[1] {
			t.Errorf("the server and the schema job disagree: %q and %q", pair[0], pair[1])
		}
	}
	if env(server, "POSTGRES_SEEDS") != pg {
		t.Errorf("server's POSTGRES_SEEDS %q is not the postgres service %q", env(server, "POSTGRES_SEEDS"), pg)
	}
	initScript := readFile(t, filepath.Join("postgres", "init-databases.sh"))
	for _, db := range []string{env(server, "DBNAME"), env(server, "VISIBILITY_DBNAME")} {
		if !regexp.MustCompile(`create_owned ` + regexp.QuoteMeta(env(server, "POSTGRES_USER")) + ` .*\b` + regexp.QuoteMeta(db) + `\b`).MatchString(initScript) {
			t.Errorf("deploy/postgres/init-databases.sh does not create database %q for role %q", db, env(server, "POSTGRES_USER"))
		}
	}
	// The postgres12 plugin's versioned schemas, where admin-tools keeps them.
	setup := readFile(t, filepath.Join("temporal", "setup-schema.sh"))
	for _, want := range []string{"/etc/temporal/schema/postgresql/v12", "/temporal/versioned", "/visibility/versioned", "setup-schema", "update-schema"} {
		if !strings.Contains(setup, want) {
			t.Errorf("setup-schema.sh does not contain %s", want)
		}
	}
}

func TestNamespaceJobRegistersSearchAttributes(t *testing.T) {
	script := readFile(t, filepath.Join("temporal", "setup-namespace.sh"))
	for _, want := range []string{"OrderStatus", "CustomerId", "--type Keyword", "namespace create", "[Aa]lready"} {
		if !strings.Contains(script, want) {
			t.Errorf("setup-namespace.sh does not contain %q", want)
		}
	}
}

func TestWorkersShareOneImage(t *testing.T) {
	p := load(t, true)
	var image string
	for _, name := range append(runners(), "starter") {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: not built from the %s", name, dockerfile)
			continue
		}
		ctx, err := filepath.Abs(root)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Clean(s.Build.Context) != ctx || s.Build.Dockerfile != dockerfile {
			t.Errorf("%s: builds %s in %s, want %s in the repository root", name, s.Build.Dockerfile, s.Build.Context, dockerfile)
		}
		if image == "" {
			image = s.Image
		}
		if s.Image == "" || s.Image != image {
			t.Errorf("%s: image %q, want the shared %q", name, s.Image, image)
		}
		if _, tag, _ := splitImage(s.Image); tag == "" || tag == "latest" {
			t.Errorf("%s: image %q: give the built image an explicit tag", name, s.Image)
		}
	}
	for _, name := range runners() {
		s := service(t, p, name)
		if !slices.Equal(s.Command, []string{"run", "--services", name}) {
			t.Errorf("%s: command %q, want [run --services %s]", name, s.Command, name)
		}
		if len(s.Entrypoint) != 0 {
			t.Errorf("%s: entrypoint %q overrides the image's worker", name, s.Entrypoint)
		}
	}
	starter := service(t, p, "starter")
	if !slices.Contains(starter.Profiles, "tools") {
		t.Errorf("starter: profiles %q, want it under tools so that `up` does not start it", starter.Profiles)
	}
	if len(starter.Entrypoint) == 0 || filepath.Base(starter.Entrypoint[0]) != "starter" {
		t.Errorf("starter: entrypoint %q does not run the starter", starter.Entrypoint)
	}
}

func TestStoresHaveTheirOwnDatabase(t *testing.T) {
	p := load(t, true)
	pg := one(t, p, "postgres").Name
	initScript := readFile(t, filepath.Join("postgres", "init-databases.sh"))
	for name, db := range workers {
		s := service(t, p, name)
		for other, otherDB := range workers {
			v := dsnEnv(otherDB)
			dsn := env(s, v)
			if other != name {
				if dsn != "" {
					t.Errorf("%s: has %s: a service must not reach another's store", name, v)
				}
				continue
			}
			checkStoreDSN(t, name, v, dsn, pg, db, db)
			if !strings.Contains(initScript, "create_owned "+db+" ") {
				t.Errorf("deploy/postgres/init-databases.sh does not create database %s", db)
			}
		}
	}
}

// checkStoreDSN checks that service svc's DSN dsn, in variable v, reaches
// database db on the postgres service pg as user.
func checkStoreDSN(t *testing.T, svc, v, dsn, pg, db, user string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "postgres" {
		t.Errorf("%s: %s is not a postgres:// URL", svc, v)
		return
	}
	host, port, _ := net.SplitHostPort(u.Host)
	if host != pg || port != "5432" {
		t.Errorf("%s: %s points at %s, want %s:5432", svc, v, u.Host, pg)
	}
	if u.Path != "/"+db || u.User.Username() != user {
		t.Errorf("%s: %s uses database %s as %s, want %s as %s", svc, v, u.Path, u.User.Username(), db, user)
	}
	if _, set := u.User.Password(); !set {
		t.Errorf("%s: %s has no password", svc, v)
	}
	if u.Query().Get("sslmode") == "" {
		t.Errorf("%s: %s does not say sslmode", svc, v)
	}
}

// auditGrants are the only statements of the init script that grant the
// audit role anything: reaching the audited databases and reading the
// tables their owners create (each database's owner is the role of its
// name).
var auditGrants = []string{
	`GRANT CONNECT ON DATABASE :"db" TO ` + auditRole + `;`,
	`GRANT USAGE ON SCHEMA public TO ` + auditRole + `;`,
	`ALTER DEFAULT PRIVILEGES FOR ROLE :"db" IN SCHEMA public GRANT SELECT ON TABLES TO ` + auditRole + `;`,
}

// TestAuditReadsTheStoresReadOnly: the audit container reaches exactly the
// audited stores, each in its database, as the audit role, which may only
// read them: never with a store owner's credentials, which could change
// what the audit only judges, and not the order register. What the grants
// allow and refuse on a real server is TestInitScriptGrantsAuditReadOnly's.
func TestAuditReadsTheStoresReadOnly(t *testing.T) {
	p := load(t, true)
	pg := one(t, p, "postgres").Name
	s := service(t, p, auditService)
	var want []string
	for _, db := range audited {
		want = append(want, dsnEnv(db))
		checkStoreDSN(t, auditService, dsnEnv(db), env(s, dsnEnv(db)), pg, db, auditRole)
	}
	for k := range s.Environment {
		if strings.HasSuffix(k, "_DSN") && !slices.Contains(want, k) {
			t.Errorf("%s: has %s: the audit reads only %v", auditService, k, want)
		}
	}
	for name := range workers {
		for k, v := range service(t, p, name).Environment {
			if u, err := url.Parse(deref(v)); strings.HasSuffix(k, "_DSN") && err == nil && u.User.Username() == auditRole {
				t.Errorf("%s: %s logs in as %s, the audit's read-only role", name, k, auditRole)
			}
		}
	}

	initScript := readFile(t, filepath.Join("postgres", "init-databases.sh"))
	if strings.Contains(initScript, "create_owned "+auditRole+" ") {
		t.Errorf("deploy/postgres/init-databases.sh: role %s owns a database; it must own nothing", auditRole)
	}
	if !strings.Contains(initScript, "CREATE ROLE "+auditRole+" LOGIN PASSWORD :'password';") {
		t.Errorf("deploy/postgres/init-databases.sh does not create the login role %s", auditRole)
	}
	loop := regexp.MustCompile(`(?m)^for db in ([a-z_ ]+); do$`).FindStringSubmatch(initScript)
	if loop == nil || !slices.Equal(strings.Fields(loop[1]), audited) {
		t.Errorf("deploy/postgres/init-databases.sh: no `for db in %s; do` granting %s its reading", strings.Join(audited, " "), auditRole)
	}
	for _, g := range auditGrants {
		if !strings.Contains(initScript, g) {
			t.Errorf("deploy/postgres/init-databases.sh does not run %s", g)
		}
	}
	grant := regexp.MustCompile(`(GRANT|ALTER DEFAULT PRIVILEGES|ALTER ROLE|ALTER DATABASE).*` + auditRole + ``)
	for line := range strings.Lines(initScript) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") && grant.MatchString(line) && !slices.Contains(auditGrants, line) {
			t.Errorf("deploy/postgres/init-databases.sh: %q gives %s more than reading", line, auditRole)
		}
	}
}

// TestStorePasswordsAreWired: each store's role has its own password, from
// .env, through the postgres service to the init script that creates the
// role, and in the DSN its worker connects with.
func TestStorePasswordsAreWired(t *testing.T) {
	raw := load(t, false)
	pg := one(t, raw, "postgres")
	dotEnv, err := dotenv.Read(filepath.Join(root, envExample))
	if err != nil {
		t.Fatal(err)
	}
	initScript := readFile(t, filepath.Join("postgres", "init-databases.sh"))
	// from .env through the postgres service to the init script, which
	// refuses to run without it.
	toScript := func(pw string) {
		t.Helper()
		if dotEnv[pw] == "" {
			t.Errorf("%s does not set %s", envExample, pw)
		}
		if v := env(pg, pw); !strings.HasPrefix(v, "${"+pw+":?") {
			t.Errorf("%s: %s=%q, want ${%s:?…} from .env", pg.Name, pw, v, pw)
		}
		if !strings.Contains(initScript, `"${`+pw+`:?}"`) {
			t.Errorf("deploy/postgres/init-databases.sh does not require %s", pw)
		}
	}
	for name, db := range workers {
		pw := passwordEnv(db)
		toScript(pw)
		if !regexp.MustCompile(`(?m)^create_owned ` + regexp.QuoteMeta(db) + ` "\$` + pw + `" ` + regexp.QuoteMeta(db) + `$`).MatchString(initScript) {
			t.Errorf("deploy/postgres/init-databases.sh does not create role and database %s with $%s", db, pw)
		}
		if dsn := env(service(t, raw, name), dsnEnv(db)); !strings.Contains(dsn, ":${"+pw+":?") {
			t.Errorf("%s: %s does not take its password from %s", name, dsnEnv(db), pw)
		}
	}

	// The audit's role has its own password too: the init script creates
	// the role with it, and the audit's DSNs, and only they, log in with it.
	pw := passwordEnv(auditRole)
	toScript(pw)
	if !strings.Contains(initScript, `-v password="$`+pw+`"`) {
		t.Errorf("deploy/postgres/init-databases.sh does not create role %s with $%s", auditRole, pw)
	}
	audit := service(t, raw, auditService)
	for _, db := range audited {
		if dsn := env(audit, dsnEnv(db)); !strings.HasPrefix(dsn, "postgres://"+auditRole+":${"+pw+":?") {
			t.Errorf("%s: %s does not log in as %s with %s", auditService, dsnEnv(db), auditRole, pw)
		}
	}
	for name, s := range raw.Services {
		for k, v := range s.Environment {
			for _, other := range append(slices.Collect(maps.Values(workers)), auditRole) {
				ref := "${" + passwordEnv(other) + ":"
				if name == pg.Name || !strings.Contains(deref(v), ref) {
					continue
				}
				if (name == auditService) != (other == auditRole) {
					t.Errorf("%s: %s uses %s: each password belongs to its own role's DSNs", name, k, passwordEnv(other))
				}
			}
		}
	}
}

func TestTemporalAddress(t *testing.T) {
	p := load(t, true)
	server := one(t, p, "temporalio/server")
	if port := env(server, "FRONTEND_GRPC_PORT"); port != "" && port != "7233" {
		t.Fatalf("the server's frontend is on %s; this test expects 7233", port)
	}
	want := net.JoinHostPort(server.Name, "7233")
	for name, s := range p.Services {
		if name == server.Name {
			continue
		}
		if got, ok := s.Environment["TEMPORAL_ADDRESS"]; ok && (got == nil || *got != want) {
			t.Errorf("%s: TEMPORAL_ADDRESS=%v, want %s", name, deref(got), want)
		}
	}
	for _, name := range append(runners(), "starter", one(t, p, "temporalio/ui").Name, jobRunning(t, p, "setup-namespace")) {
		if env(service(t, p, name), "TEMPORAL_ADDRESS") == "" {
			t.Errorf("%s: no TEMPORAL_ADDRESS", name)
		}
	}
}

func TestEnvironmentMatchesCode(t *testing.T) {
	p := load(t, true)
	sources := goSources(t)
	var set []string
	for _, name := range append(runners(), "starter") {
		for k := range service(t, p, name).Environment {
			if strings.HasPrefix(k, "ORDERSAGA_") && !slices.Contains(set, k) {
				set = append(set, k)
			}
		}
	}
	for _, v := range codeEnv {
		if !slices.Contains(set, v) {
			t.Errorf("%s is not set on any worker", v)
		}
	}
	slices.Sort(set)
	for _, v := range set {
		t.Run(v, func(t *testing.T) {
			if regexp.MustCompile(`\b` + v + `\b`).Match(sources) {
				return
			}
			t.Errorf("%s is set in %s but no Go source reads it", v, composeFile)
		})
	}
	for _, name := range runners() {
		s := service(t, p, name)
		if got := env(s, "ORDERSAGA_LOG_FORMAT"); got != "json" {
			t.Errorf("%s: ORDERSAGA_LOG_FORMAT=%q, want json", name, got)
		}
		_, port, err := net.SplitHostPort(env(s, "ORDERSAGA_METRICS_ADDR"))
		if err != nil || port != "9090" {
			t.Errorf("%s: ORDERSAGA_METRICS_ADDR=%q, want :9090", name, env(s, "ORDERSAGA_METRICS_ADDR"))
		}
	}
}

// TestWorkersJoinOneDeploymentAsTheirImageTag: every worker runs in the
// same Worker Deployment as the build of its image, so that a pinned
// order's activities go to its own build's services, and a new image tag
// is a new build to roll out.
func TestWorkersJoinOneDeploymentAsTheirImageTag(t *testing.T) {
	for _, interpolate := range []bool{false, true} {
		p := load(t, interpolate)
		for _, name := range runners() {
			s := service(t, p, name)
			// Not splitImage: uninterpolated, the tag is ${...} with a ':' in it.
			_, tag, _ := strings.Cut(s.Image, ":")
			if got := env(s, "ORDERSAGA_BUILD_ID"); got != tag {
				t.Errorf("%s (interpolated %t): ORDERSAGA_BUILD_ID=%q, want its image tag %q", name, interpolate, got, tag)
			}
			if got := env(s, "ORDERSAGA_DEPLOYMENT_NAME"); got != "ordersaga" {
				t.Errorf("%s: ORDERSAGA_DEPLOYMENT_NAME=%q, want ordersaga", name, got)
			}
		}
	}
}

// TestNoFixedHostPortsOnWorkers: any service may be scaled, and two
// replicas cannot publish the same host port.
func TestNoFixedHostPortsOnWorkers(t *testing.T) {
	p := load(t, true)
	for _, name := range runners() {
		for _, port := range service(t, p, name).Ports {
			if port.Published != "" {
				t.Errorf("%s: publishes host port %s: `--scale %s=3` would collide", name, port.Published, name)
			}
		}
	}
}

func TestUIPublishedOn8233(t *testing.T) {
	p := load(t, true)
	ui := one(t, p, "temporalio/ui")
	ok := slices.ContainsFunc(ui.Ports, func(port types.ServicePortConfig) bool {
		return port.Published == "8233" && port.Target == 8080
	})
	if !ok {
		t.Errorf("%s: ports %+v do not publish 8233 to the UI's 8080", ui.Name, ui.Ports)
	}
	server := one(t, p, "temporalio/server")
	if !slices.ContainsFunc(server.Ports, func(port types.ServicePortConfig) bool {
		return port.Published == "7233" && port.Target == 7233
	}) {
		t.Errorf("%s: 7233 not published: bin/starter on the host cannot reach it", server.Name)
	}
}

func TestVolumes(t *testing.T) {
	p := load(t, true)
	pg := one(t, p, "postgres")
	used := map[string]bool{}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if _, declared := p.Volumes[v.Source]; v.Source == "" || !declared {
					t.Errorf("%s: anonymous or undeclared volume at %s", name, v.Target)
				}
				used[v.Source] = true
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount source: %v", name, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s is writable", name, v.Source)
				}
			}
		}
	}
	if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data"
	}) {
		t.Errorf("%s: its data directory is not on a named volume", pg.Name)
	}
	if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
		return strings.HasPrefix(v.Target, "/docker-entrypoint-initdb.d/")
	}) {
		t.Errorf("%s: no init script mounted in /docker-entrypoint-initdb.d", pg.Name)
	}
	for v := range p.Volumes {
		if !used[v] {
			t.Errorf("volume %s is declared but not used", v)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	p := load(t, true)
	for name, s := range p.Services {
		switch {
		case isJob(p, name):
			checkJobRestart(t, name, s)
		case slices.Contains(s.Profiles, "tools"):
			if s.Restart != types.RestartPolicyNo {
				t.Errorf("%s runs once, by hand: restart %q, want no", name, s.Restart)
			}
		case s.Restart != types.RestartPolicyUnlessStopped:
			t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
		}
	}
}

// secretName matches the names of variables that hold a secret.
var secretName = regexp.MustCompile(`(PASSWORD|PWD|SECRET|TOKEN|_KEY|_KEYS)$`)

// dsnPassword matches a URL whose password is a variable reference.
var dsnPassword = regexp.MustCompile(`^[a-z]+://[^:/@]+:\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}@`)

func TestNoLiteralSecrets(t *testing.T) {
	raw := load(t, false)
	reference := regexp.MustCompile(`^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$`)
	for name, s := range raw.Services {
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			if secretName.MatchString(k) && !reference.MatchString(*v) {
				t.Errorf("%s: %s is written in the file; use ${VAR} from .env", name, k)
			}
			if strings.HasSuffix(k, "_DSN") && !dsnPassword.MatchString(*v) {
				t.Errorf("%s: the password in %s is not a ${VAR}", name, k)
			}
		}
	}
	// And no value of .env.example made it into the file by hand.
	env, err := dotenv.Read(filepath.Join(root, envExample))
	if err != nil {
		t.Fatal(err)
	}
	compose := readFile(t, filepath.Join(root, composeFile))
	for k, v := range env {
		if secretName.MatchString(k) && strings.Contains(compose, v) {
			t.Errorf("%s's example value %q is written in %s", k, v, composeFile)
		}
	}
	gitignore := readFile(t, filepath.Join(root, ".gitignore"))
	if !regexp.MustCompile(`(?m)^/?\.env$`).MatchString(gitignore) {
		t.Logf(".gitignore does not ignore .env yet: a filled-in .env could be committed")
	}
}

// TestDockerfile checks the final stage: a pinned base, a non-root user,
// the worker as entrypoint and the starter next to it.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, dockerfile))
	if len(stages) < 2 {
		t.Fatalf("%s: %d stage(s), want a build stage and a small final one", dockerfile, len(stages))
	}
	for _, st := range stages {
		_, tag, digest := splitImage(st.from)
		if st.from != "scratch" && digest == "" && (tag == "" || tag == "latest") {
			t.Errorf("FROM %s: pin a tag or a digest", st.from)
		}
	}
	build := stages[0]
	if repo, tag, _ := splitImage(build.from); repo != "golang" || !regexp.MustCompile(`^1\.26(\.\d+)?(-|$)`).MatchString(tag) {
		t.Errorf("build stage FROM %s: want golang:1.26.x", build.from)
	}
	run := strings.Join(build.instr["RUN"], "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./worker", "./starter"} {
		if !strings.Contains(run, want) {
			t.Errorf("build stage: no %s in its RUN", want)
		}
	}
	final := stages[len(stages)-1]
	users := final.instr["USER"]
	if len(users) == 0 {
		t.Errorf("final stage: no USER: it would run as root")
	} else if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("final stage: USER %s", users[len(users)-1])
	}
	if ep := final.instr["ENTRYPOINT"]; len(ep) == 0 || !strings.Contains(ep[len(ep)-1], "/worker") {
		t.Errorf("final stage: ENTRYPOINT %q, want the worker", ep)
	}
	if copies := strings.Join(final.instr["COPY"], "\n"); !strings.Contains(copies, "starter") || !strings.Contains(copies, "worker") {
		t.Errorf("final stage: the worker and the starter are not both copied in")
	}
	ignore := readFile(t, filepath.Join(root, ".dockerignore"))
	for _, want := range []string{".git", ".env", "bin/", ".data/", ".temporal/", ".demo/"} {
		if !slices.Contains(strings.Fields(ignore), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

type stage struct {
	from  string
	instr map[string][]string
}

// parseDockerfile returns the stages with their instructions' arguments,
// continuation lines joined.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line += cont + " "
			continue
		}
		line += text
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			fields := strings.Fields(args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			if len(fields) == 0 {
				t.Fatalf("%s: FROM without an image", path)
			}
			stages = append(stages, stage{from: fields[0], instr: map[string][]string{}})
			continue
		}
		if len(stages) > 0 && cmd != "" {
			stages[len(stages)-1].instr[cmd] = append(stages[len(stages)-1].instr[cmd], strings.TrimSpace(args))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// goSources returns the main module's non-test Go sources, concatenated.
func goSources(t *testing.T) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Other modules, and directories Go ignores.
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
				if n := d.Name(); strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			all = append(all, b...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no Go sources found in the repository root")
	}
	return all
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
