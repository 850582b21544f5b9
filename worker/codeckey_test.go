package main

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/codec"
)

// TestCodecKey checks that `worker codec-key` prints one key file line that
// reads back as a key ring, with a generated or a chosen ID, and refuses a
// bad ID in one line.
func TestCodecKey(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantPrefix string
		wantErr    string
	}{
		{"generated ID", []string{"codec-key"}, "k-", ""},
		{"chosen ID", []string{"codec-key", "--id", "2026-q1"}, "2026-q1=", ""},
		{"bad ID", []string{"codec-key", "--id", "my key"}, "", "bad key ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, tt.args...)
			if tt.wantErr != "" {
				wantOneLineError(t, tt.args, code, stdout, stderr, tt.wantErr)
				return
			}
			if code != 0 || stderr != "" || strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, tt.wantPrefix) {
				t.Fatalf("exit %d, stdout %q, stderr %q: want one line starting %q", code, stdout, stderr, tt.wantPrefix)
			}
			c, err := codec.Parse("output", stdout)
			if err != nil {
				t.Fatalf("the printed key does not read back: %v", err)
			}
			if id, _, _ := strings.Cut(stdout, "="); c.NewestKeyID() != id {
				t.Errorf("key ring has %q, want %q", c.NewestKeyID(), id)
			}
		})
	}
}

// TestCodecKeyIsRandom checks that two runs print two different keys.
func TestCodecKeyIsRandom(t *testing.T) {
	_, a, _ := invoke(t, "codec-key", "--id", "same")
	_, b, _ := invoke(t, "codec-key", "--id", "same")
	if a == b {
		t.Fatalf("two runs printed the same key %q", a)
	}
}
