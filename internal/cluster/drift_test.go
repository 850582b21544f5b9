package cluster

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/tracing"
)

// The drift tests read docker-compose.yml, the files it mounts and the
// server's config template, and start nothing: they fail, saying what to
// change, when the compose file and this package part ways. They need no
// built binary, only the server module in the module cache.

// TestComposeDriftFiles checks that every file the cluster runs or reads
// is the one compose mounts for that service, where that service runs or
// reads it.
func TestComposeDriftFiles(t *testing.T) {
	for _, p := range fileDrift(offline(t).compose) {
		t.Error(p)
	}
}

// TestComposeDriftOnOneHost checks that every variable onOneHost changes
// for a service is one compose sets for that service, or one the program
// the service runs reads where compose leaves it unset: the nodes' ports
// (the server's config template) and the schema directory (the schema
// job's script).
func TestComposeDriftOnOneHost(t *testing.T) {
	c := offline(t)
	for _, p := range onOneHostDrift(c, templateVars(t, c)) {
		t.Error(p)
	}
}

// TestComposeDriftReads checks that every variable the cluster, the
// end-to-end tests and the benchmark read from a service's environment by
// name is there.
func TestComposeDriftReads(t *testing.T) {
	for _, p := range readDrift(offline(t)) {
		t.Error(p)
	}
}

// TestComposeDriftSecrets checks that every variable naming a path where
// compose mounts secrets names a secret its service mounts, which
// onOneHost points at the secret's file on this host.
func TestComposeDriftSecrets(t *testing.T) {
	for _, p := range secretDrift(offline(t).compose) {
		t.Error(p)
	}
}

// TestComposeDriftCaught changes the compose file as an edit might and
// checks that the drift checks catch it.
func TestComposeDriftCaught(t *testing.T) {
	tests := []struct {
		name   string
		change func(s map[string]Service)
		check  func(c *Cluster) []string
		want   string // in one of the problems
	}{
		{
			name:   "schema script mounted from elsewhere",
			change: func(s map[string]Service) { s["temporal-schema"].Volumes[0] = "./deploy/other:/deploy:ro" },
			check:  func(c *Cluster) []string { return fileDrift(c.compose) },
			want:   "temporal-schema runs /deploy/setup-schema.sh",
		},
		{
			name: "init script renamed",
			change: func(s map[string]Service) {
				s["postgres"].Volumes[1] = "./deploy/postgres/init.sh:/docker-entrypoint-initdb.d/10-init.sh:ro"
			},
			check: func(c *Cluster) []string { return fileDrift(c.compose) },
			want:  "mounts no deploy/postgres/init-databases.sh",
		},
		{
			name: "dynamic config moved",
			change: func(s map[string]Service) {
				s["temporal"].Environment["DYNAMIC_CONFIG_FILE_PATH"] = "/etc/temporal/dc.yaml"
			},
			check: func(c *Cluster) []string { return fileDrift(c.compose) },
			want:  "DYNAMIC_CONFIG_FILE_PATH",
		},
		{
			name: "BIND_ON_IP renamed",
			change: func(s map[string]Service) {
				env := s["temporal"].Environment
				env["TEMPORAL_BIND_ON_IP"] = env["BIND_ON_IP"]
				delete(env, "BIND_ON_IP")
			},
			check: func(c *Cluster) []string { return onOneHostDrift(c, map[string]bool{"FRONTEND_GRPC_PORT": true}) },
			want:  "BIND_ON_IP",
		},
		{
			name:   "a node port the template no longer reads",
			change: func(map[string]Service) {},
			check:  func(c *Cluster) []string { return onOneHostDrift(c, map[string]bool{}) },
			want:   "FRONTEND_GRPC_PORT",
		},
		{
			name: "the codec server's listener given another way",
			change: func(s map[string]Service) {
				cs := s[CodecServer]
				cs.Command = []string{"codec-server", "--address", "0.0.0.0:8081"}
				s[CodecServer] = cs
			},
			check: readDrift,
			want:  "has no --listen",
		},
		{
			name:   "the server's metrics listener dropped",
			change: func(s map[string]Service) { delete(s["temporal"].Environment, "PROMETHEUS_ENDPOINT") },
			check: func(c *Cluster) []string {
				return onOneHostDrift(c, map[string]bool{"PROMETHEUS_ENDPOINT": true, "FRONTEND_GRPC_PORT": true})
			},
			want: "onOneHost changes PROMETHEUS_ENDPOINT for the temporal service, which compose does not set",
		},
		{
			name: "a worker's traces sent to a collector by the traces-only variable",
			change: func(s map[string]Service) {
				s["payment"].Environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://collector:4318/v1/traces"
				delete(s["payment"].Environment, "OTEL_EXPORTER_OTLP_ENDPOINT")
			},
			check: func(c *Cluster) []string {
				saved := tracingEndpoints
				tracingEndpoints = []string{"OTEL_EXPORTER_OTLP_ENDPOINT"} // as if onOneHost knew only the one
				defer func() { tracingEndpoints = saved }()
				return readDrift(c)
			},
			want: "the payment service's environment on this host turns tracing on",
		},
		{
			name: "the key file mounted under another name",
			change: func(s map[string]Service) {
				cs := s[CodecServer]
				cs.Secrets = map[string]string{"/run/secrets/ring": cs.Secrets["/run/secrets/codec-keys"]}
				s[CodecServer] = cs
			},
			check: func(c *Cluster) []string { return secretDrift(c.compose) },
			want:  "the codec-server service's ORDERSAGA_CODEC_KEY_FILE=/run/secrets/codec-keys names no secret it mounts",
		},
		{
			name: "the starter without the key file",
			change: func(s map[string]Service) {
				st := s["starter"]
				st.Secrets = nil
				s["starter"] = st
			},
			check: readDrift,
			want:  "the starter service's ORDERSAGA_CODEC_KEY_FILE=/run/secrets/codec-keys names a secret it does not mount",
		},
		{
			name:   "the starter's namespace renamed",
			change: func(s map[string]Service) { delete(s["starter"].Environment, "TEMPORAL_NAMESPACE") },
			check:  readDrift,
			want:   "TEMPORAL_NAMESPACE",
		},
		{
			name: "a store's DSN renamed",
			change: func(s map[string]Service) {
				env := s["payment"].Environment
				env["ORDERSAGA_PAYMENTS_DSN"] = env["ORDERSAGA_PAYMENT_DSN"]
				delete(env, "ORDERSAGA_PAYMENT_DSN")
			},
			check: readDrift,
			want:  "ORDERSAGA_PAYMENT_DSN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := offline(t)
			for name, s := range c.compose {
				c.compose[name] = s.clone()
			}
			tt.change(c.compose)
			problems := tt.check(c)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got %q", tt.want, problems)
			}
		})
	}
}

// secretDrift checks that each variable naming a path in /run/secrets
// names a secret its service mounts there.
func secretDrift(services map[string]Service) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(services)) {
		s := services[name]
		for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
			v := s.Environment[k]
			if _, ok := s.Secrets[v]; ok || !strings.HasPrefix(v, secretsDir+"/") {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: the %s service's %s=%s names no secret it mounts (it mounts %v): mount the secret there, or point the variable at its mount",
				ComposeFile, name, k, v, slices.Sorted(maps.Keys(s.Secrets))))
		}
	}
	return problems
}

// fileDrift checks the files the cluster runs and reads against the compose services'
// mounts.
func fileDrift(services map[string]Service) []string {
	var problems []string
	// The jobs: compose runs `sh SCRIPT`, the cluster runs `sh FILE`.
	for service, file := range map[string]string{"temporal-schema": setupSchema, "temporal-namespace": setupNamespace} {
		s := services[service]
		if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "sh" {
			problems = append(problems, fmt.Sprintf("%s: %s's entrypoint %q is not `sh SCRIPT`, which the cluster runs as `sh %s`: change runJob's call in internal/cluster/cluster.go to match",
				ComposeFile, service, s.Entrypoint, file))
			continue
		}
		host, ok := mountSource(s.Volumes, s.Entrypoint[1])
		if !ok || host != file {
			problems = append(problems, fmt.Sprintf("%s: %s runs %s, which its volumes mount from %q, but the cluster runs %s: change the constant in internal/cluster/compose.go to the mounted file, or the mount",
				ComposeFile, service, s.Entrypoint[1], host, file))
		}
	}
	// The postgres image runs every *.sh in /docker-entrypoint-initdb.d.
	pg := services["postgres"]
	var inits []string
	for _, v := range pg.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst, _, _ = strings.Cut(dst, ":")
		if path.Dir(dst) == "/docker-entrypoint-initdb.d" && strings.HasSuffix(dst, ".sh") {
			inits = append(inits, filepath.ToSlash(filepath.Clean(src)))
		}
	}
	if !slices.Equal(inits, []string{initDatabases}) {
		problems = append(problems, fmt.Sprintf("%s: the postgres service mounts no %s as its one init script in /docker-entrypoint-initdb.d (it mounts %q): change initDatabases in internal/cluster/compose.go to the mounted script, or the mount",
			ComposeFile, initDatabases, inits))
	}
	// The server reads DYNAMIC_CONFIG_FILE_PATH, where compose mounts the
	// checkout's file.
	tp := services["temporal"]
	target := tp.Environment[envDynamicConfig]
	if host, ok := mountSource(tp.Volumes, target); !ok || host != dynamicConfig {
		problems = append(problems, fmt.Sprintf("%s: the temporal service's %s=%q is mounted from %q, but the cluster gives the nodes %s: change dynamicConfig in internal/cluster/compose.go to the mounted file, or the mount",
			ComposeFile, envDynamicConfig, target, host, dynamicConfig))
	}
	return problems
}

// mountSource is the checkout's file, relative to the root, that volumes
// (SOURCE:TARGET[:MODE]) mount at the container's path p: the most
// specific bind mount of a directory holding it, or of p itself.
func mountSource(volumes []string, p string) (string, bool) {
	best, host := -1, ""
	for _, v := range volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst, _, _ = strings.Cut(dst, ":")
		if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
			continue // a named volume
		}
		rest, ok := strings.CutPrefix(p, dst)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) || len(dst) <= best {
			continue
		}
		best, host = len(dst), filepath.ToSlash(filepath.Clean(src+rest))
	}
	return host, best >= 0
}

// unsetByCompose are the variables onOneHost sets that compose leaves
// unset on purpose, by service, with the file (relative to the root, or
// in the server module) that must read them.
func unsetByCompose(service string) (names []string, reader string) {
	switch service {
	case "temporal":
		return nodePorts, serverConfigTmpl
	case "temporal-schema":
		return []string{envSchemaDir}, setupSchema
	}
	return nil, ""
}

// onOneHostDrift checks onOneHost's variables against compose's and, for
// those compose leaves unset, against the file that reads them; tmplVars
// are the variables the server's config template reads.
func onOneHostDrift(c *Cluster, tmplVars map[string]bool) []string {
	var problems []string
	for _, service := range slices.Sorted(maps.Keys(c.compose)) {
		host, err := c.onOneHost(service)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		unset, reader := unsetByCompose(service)
		for _, k := range slices.Sorted(maps.Keys(host)) {
			if _, ok := c.compose[service].Environment[k]; ok {
				continue
			}
			if !slices.Contains(unset, k) {
				problems = append(problems, fmt.Sprintf("%s: onOneHost changes %s for the %s service, which compose does not set: rename it in internal/cluster/env.go as compose names it now",
					ComposeFile, k, service))
				continue
			}
			if !readsVar(c, reader, k, tmplVars) {
				problems = append(problems, fmt.Sprintf("onOneHost sets %s for the %s service, which compose leaves unset and %s does not read: rename it in internal/cluster/env.go as %s names it now",
					k, service, reader, reader))
			}
		}
	}
	return problems
}

// readsVar reports whether reader (the server's template, or a script of
// the checkout) reads the variable name.
func readsVar(c *Cluster, reader, name string, tmplVars map[string]bool) bool {
	if reader == serverConfigTmpl {
		return tmplVars[name]
	}
	b, err := os.ReadFile(filepath.Join(c.root, reader))
	if err != nil {
		return false
	}
	return regexp.MustCompile(`\$\{?` + name + `\b`).Match(b)
}

// templateVars are the variables the server image's config template reads
// (.Env.NAME), at the version tools/go.mod pins, which must be compose's
// server image's.
func templateVars(t *testing.T, c *Cluster) map[string]bool {
	t.Helper()
	dir, version, err := serverModule(c.root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serverTemplate(dir, version, c.compose["temporal"].Image); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, serverConfigTmpl))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.Env\.([A-Za-z_][A-Za-z0-9_]*)`).FindAllSubmatch(b, -1) {
		vars[string(m[1])] = true
	}
	return vars
}

// read is a variable read by name from a service's environment: as
// compose sets it, or as ServiceEnv gives it on this host.
type read struct {
	service, name string
	onThisHost    bool
	by            string // who reads it, for the message
}

// reads are the variables read by name: by this package, and by the
// end-to-end tests and the benchmark through Service, ServiceEnv,
// StoreDSNs and Namespace.
func reads() []read {
	rs := []read{
		{"postgres", envPostgresUser, false, "startPostgres (the init script's superuser)"},
		{"postgres", envPostgresPass, false, "startPostgres (PGPASSWORD)"},
		{"temporal-schema", envSQLHost, false, "onOneHost"},
		{"temporal-schema", envSQLPort, false, "onOneHost"},
		{"temporal", envBindOnIP, false, "newNode (the frontend's address)"},
		{"temporal", envFrontendPort, true, "newNode (the frontend's address)"},
		{"temporal", envPostgresSeeds, false, "onOneHost"},
		{"temporal", envDBPort, false, "onOneHost"},
		{"temporal", envDynamicConfig, false, "onOneHost"},
		{"temporal", envServerMetrics, false, "onOneHost (each node's own metrics port)"},
		{"temporal-namespace", EnvAddress, false, "Start (the namespace job's frontend)"},
		{"starter", EnvAddress, false, "the starter's callers"},
		{"starter", EnvNamespace, false, "Namespace"},
		{"starter", EnvCodecKeyFile, true, "the rehearsal's own clients (the key file on this host)"},
		{CodecServer, EnvCodecKeyFile, true, "the codec server (the key file on this host)"},
		{"audit", "ORDERSAGA_INVENTORY_DSN", false, "the end-to-end audit"},
		{"audit", "ORDERSAGA_PAYMENT_DSN", false, "the end-to-end audit"},
		{"audit", "ORDERSAGA_SHIPPING_DSN", false, "the end-to-end audit"},
	}
	stores := map[string]string{"order": "ORDERSAGA_ORDERS_DSN", "inventory": "ORDERSAGA_INVENTORY_DSN",
		"payment": "ORDERSAGA_PAYMENT_DSN", "shipping": "ORDERSAGA_SHIPPING_DSN"}
	for _, s := range workerServices {
		rs = append(rs,
			read{s, EnvAddress, false, "the workers' callers"},
			read{s, EnvNamespace, false, "the workers"},
			read{s, envMetricsAddr, false, "onOneHost (each worker's own metrics port)"},
			read{s, stores[s], false, "StoreDSNs' callers"},
		)
	}
	return rs
}

// readDrift checks that each of reads is where it is read, and that the
// DSNs point at the postgres service.
func readDrift(c *Cluster) []string {
	var problems []string
	for _, r := range reads() {
		s, ok := c.compose[r.service]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s has no %s service, whose %s %s reads: add it back, or change internal/cluster", ComposeFile, r.service, r.name, r.by))
			continue
		}
		env := s.Environment
		if r.onThisHost {
			var err error
			if env, err = c.ServiceEnv(r.service, nil); err != nil {
				problems = append(problems, err.Error())
				continue
			}
		}
		if _, ok := env[r.name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: the %s service has no %s, which %s reads by that name: set it in compose, or rename it in internal/cluster (and its callers) as compose names it now",
				ComposeFile, r.service, r.name, r.by))
		}
	}
	if _, err := c.StoreDSNs(); err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, tracingDrift(c)...)
	if _, err := c.ServiceEnv("audit", nil); err != nil {
		problems = append(problems, err.Error())
	}
	if cmd, err := c.ServiceCommand(CodecServer); err != nil {
		problems = append(problems, err.Error())
	} else if !slices.Contains(cmd, listenFlag) {
		problems = append(problems, fmt.Sprintf("%s: the %s service's command %q has no %s, which the cluster moves to a loopback port: give it one", ComposeFile, CodecServer, cmd, listenFlag))
	}
	if _, err := healthCheckArgs(c.compose["temporal"].Healthcheck, "127.0.0.1:7233"); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := maxConnections(c.compose["postgres"].Command); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// tracingDrift checks that no service of the ordersaga image traces on this
// host, as internal/tracing decides from its environment: compose's
// collector is its jaeger service, which the cluster does not run, and a
// process that exports to it waits for it at every exit.
func tracingDrift(c *Cluster) []string {
	var problems []string
	for _, service := range slices.Sorted(maps.Keys(c.compose)) {
		if !strings.HasPrefix(c.compose[service].Image, "ordersaga:") {
			continue
		}
		env, err := c.ServiceEnv(service, nil)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		cfg, err := tracing.ReadConfig(func(k string) string { return env[k] })
		if err != nil || cfg.On {
			problems = append(problems, fmt.Sprintf("%s: the %s service's environment on this host turns tracing on (or is wrong: %v), to a collector the cluster does not run: add the variable to tracingEndpoints in internal/cluster/env.go",
				ComposeFile, service, err))
		}
	}
	return problems
}
