package connect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestOptionsPrecedence checks the order the settings apply in: the config
// file's profile, then the environment, then the flags; and the default
// address when nothing is set.
func TestOptionsPrecedence(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "temporal.toml")
	if err := os.WriteFile(config, []byte(`
[profile.default]
address = "profile.example.com:7233"
namespace = "from-profile"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		env           map[string]string
		args          []string
		wantAddress   string
		wantNamespace string
	}{
		{"nothing set", nil, nil, DefaultAddress, ""},
		{"profile", map[string]string{"TEMPORAL_CONFIG_FILE": config}, nil, "profile.example.com:7233", "from-profile"},
		{"environment over profile", map[string]string{"TEMPORAL_CONFIG_FILE": config, "TEMPORAL_ADDRESS": "env.example.com:7233"},
			nil, "env.example.com:7233", "from-profile"},
		{"flags over environment", map[string]string{"TEMPORAL_CONFIG_FILE": config, "TEMPORAL_ADDRESS": "env.example.com:7233"},
			[]string{"--temporal-address", "flag.example.com:7233", "--namespace", "from-flag"}, "flag.example.com:7233", "from-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"} {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
			t.Setenv("HOME", dir) // no user config file
			t.Setenv("XDG_CONFIG_HOME", dir)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var f Flags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			opts, err := f.Options(nil)
			if err != nil {
				t.Fatal(err)
			}
			if opts.HostPort != tt.wantAddress || opts.Namespace != tt.wantNamespace {
				t.Errorf("address %q, namespace %q; want %q, %q", opts.HostPort, opts.Namespace, tt.wantAddress, tt.wantNamespace)
			}
		})
	}
}

// TestOptionsBadProfile refuses a profile the config file does not have.
func TestOptionsBadProfile(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	f := Flags{Profile: "staging"}
	_, err := f.Options(nil)
	if err == nil || !strings.Contains(err.Error(), "staging") {
		t.Fatalf("err = %v, want a refusal naming profile staging", err)
	}
}
