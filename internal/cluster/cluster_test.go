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

	"github.com/ordersaga/ordersaga/internal/platform/codec"
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
		{
			name:    "files keep their directory",
			example: "KEY_FILE=./codec-keys\nCERT=/etc/ordersaga/change-me-cert.pem\n",
			want:    map[string]string{"KEY_FILE": "./e2e-codec-keys", "CERT": "/etc/ordersaga/e2e-cert.pem"},
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

// TestLoadComposeSecrets checks that a service's secrets, in the short
// and the long syntax, are read as compose mounts them: at
// /run/secrets/<target> (or an absolute target), from the top-level
// secret's file, interpolated from .env and taken from the root when
// relative.
func TestLoadComposeSecrets(t *testing.T) {
	const top = `
secrets:
  keys:
    file: ${KEY_FILE:?set KEY_FILE}
  token:
    file: /etc/token
  env-only:
    environment: TOKEN
services:
`
	tests := []struct {
		name     string
		services string
		env      map[string]string
		want     map[string]string
		wantErr  string
	}{
		{
			name:     "short syntax, relative file",
			services: "  a:\n    secrets: [keys]\n",
			env:      map[string]string{"KEY_FILE": "./codec-keys"},
			want:     map[string]string{"/run/secrets/keys": "ROOT/codec-keys"},
		},
		{
			name:     "long syntax, a target of its own",
			services: "  a:\n    secrets:\n      - source: keys\n        target: ring\n        mode: 0400\n      - source: token\n        target: /etc/app/token\n",
			env:      map[string]string{"KEY_FILE": "/srv/keys"},
			want:     map[string]string{"/run/secrets/ring": "/srv/keys", "/etc/app/token": "/etc/token"},
		},
		{
			name:     "no secrets",
			services: "  a:\n    image: x\n",
			want:     nil,
		},
		{
			name:     "the file's variable unset",
			services: "  a:\n    secrets: [keys]\n",
			wantErr:  "KEY_FILE: set KEY_FILE",
		},
		{
			name:     "a secret the top level does not define",
			services: "  a:\n    secrets: [other]\n",
			wantErr:  "secret other is not one of the top-level secrets",
		},
		{
			name:     "a secret without a file",
			services: "  a:\n    secrets: [env-only]\n",
			wantErr:  "secret env-only has no file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, ComposeFile), []byte(top+tt.services), 0o644); err != nil {
				t.Fatal(err)
			}
			services, err := loadCompose(root, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadCompose: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				tt.want[k] = strings.Replace(v, "ROOT", root, 1)
			}
			if got := services["a"].Secrets; !maps.Equal(got, tt.want) {
				t.Errorf("secrets %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDefaultEnvEncrypts checks that the cluster's own .env (no caller's)
// gives every service of the ordersaga image a key ring that reads: a key
// file of the cluster's directory, where the service's
// ORDERSAGA_CODEC_KEY_FILE points on this host; and the codec server a
// token.
func TestDefaultEnvEncrypts(t *testing.T) {
	c := offline(t)
	env, err := testEnv(c.root, c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.compose, err = loadCompose(c.root, env); err != nil {
		t.Fatal(err)
	}
	if err := c.checkSecretFiles(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(c.dir, "codec-keys")
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s: mode %04o, want 0600", file, perm)
	}
	if _, err := codec.ReadKeyFile(file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(c.compose)) {
		if !strings.HasPrefix(c.compose[name].Image, "ordersaga:") {
			continue
		}
		n++
		got, err := c.ServiceEnv(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got[EnvCodecKeyFile] != file {
			t.Errorf("%s: %s=%q on this host, want the cluster's key file %s", name, EnvCodecKeyFile, got[EnvCodecKeyFile], file)
		}
		if _, ok := got["ORDERSAGA_CODEC_KEYS"]; ok {
			t.Errorf("%s: has ORDERSAGA_CODEC_KEYS: the ring comes from the key file", name)
		}
	}
	if n < len(workerServices)+3 { // and the audit, the starter, the codec server
		t.Errorf("%d services of the ordersaga image, want the four services, the audit, the starter and the codec server", n)
	}
	got, err := c.ServiceEnv(CodecServer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got["ORDERSAGA_CODEC_TOKEN"] == "" {
		t.Errorf("%s: no ORDERSAGA_CODEC_TOKEN: it refuses to start on every interface without one", CodecServer)
	}
}

// TestMissingSecretFile checks that a caller's .env that names a secret
// file that is not there stops the cluster before it starts anything.
func TestMissingSecretFile(t *testing.T) {
	c := offline(t)
	env, err := TestEnv(c.root)
	if err != nil {
		t.Fatal(err)
	}
	env[EnvCodecKeyFile] = filepath.Join(c.dir, "missing")
	if c.compose, err = loadCompose(c.root, env); err != nil {
		t.Fatal(err)
	}
	if err := c.checkSecretFiles(); err == nil || !strings.Contains(err.Error(), "codec-key add") {
		t.Errorf("checkSecretFiles = %v, want an error that says how to create the key file", err)
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
				"OTEL_EXPORTER_OTLP_ENDPOINT": "",
				"ORDERSAGA_CODEC_KEY_FILE":    filepath.Join(c.root, "e2e-codec-keys")},
			addrs: []string{"ORDERSAGA_METRICS_ADDR"},
		},
		{
			service: "starter",
			want: map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1234", "TEMPORAL_NAMESPACE": "default", "OTEL_EXPORTER_OTLP_ENDPOINT": "",
				"ORDERSAGA_CODEC_KEY_FILE": filepath.Join(c.root, "e2e-codec-keys")},
		},
		{
			service: CodecServer,
			want: map[string]string{"ORDERSAGA_CODEC_KEY_FILE": filepath.Join(c.root, "e2e-codec-keys"),
				"ORDERSAGA_CODEC_TOKEN": "e2e-codec-token"},
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
