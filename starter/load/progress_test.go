package load

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name                     string
		total, ok, bad, inFlight int
		elapsed                  time.Duration
		want                     string
	}{
		{"start", 100, 0, 0, 5, 0, "0/100 done (0 not as asked), 5 in flight, 0.0/s, ETA -"},
		{"midway", 100, 40, 10, 5, 10 * time.Second, "50/100 done (10 not as asked), 5 in flight, 5.0/s, ETA 10s"},
		{"done", 10, 10, 0, 0, 2 * time.Second, "10/10 done (0 not as asked), 0 in flight, 5.0/s, ETA -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := progressLine(tt.total, tt.ok, tt.bad, tt.inFlight, tt.elapsed); got != tt.want {
				t.Errorf("progressLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// Only a real terminal gets the updating progress line: /dev/null is a
// character device but no terminal, and neither is a file, a pipe or a
// buffer.
func TestIsTerminalWantsARealTerminal(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]interface{ Write([]byte) (int, error) }{
		"/dev/null": devNull, "a file": file, "a pipe": w, "a buffer": &bytes.Buffer{},
	} {
		if isTerminal(out) {
			t.Errorf("isTerminal(%s) = true, want false", name)
		}
	}
}
