package connect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
)

// cleanEnv clears every variable that changes the connection and points
// the user config directory at an empty one, so a test sees only what it
// sets.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "ORDERSAGA_CODEC_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
}

// options parses args as the commands do and returns the client options.
func options(t *testing.T, args ...string) (client.Options, error) {
	t.Helper()
	var f Flags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Options(nil)
}

func newKeyLine(t *testing.T, id string) string {
	t.Helper()
	k, err := codec.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k.Line()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOptionsCodec checks where the key ring comes from (the flag, then
// ORDERSAGA_CODEC_KEY_FILE, then ORDERSAGA_CODEC_KEYS) and that without one
// the client options are left as they were.
func TestOptionsCodec(t *testing.T) {
	dir := t.TempDir()
	flagFile := writeFile(t, dir, "flag-keys", newKeyLine(t, "from-flag")+"\n")
	envFile := writeFile(t, dir, "env-keys", "# env\n"+newKeyLine(t, "from-env-file")+"\n")
	envKeys := newKeyLine(t, "old") + "," + newKeyLine(t, "from-env")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantKey string // "" means no encryption
	}{
		{"nothing set", nil, nil, ""},
		{"keys in the environment", map[string]string{CodecKeysEnv: envKeys}, nil, "from-env"},
		{"key file in the environment", map[string]string{CodecKeyFileEnv: envFile}, nil, "from-env-file"},
		{"key file over keys", map[string]string{CodecKeyFileEnv: envFile, CodecKeysEnv: envKeys}, nil, "from-env-file"},
		{"flag over environment", map[string]string{CodecKeyFileEnv: envFile, CodecKeysEnv: envKeys},
			[]string{"--codec-key-file", flagFile}, "from-flag"},
		{"blank keys variable", map[string]string{CodecKeysEnv: "  "}, nil, ""},
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
			if tt.wantKey == "" {
				if opts.DataConverter != nil || opts.FailureConverter != nil {
					t.Fatalf("no key configured, yet the converters are set: %v, %v", opts.DataConverter, opts.FailureConverter)
				}
				return
			}
			assertEncrypts(t, opts, tt.wantKey)
		})
	}
}

// assertEncrypts checks that the options' converters encrypt payloads and
// failure messages with the key keyID, and decrypt them again.
func assertEncrypts(t *testing.T, opts client.Options, keyID string) {
	t.Helper()
	const address = "221B Baker Street"
	p, err := opts.DataConverter.ToPayload(address)
	if err != nil {
		t.Fatal(err)
	}
	if enc, key := string(p.Metadata[converter.MetadataEncoding]), string(p.Metadata[codec.MetadataKeyID]); enc != codec.EncodingEncrypted || key != keyID {
		t.Errorf("payload encoding %q with key %q, want %q with %q", enc, key, codec.EncodingEncrypted, keyID)
	}
	if strings.Contains(string(p.Data), address) {
		t.Error("the payload holds the address in clear")
	}
	var back string
	if err := opts.DataConverter.FromPayload(p, &back); err != nil || back != address {
		t.Errorf("decoded %q, %v; want %q", back, err, address)
	}
	f := opts.FailureConverter.ErrorToFailure(errors.New("the carrier does not deliver to " + address))
	if strings.Contains(f.String(), address) {
		t.Errorf("the failure holds the address in clear: %v", f)
	}
	if err := opts.FailureConverter.FailureToError(f); !strings.Contains(err.Error(), address) {
		t.Errorf("the failure decodes to %q, want the original message", err)
	}
}

// TestOptionsCodecErrors checks that bad key material stops the command
// with an error naming where the keys came from.
func TestOptionsCodecErrors(t *testing.T) {
	dir := t.TempDir()
	short := writeFile(t, dir, "short", "k1=c2hvcnQ=\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"missing flag file", nil, []string{"--codec-key-file", filepath.Join(dir, "none")}, []string{"read the codec key file", "none"}},
		{"short key in a file", map[string]string{CodecKeyFileEnv: short}, nil, []string{"codec key file " + short, `key "k1" is 5 bytes`}},
		{"bad keys variable", map[string]string{CodecKeysEnv: "k1=%%%"}, nil, []string{CodecKeysEnv + ": line 1", "not valid base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := options(t, tt.args...)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want one saying %q", err, w)
				}
			}
		})
	}
}
