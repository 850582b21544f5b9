package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptPATH makes a directory of the commands install-test-deps.sh may
// call — ls, and id answering as uid (not root) — plus the given test
// dependencies as stubs, for running the script on a machine that seems to
// lack the others.
func scriptPATH(t *testing.T, uid string, present ...string) string {
	t.Helper()
	dir := t.TempDir()
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ls, filepath.Join(dir, "ls")); err != nil {
		t.Fatal(err)
	}
	stubs := map[string]string{"id": "#!/bin/sh\necho " + uid + "\n"}
	for _, name := range present {
		stubs[name] = "#!/bin/sh\necho " + name + " 1.0\n"
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// `make test` runs scripts/install-test-deps.sh first: silent when the
// tests' dependencies are there, and, for a user who can neither install
// (not root) nor ask sudo, one line that names the command to run.
func TestInstallTestDepsIsQuietOrNamesTheCommand(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repoRoot, "scripts", "install-test-deps.sh")
	run := func(path string) (string, int) {
		cmd := exec.Command(bash, script)
		cmd.Env = []string{"PATH=" + path}
		out, err := cmd.CombinedOutput()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	if out, code := run(scriptPATH(t, "1000", "chromium", "initdb")); code != 0 || out != "" {
		t.Errorf("with everything there: exit %d, output %q; want 0 and nothing", code, out)
	}
	out, code := run(scriptPATH(t, "1000", "initdb"))
	want := "install-test-deps: the tests need chromium: run as root: apt-get update && apt-get install -y chromium\n"
	if code != 1 || out != want {
		t.Errorf("without chromium, not root, no sudo: exit %d, output %q; want 1 and %q", code, out, want)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("the message is not one line: %q", out)
	}
}
