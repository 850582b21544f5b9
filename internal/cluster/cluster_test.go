package cluster

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
)

// repoRoot is the repository's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"SET": "value", "EMPTY": ""}
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{in: "plain", want: "plain"},
		{in: "${SET}", want: "value"},
		{in: "a-${SET}-b", want: "a-value-b"},
		{in: "${UNSET}", want: ""},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY-fallback}", want: ""},
		{in: "${UNSET-fallback}", want: "fallback"},
		{in: "${SET:?needed}", want: "value"},
		{in: "${EMPTY?needed}", want: ""},
		{in: "$${SET}", want: "${SET}"},
		{in: "${UNSET:?set UNSET in .env}", wantErr: "UNSET: set UNSET in .env"},
		{in: "${EMPTY:?set EMPTY}", wantErr: "EMPTY: set EMPTY"},
		{in: "${UNSET?required}", wantErr: "UNSET: required"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := interpolate(tt.in, env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("interpolate(%q) = %q, %v; want the error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("interpolate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestTestEnv(t *testing.T) {
	tests := []struct {
		name, example string
		want          map[string]string
		wantErr       bool
	}{
		{
			name:    "passwords and comments",
			example: "# a comment\nPOSTGRES_PASSWORD=change-me-postgres\n\nORDERS_DB_PASSWORD=change-me-orders\n# TAG=local\n",
			want:    map[string]string{"POSTGRES_PASSWORD": "e2e-postgres", "ORDERS_DB_PASSWORD": "e2e-orders"},
		},
		{
			name:    "a value of another shape",
			example: "REGION=eu\n",
			want:    map[string]string{"REGION": "e2e-eu"},
		},
		{name: "no variable", example: "# only comments\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, EnvExampleFile), []byte(tt.example), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := TestEnv(root)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("TestEnv = %v, want an error", got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("TestEnv = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestTestEnvInterpolatesCompose checks that the stack's own .env.example
// gives every variable the compose file requires.
func TestTestEnvInterpolatesCompose(t *testing.T) {
	root := repoRoot(t)
	env, err := TestEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	services, err := loadCompose(root, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := services["postgres"].Environment[envPostgresPass]; got != "e2e-postgres" {
		t.Errorf("postgres %s = %q, want e2e-postgres from %s", envPostgresPass, got, EnvExampleFile)
	}
}

func TestDockerizeDefault(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"set", map[string]string{"PORT": "7000"}, "7000"},
		{"set to empty stays empty", map[string]string{"PORT": ""}, ""},
		{"unset falls back", map[string]string{}, "7233"},
	}
	tmpl := template.Must(template.New("t").Funcs(dockerizeFuncs).Parse(`{{ default .Env.PORT "7233" }}`))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tmpl.Execute(&b, struct{ Env map[string]string }{tt.env}); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("default .Env.PORT \"7233\" with %v = %q, want %q", tt.env, b.String(), tt.want)
			}
		})
	}
}

func TestMaxConnections(t *testing.T) {
	tests := []struct {
		command []string
		want    int
		wantErr bool
	}{
		{[]string{"postgres", "-c", "max_connections=200"}, 200, false},
		{[]string{"postgres"}, 100, false},
		{[]string{"postgres", "max_connections=7"}, 100, false}, // not a -c setting
		{[]string{"postgres", "-c", "max_connections=many"}, 0, true},
	}
	for _, tt := range tests {
		got, err := maxConnections(tt.command)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("maxConnections(%q) = %d, %v; want %d (error: %v)", tt.command, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHealthCheckArgs(t *testing.T) {
	tests := []struct {
		test    []string
		want    []string
		wantErr bool
	}{
		{
			test: []string{"CMD", "temporal", "operator", "cluster", "health", "--address", "127.0.0.1:7233"},
			want: []string{"operator", "cluster", "health", "--address", "127.0.0.1:4000"},
		},
		{test: []string{"CMD-SHELL", "temporal operator cluster health"}, wantErr: true},
		{test: []string{"CMD", "tctl", "cluster", "health", "--address", "x"}, wantErr: true},
		{test: []string{"CMD", "temporal", "operator", "cluster", "health"}, wantErr: true},
		{test: []string{"CMD", "temporal", "operator", "cluster", "health", "--address"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := healthCheckArgs(tt.test, "127.0.0.1:4000")
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("healthCheckArgs(%q) = %q, %v; want %q (error: %v)", tt.test, got, err, tt.want, tt.wantErr)
		}
	}
}

// offline is the cluster as Start prepares it, with nothing started: the
// compose file read with the test .env, PostgreSQL said to be on pgPort.
func offline(t *testing.T) *Cluster {
	t.Helper()
	root := repoRoot(t)
	env, err := TestEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	services, err := loadCompose(root, env)
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{root: root, dir: t.TempDir(), compose: services, pgPort: "5999",
		serverDir: "/modcache/go.temporal.io/server@v1.29.1", ports: map[string]bool{}}
}

// TestServiceEnvOnOneHost checks what onOneHost changes for each kind of
// service, and that the caller's extra wins.
func TestServiceEnvOnOneHost(t *testing.T) {
	c := offline(t)
	tests := []struct {
		service string
		want    map[string]string // exact values
		ports   []string          // loopback ports, each a new one
		addrs   []string          // 127.0.0.1:port
	}{
		{
			service: "temporal-schema",
			want: map[string]string{"SQL_HOST": "127.0.0.1", "SQL_PORT": "5999",
				"TEMPORAL_SCHEMA_DIR": "/modcache/go.temporal.io/server@v1.29.1/schema/postgresql/v12"},
		},
		{
			service: "temporal",
			want: map[string]string{"POSTGRES_SEEDS": "127.0.0.1", "DB_PORT": "5999", "BIND_ON_IP": "127.0.0.1",
				"DYNAMIC_CONFIG_FILE_PATH": filepath.Join(c.root, dynamicConfig)},
			ports: nodePorts,
			addrs: []string{"PROMETHEUS_ENDPOINT"},
		},
		{
			service: "payment",
			want: map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1234",
				"ORDERSAGA_PAYMENT_DSN":       "postgres://payment:e2e-payment@127.0.0.1:5999/payment?sslmode=disable",
				"OTEL_EXPORTER_OTLP_ENDPOINT": ""},
			addrs: []string{"ORDERSAGA_METRICS_ADDR"},
		},
		{
			service: "starter",
			want:    map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1234", "TEMPORAL_NAMESPACE": "default", "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			env, err := c.ServiceEnv(tt.service, map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1234"})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s=%q, want %q", k, env[k], v)
				}
			}
			for _, k := range tt.ports {
				if n, err := strconv.Atoi(env[k]); err != nil || n <= 0 || seen[env[k]] {
					t.Errorf("%s=%q, want a port no other variable has", k, env[k])
				} else if strings.HasSuffix(k, "_MEMBERSHIP_PORT") && n > 32767 {
					t.Errorf("%s=%d, want one below 32768 (cluster_membership.rpc_port is a SMALLINT)", k, n)
				}
				seen[env[k]] = true
			}
			for _, k := range tt.addrs {
				if !strings.HasPrefix(env[k], "127.0.0.1:") {
					t.Errorf("%s=%q, want a loopback address", k, env[k])
				}
			}
		})
	}
}

func TestStoreDSNs(t *testing.T) {
	c := offline(t)
	got, err := c.StoreDSNs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range []string{"orders", "inventory", "payment", "shipping"} {
		want["ORDERSAGA_"+strings.ToUpper(s)+"_DSN"] = "postgres://" + s + ":e2e-" + s + "@127.0.0.1:5999/" + s + "?sslmode=disable"
	}
	if !maps.Equal(got, want) {
		t.Errorf("StoreDSNs = %v,\nwant %v", got, want)
	}
}
