package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
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

// clearKeyEnv makes the test see only the key ring it sets.
func clearKeyEnv(t *testing.T) {
	t.Helper()
	t.Setenv(connect.CodecKeyFileEnv, "")
	t.Setenv(connect.CodecKeysEnv, "")
}

// TestCodecKeyDecryptOnly checks that --decrypt-only prints a line that,
// appended to a ring on one line as ORDERSAGA_CODEC_KEYS holds it, adds a
// key that decrypts and does not encrypt.
func TestCodecKeyDecryptOnly(t *testing.T) {
	_, old, _ := invoke(t, "codec-key", "--id", "old")
	code, added, stderr := invoke(t, "codec-key", "--id", "new", "--decrypt-only")
	if code != 0 || stderr != "" || !strings.HasPrefix(added, "new=") || !strings.HasSuffix(added, " decrypt-only\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want one line new=... decrypt-only", code, added, stderr)
	}
	c, err := codec.Parse(connect.CodecKeysEnv, strings.TrimSpace(old)+","+added)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.KeyIDs(), " "); got != "old new" || c.NewestKeyID() != "old" {
		t.Errorf("ring %s encrypting with %s, want old new encrypting with old", got, c.NewestKeyID())
	}
}

// keyRoles runs `codec-key list -o json` and returns "id:role ..." and the
// command's output, which must not hold a key.
func keyRoles(t *testing.T, args ...string) (roles string, stdout string) {
	t.Helper()
	code, stdout, stderr := invoke(t, append([]string{"codec-key", "list", "-o", "json"}, args...)...)
	if code != 0 || stderr != "" {
		t.Fatalf("list: exit %d, stderr %q", code, stderr)
	}
	var keys []keyRole
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("list -o json printed %q: %v", stdout, err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, k.ID+":"+k.Role)
	}
	return strings.Join(out, " "), stdout
}

// wantNoSecrets checks that output holds none of the ring's keys.
func wantNoSecrets(t *testing.T, path, output string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		_, secret, _ := strings.Cut(line, "=")
		if strings.Contains(output, secret[:20]) {
			t.Errorf("output shows a key:\n%s", output)
		}
	}
}

// TestCodecKeyRotation runs the rotation as an operator does, on the file
// the processes read: add creates it (mode 0600) with the encrypting key,
// add appends a decrypt-only key and says what to do next, promote makes
// it the encrypting key, list shows which key does what and no key.
func TestCodecKeyRotation(t *testing.T) {
	clearKeyEnv(t)
	path := filepath.Join(t.TempDir(), "keys")
	flag := []string{"--codec-key-file", path}

	code, stdout, stderr := invoke(t, append([]string{"codec-key", "add", "--id", "k1"}, flag...)...)
	if code != 0 || stderr != "" || !strings.Contains(stdout, "key k1 added to "+path+"; it encrypts") {
		t.Fatalf("first add: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the created key file: %v, %v; want mode 0600", info, err)
	}

	t.Setenv(connect.CodecKeyFileEnv, path) // the file, named as the processes name it
	code, stdout, stderr = invoke(t, "codec-key", "add", "--id", "k2")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "key k2 added to "+path+" as decrypt-only") ||
		!strings.Contains(stdout, "restart every worker, starter and codec server") || !strings.Contains(stdout, "'worker codec-key promote k2'") {
		t.Fatalf("second add: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if roles, out := keyRoles(t); roles != "k1:encrypts k2:decrypt-only" {
		t.Errorf("after add: %s, want k1:encrypts k2:decrypt-only", roles)
	} else {
		wantNoSecrets(t, path, out)
	}
	if c, err := codec.ReadKeyFile(path); err != nil || c.NewestKeyID() != "k1" {
		t.Errorf("after add the processes would encrypt with %v (%v), want k1", c, err)
	}

	code, stdout, stderr = invoke(t, "codec-key", "promote", "k2")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "key k2 now encrypts in "+path) || !strings.Contains(stdout, "restart every worker") {
		t.Fatalf("promote: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if roles, _ := keyRoles(t); roles != "k1:decrypts k2:encrypts" {
		t.Errorf("after promote: %s, want k1:decrypts k2:encrypts", roles)
	}
	before, _ := os.ReadFile(path)
	code, stdout, _ = invoke(t, "codec-key", "promote")
	if after, _ := os.ReadFile(path); code != 0 || !strings.Contains(stdout, "key k2 encrypts already") || string(after) != string(before) {
		t.Errorf("promote again: exit %d, stdout %q; the file went from\n%s\nto\n%s", code, stdout, before, after)
	}

	code, stdout, _ = invoke(t, "codec-key", "list")
	want := "ID  ROLE\nk1  decrypts\nk2  encrypts\n"
	if code != 0 || stdout != want {
		t.Errorf("list: exit %d, printed\n%s\nwant\n%s", code, stdout, want)
	}
	wantNoSecrets(t, path, stdout)
}

// TestCodecKeyListFromEnvironment lists a ring held in
// ORDERSAGA_CODEC_KEYS, marks included, when no key file is set.
func TestCodecKeyListFromEnvironment(t *testing.T) {
	clearKeyEnv(t)
	_, k1, _ := invoke(t, "codec-key", "--id", "k1")
	_, k2, _ := invoke(t, "codec-key", "--id", "k2", "--decrypt-only")
	t.Setenv(connect.CodecKeysEnv, strings.TrimSpace(k1)+","+strings.TrimSpace(k2))
	if roles, _ := keyRoles(t); roles != "k1:encrypts k2:decrypt-only" {
		t.Errorf("list: %s, want k1:encrypts k2:decrypt-only", roles)
	}
}

// TestCodecKeyRotationErrors checks the refusals: one line that says what
// to do, and the key file left as it was.
func TestCodecKeyRotationErrors(t *testing.T) {
	clearKeyEnv(t)
	dir := t.TempDir()
	_, line, _ := invoke(t, "codec-key", "--id", "k1")
	private := filepath.Join(dir, "keys")
	open := filepath.Join(dir, "open-keys")
	for path, perm := range map[string]os.FileMode{private: 0o600, open: 0o644} {
		if err := os.WriteFile(path, []byte(line), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"add without a key file", []string{"codec-key", "add"}, []string{"no key file to edit", "--codec-key-file", connect.CodecKeyFileEnv}},
		{"promote without a key file", []string{"codec-key", "promote", "k1"}, []string{"no key file to edit"}},
		{"list without a ring", []string{"codec-key", "list"}, []string{"no key ring", connect.CodecKeysEnv}},
		{"add an ID the ring has", []string{"codec-key", "add", "--id", "k1", "--codec-key-file", private}, []string{`key ID "k1" appears twice`}},
		{"add a bad ID", []string{"codec-key", "add", "--id", "my key", "--codec-key-file", private}, []string{"bad key ID"}},
		{"promote an unknown key", []string{"codec-key", "promote", "k9", "--codec-key-file", private}, []string{"has no key with that ID", "worker codec-key list"}},
		{"promote two keys", []string{"codec-key", "promote", "k1", "k2", "--codec-key-file", private}, []string{"accepts at most 1 arg"}},
		{"list a world-readable file", []string{"codec-key", "list", "--codec-key-file", open}, []string{"chmod 600 " + open}},
		{"add to a world-readable file", []string{"codec-key", "add", "--codec-key-file", open}, []string{"chmod 600 " + open}},
		{"list as yaml", []string{"codec-key", "list", "-o", "yaml", "--codec-key-file", private}, []string{"--output"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, tt.args...)
			wantOneLineError(t, tt.args, code, stdout, stderr, tt.want...)
		})
	}
	for _, path := range []string{private, open} {
		if b, _ := os.ReadFile(path); string(b) != line {
			t.Errorf("a refused command changed %s:\n%s", path, b)
		}
	}
}
