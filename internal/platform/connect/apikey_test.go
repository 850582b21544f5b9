package connect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
)

// apiKeyOf returns the key that the client options authenticate with, ""
// for none. The SDK's static API key credentials are a function that
// returns the key: calling it is the only way to read the key back.
func apiKeyOf(t *testing.T, opts client.Options) string {
	t.Helper()
	if opts.Credentials == nil {
		return ""
	}
	fn := reflect.ValueOf(opts.Credentials)
	if fn.Kind() != reflect.Func {
		t.Fatalf("credentials %T are not the SDK's API key function", opts.Credentials)
	}
	out := fn.Call([]reflect.Value{reflect.ValueOf(context.Background())})
	if err, _ := out[1].Interface().(error); err != nil {
		t.Fatal(err)
	}
	return out[0].String()
}

// secretFile writes text in dir/name with exactly mode perm, whatever the
// umask.
func secretFile(t *testing.T, dir, name, text string, perm os.FileMode) string {
	t.Helper()
	path := writeFile(t, dir, name, text)
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAPIKeySources checks where the API key comes from: the profile, then
// TEMPORAL_API_KEY, then --api-key-file, the file read trimmed; and that
// the key turns TLS on.
func TestAPIKeySources(t *testing.T) {
	dir := t.TempDir()
	config := writeFile(t, dir, "temporal.toml", `
[profile.default]
address = "eu-west-1.aws.api.temporal.io:7233"
api_key = "key-from-profile"
`)
	keyFile := secretFile(t, dir, "api-key", "  key-from-file\n", 0o600)
	ownerOnly := secretFile(t, dir, "api-key-400", "key-read-only", 0o400)
	groupReadable := secretFile(t, dir, "api-key-640", "key-of-the-group", 0o640)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"none", nil, nil, ""},
		{"profile", map[string]string{"TEMPORAL_CONFIG_FILE": config}, nil, "key-from-profile"},
		{"environment over profile", map[string]string{"TEMPORAL_CONFIG_FILE": config, "TEMPORAL_API_KEY": "key-from-env"}, nil, "key-from-env"},
		{"file over environment", map[string]string{"TEMPORAL_CONFIG_FILE": config, "TEMPORAL_API_KEY": "key-from-env"},
			[]string{"--api-key-file", keyFile}, "key-from-file"},
		{"file without profile", nil, []string{"--api-key-file", keyFile}, "key-from-file"},
		{"read-only file", nil, []string{"--api-key-file", ownerOnly}, "key-read-only"},
		{"file the group may read", nil, []string{"--api-key-file", groupReadable}, "key-of-the-group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts, err := options(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := apiKeyOf(t, opts); got != tt.want {
				t.Errorf("API key %q, want %q", got, tt.want)
			}
			if tls := opts.ConnectionOptions.TLS != nil; tls != (tt.want != "") {
				t.Errorf("TLS on: %v, want %v with API key %q", tls, tt.want != "", tt.want)
			}
		})
	}
}

// TestAPIKeyRefusals checks the API key settings that Options refuses, each
// with one line that says what to do, and never the key itself.
func TestAPIKeyRefusals(t *testing.T) {
	dir := t.TempDir()
	const secret = "sk-hunter2"
	worldReadable := secretFile(t, dir, "world-readable", secret, 0o644)
	worldWritable := secretFile(t, dir, "world-writable", secret, 0o602)
	empty := secretFile(t, dir, "empty", " \n\t\n", 0o600)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"key in a flag", []string{"--api-key", secret}, []string{"--api-key", "process list", "TEMPORAL_API_KEY", "--api-key-file"}},
		{"key in a flag, with =", []string{"--api-key=" + secret}, []string{"TEMPORAL_API_KEY", "--api-key-file"}},
		{"key in a flag next to a key file", []string{"--api-key-file", worldReadable, "--api-key", secret}, []string{"TEMPORAL_API_KEY"}},
		{"file others may read", []string{"--api-key-file", worldReadable}, []string{worldReadable, "mode 0644", "chmod 600 " + worldReadable}},
		{"file others may write", []string{"--api-key-file", worldWritable}, []string{"mode 0602", "chmod 600 " + worldWritable}},
		{"empty file", []string{"--api-key-file", empty}, []string{"--api-key-file", empty, "is empty"}},
		{"missing file", []string{"--api-key-file", filepath.Join(dir, "none")}, []string{"read --api-key-file", "no such file"}},
		{"directory", []string{"--api-key-file", dir}, []string{"--api-key-file", dir, "is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			_, err := options(t, tt.args...)
			if err == nil {
				t.Fatalf("%q accepted, want a refusal", tt.args)
			}
			msg := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line free of the key", msg)
			}
		})
	}
}

// TestAPIKeyFlagHidden: the help shows --api-key-file, not --api-key, which
// stays only to be refused with our own message.
func TestAPIKeyFlagHidden(t *testing.T) {
	var f Flags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.Register(fs)
	usage := fs.FlagUsages()
	if !strings.Contains(usage, "--api-key-file") {
		t.Errorf("the help does not show --api-key-file:\n%s", usage)
	}
	if strings.Contains(usage, "--api-key ") {
		t.Errorf("the help shows --api-key:\n%s", usage)
	}
}

// TestAPIKeyFromPipe: --api-key-file reads a pipe, as the shell's
// --api-key-file <(secret-tool lookup temporal api-key) gives one.
func TestAPIKeyFromPipe(t *testing.T) {
	cleanEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := fmt.Sprintf("/proc/self/fd/%d", r.Fd())
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s to name the pipe by: %v", path, err)
	}
	if _, err := w.WriteString("key-from-pipe\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	opts, err := options(t, "--api-key-file", path)
	if err != nil {
		t.Fatal(err)
	}
	if got := apiKeyOf(t, opts); got != "key-from-pipe" {
		t.Errorf("API key %q, want key-from-pipe", got)
	}
}
