package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// invoke runs the worker binary's command line in-process and returns its
// exit code and what it printed.
func invoke(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// wantOneLineError asserts the contract for a failed command: exit 1,
// nothing on stdout, and one line on stderr, "worker: <reason>", whose
// reason contains every one of parts.
func wantOneLineError(t *testing.T, args []string, code int, stdout, stderr string, parts ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("worker %q: exit %d, want 1", args, code)
	}
	if stdout != "" {
		t.Errorf("worker %q printed on stdout:\n%s", args, stdout)
	}
	if !strings.HasPrefix(stderr, "worker: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("worker %q: stderr is not one line \"worker: ...\":\n%s", args, stderr)
	}
	for _, p := range parts {
		if !strings.Contains(stderr, p) {
			t.Errorf("worker %q: stderr %q does not say %q", args, stderr, p)
		}
	}
}

// wantEmptyDir asserts that nothing was created in dir: no store was
// opened.
func wantEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s was created in the data directory", e.Name())
	}
}
