package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// TestRequireEncryptionFollowsTheKeyRing: unset, --require-encryption is
// on exactly when the worker has keys; the flag, then the environment,
// override that; asking for it without keys, or a value that is not a
// bool, is refused with what to do.
func TestRequireEncryptionFollowsTheKeyRing(t *testing.T) {
	tests := []struct {
		name     string
		env      string // ORDERSAGA_REQUIRE_ENCRYPTION
		args     []string
		haveKeys bool
		want     bool
		wantErr  []string // the error says each; nil means no error
	}{
		{name: "keys", haveKeys: true, want: true},
		{name: "no keys", haveKeys: false, want: false},
		{name: "keys, turned off", args: []string{"--require-encryption=false"}, haveKeys: true, want: false},
		{name: "keys, asked for", args: []string{"--require-encryption"}, haveKeys: true, want: true},
		{name: "no keys, turned off", args: []string{"--require-encryption=false"}, haveKeys: false, want: false},
		{name: "keys, off in the environment", env: "false", haveKeys: true, want: false},
		{name: "flag over environment", env: "false", args: []string{"--require-encryption"}, haveKeys: true, want: true},
		{name: "no keys, asked for", args: []string{"--require-encryption"},
			wantErr: []string{"--require-encryption=true needs the workers' key ring", "--codec-key-file", connect.CodecKeyFileEnv, connect.CodecKeysEnv}},
		{name: "no keys, asked for in the environment", env: "1",
			wantErr: []string{RequireEncryptionEnv + "=1 needs the workers' key ring", connect.CodecKeysEnv}},
		{name: "malformed environment", env: "maybe", haveKeys: true,
			wantErr: []string{RequireEncryptionEnv + `="maybe"`, "use true or false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireEncryptionEnv, tt.env)
			var r encryptionRequirement
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			r.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := r.resolve(tt.haveKeys)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("resolve = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("resolve = %v, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestRequireEncryptionFlagRefusesNonBools: the flag takes true or false.
func TestRequireEncryptionFlagRefusesNonBools(t *testing.T) {
	t.Setenv(RequireEncryptionEnv, "")
	var r encryptionRequirement
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	r.register(fs)
	err := fs.Parse([]string{"--require-encryption=maybe"})
	if err == nil || !strings.Contains(err.Error(), "use true or false") {
		t.Errorf("parse --require-encryption=maybe: %v, want an error saying to use true or false", err)
	}
}

// TestRunRequiringEncryptionWithoutKeys: `worker run --require-encryption`
// without a key ring stops at once, with one line, before it opens a store
// or dials Temporal; with keys in the environment, the same setting in
// ORDERSAGA_REQUIRE_ENCRYPTION gets past the check (and fails later, on the
// address, which nothing serves).
func TestRunRequiringEncryptionWithoutKeys(t *testing.T) {
	key, err := codec.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"flag", nil, []string{"--require-encryption"}, []string{"--require-encryption=true needs the workers' key ring"}},
		{"environment", map[string]string{RequireEncryptionEnv: "true"}, nil, []string{RequireEncryptionEnv + "=true needs the workers' key ring"}},
		{"keys given", map[string]string{RequireEncryptionEnv: "true", connect.CodecKeysEnv: key.Line()}, nil, []string{"connect to Temporal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{RequireEncryptionEnv, connect.CodecKeysEnv, connect.CodecKeyFileEnv} {
				t.Setenv(name, "")
			}
			t.Setenv("TEMPORAL_ADDRESS", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"run", "--data-dir", dir, "--temporal-address", "127.0.0.1:1"}, tt.args...)
			code, stdout, stderr := invoke(t, args...)
			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
		})
	}
}
