package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

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
