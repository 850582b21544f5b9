package codec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// roles describes a ring as list shows it: each key's ID, with "*" after
// the one that encrypts and "?" after those marked decrypt-only.
func roles(keys []Key) string {
	enc := EncryptingKeyID(keys)
	var out []string
	for _, k := range keys {
		s := k.ID()
		if k.ID() == enc {
			s += "*"
		}
		if k.DecryptOnly() {
			s += "?"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// readRing reads the key file back as the processes do, and returns its
// roles and its text.
func readRing(t *testing.T, path string) (string, string) {
	t.Helper()
	keys, err := ReadKeys(path)
	if err != nil {
		t.Fatalf("the key file does not read back: %v", err)
	}
	c, err := ReadKeyFile(path)
	if err != nil || c.NewestKeyID() != EncryptingKeyID(keys) {
		t.Fatalf("the codec encrypts with %v (%v), the file says %q", c, err, EncryptingKeyID(keys))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return roles(keys), string(b)
}

func mustKey(t *testing.T, id string) Key {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wantMode checks the file's permission bits.
func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

// wantNoLeftovers checks that an edit left no temporary file behind.
func wantNoLeftovers(t *testing.T, dir string, files ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(files, e.Name()) {
			t.Errorf("%s left in the key file's directory", e.Name())
		}
	}
}

// TestAddKeyToFile runs a rotation's first step on a file: the first add
// creates the file, mode 0600, with an encrypting key; the next adds append
// decrypt-only keys, which change nothing about what encrypts; comments and
// other lines are kept as written.
func TestAddKeyToFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")

	keys, err := AddKeyToFile(path, mustKey(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
	got, text := readRing(t, path)
	if got != "k1*" || roles(keys) != got || !strings.HasPrefix(text, "# ordersaga payload encryption keys") {
		t.Fatalf("after the first add: %s (returned %s):\n%s", got, roles(keys), text)
	}

	// A comment added by hand stays.
	if err := os.WriteFile(path, []byte(text+"# k1 is in the vault too\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"k2", "k3"} {
		if _, err := AddKeyToFile(path, mustKey(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	got, after := readRing(t, path)
	if got != "k1* k2? k3?" {
		t.Errorf("after two more adds: %s, want k1* k2? k3?:\n%s", got, after)
	}
	if !strings.HasPrefix(after, text+"# k1 is in the vault too\nk2=") || !strings.HasSuffix(after, " decrypt-only\n") {
		t.Errorf("the adds did not only append to the file:\n%s", after)
	}
	wantMode(t, path, 0o600)
	wantNoLeftovers(t, dir, "keys")
}

// TestAddKeyToFileRefuses checks that an add that would break the ring, or
// that reads a file it must not, leaves the file as it was.
func TestAddKeyToFileRefuses(t *testing.T) {
	k1 := mustKey(t, "k1")
	tests := []struct {
		name string
		text string
		perm os.FileMode
		add  Key
		want string
	}{
		{"an ID the ring has", k1.Line() + "\n", 0o600, mustKey(t, "k1"), `key ID "k1" appears twice`},
		{"a world-readable file", k1.Line() + "\n", 0o644, mustKey(t, "k2"), "chmod 600"},
		{"a ring that does not read", "k1=short\n", 0o600, mustKey(t, "k2"), `line 1: key "k1"`},
		{"a ring of decrypt-only keys", k1.Line() + " decrypt-only\n", 0o600, mustKey(t, "k2"), "every key is marked decrypt-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeKeyFile(t, dir, "keys", tt.text, tt.perm)
			_, err := AddKeyToFile(path, tt.add)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line saying %q", err, tt.want)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.text {
				t.Errorf("the refused add changed the file:\n%s", b)
			}
			wantNoLeftovers(t, dir, "keys")
		})
	}
}

// TestPromoteKeyInFile runs a rotation's second step on rings as people
// write them: the promoted key encrypts, the keys after it that did not
// carry the mark get it, the others keep theirs, and every key stays.
func TestPromoteKeyInFile(t *testing.T) {
	line := func(id string) string { return mustKey(t, id).Line() }
	tests := []struct {
		name        string
		text        string
		promote     string
		want        string
		wantChanged bool
	}{
		{"the added key", line("k1") + "\n" + line("k2") + " decrypt-only\n", "k2", "k1 k2*", true},
		{"the last key by default", line("k1") + "\n" + line("k2") + " decrypt-only\n", "", "k1 k2*", true},
		{"a key before the last", line("k1") + "\n" + line("k2") + " decrypt-only\n" + line("k3") + " decrypt-only\n", "k2", "k1 k2* k3?", true},
		{"back to an older key", line("k1") + "\n" + line("k2") + "\n", "k1", "k1* k2?", true},
		{"a marked older key", line("k1") + " decrypt-only\n" + line("k2") + "\n", "k1", "k1* k2?", true},
		{"keys on one line", "# env style\n" + line("k1") + ", " + line("k2") + " decrypt-only\n", "k2", "k1 k2*", true},
		{"the key that encrypts", line("k1") + "\n" + line("k2") + " decrypt-only\n", "k1", "k1* k2?", false},
		{"the last key of a ring without marks", line("k1") + "\n" + line("k2") + "\n", "", "k1 k2*", false},
		{"a ring of decrypt-only keys", line("k1") + " decrypt-only\n", "k1", "k1*", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeKeyFile(t, dir, "keys", tt.text, 0o640)
			before, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			keys, changed, err := PromoteKeyInFile(path, tt.promote)
			if err != nil {
				t.Fatal(err)
			}
			got, text := readRing(t, path)
			if got != tt.want || roles(keys) != got || changed != tt.wantChanged {
				t.Errorf("ring %s (returned %s), changed %v; want %s, %v:\n%s", got, roles(keys), changed, tt.want, tt.wantChanged, text)
			}
			if after, _ := os.Stat(path); !changed && !os.SameFile(before, after) {
				t.Errorf("a promotion that changed nothing rewrote the file")
			}
			if strings.HasPrefix(tt.text, "#") && !strings.HasPrefix(text, "# env style\n") {
				t.Errorf("the comment was lost:\n%s", text)
			}
			wantMode(t, path, 0o640) // the group keeps reading it
			wantNoLeftovers(t, dir, "keys")
		})
	}
}

// TestPromoteKeyInFileErrors checks that a promotion that cannot be made
// says why in one line, without quoting what may be key material, and
// leaves the file as it was.
func TestPromoteKeyInFileErrors(t *testing.T) {
	dir := t.TempDir()
	ring := mustKey(t, "k1").Line() + "\n"
	path := writeKeyFile(t, dir, "keys", ring, 0o600)
	empty := writeKeyFile(t, dir, "empty", "# no keys yet\n", 0o600)
	secret := strings.TrimRight(b64(32, 7), "=")
	tests := []struct {
		name, path, id, want string
	}{
		{"an unknown ID", path, "k9", "has no key with that ID: 'worker codec-key list' shows its keys"},
		{"a key instead of an ID", path, secret, "has no key with that ID"},
		{"a padded key instead of an ID", path, b64(32, 7), "bad key ID"},
		{"a file without keys", empty, "", "holds no key: add one with 'worker codec-key add'"},
		{"a missing file", filepath.Join(dir, "none"), "k1", "read the codec key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := PromoteKeyInFile(tt.path, tt.id)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret[:16]) {
				t.Errorf("error %q quotes key material", err)
			}
		})
	}
	if b, _ := os.ReadFile(path); string(b) != ring {
		t.Errorf("a refused promotion changed the file:\n%s", b)
	}
	wantNoLeftovers(t, dir, "keys", "empty")
}

// TestKeyFileEditsThroughSymlink edits a key file reached through a
// symlink, as mounted secrets and shared configuration are: the target is
// edited, the symlink stays a symlink.
func TestKeyFileEditsThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := writeKeyFile(t, dir, "keys-2026", mustKey(t, "k1").Line()+"\n", 0o600)
	link := filepath.Join(dir, "keys")
	if err := os.Symlink("keys-2026", link); err != nil {
		t.Fatal(err)
	}
	if _, err := AddKeyToFile(link, mustKey(t, "k2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PromoteKeyInFile(link, "k2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := readRing(t, target); got != "k1 k2*" {
		t.Errorf("target ring %s, want k1 k2*", got)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the edit replaced the symlink: %v, %v", info, err)
	}
	wantNoLeftovers(t, dir, "keys", "keys-2026")

	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("gone", dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := AddKeyToFile(dangling, mustKey(t, "k3")); err == nil || !strings.Contains(err.Error(), "symlink to a missing file") {
		t.Errorf("add through a dangling symlink: err = %v", err)
	}
}

// TestKeyFileEditKeepsOwner edits, as root, a key file that belongs to the
// service's user: the file keeps its owner and group, so the service can
// still read it when it restarts.
func TestKeyFileEditKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file to another user")
	}
	dir := t.TempDir()
	path := writeKeyFile(t, dir, "keys", mustKey(t, "k1").Line()+"\n", 0o600)
	const uid, gid = 4242, 4343
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if _, err := AddKeyToFile(path, mustKey(t, "k2")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
		t.Errorf("owner %d:%d after the edit, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

// TestKeyFileEditsAreAtomic reads the key file over and over while it is
// edited: every read finds a whole ring, never an empty or half-written
// file, because an edit is renamed into place.
func TestKeyFileEditsAreAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if _, err := AddKeyToFile(path, mustKey(t, "k0")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := ReadKeyFile(path); err != nil {
				readErr = err
				return
			}
		}
	})
	var id string
	for i := range 40 {
		id = fmt.Sprintf("k%03d", i)
		if _, err := AddKeyToFile(path, mustKey(t, id)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := PromoteKeyInFile(path, id); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("a read during the edits failed: %v", readErr)
	}
	if c, err := ReadKeyFile(path); err != nil || len(c.KeyIDs()) != 41 || c.NewestKeyID() != id {
		t.Errorf("after the edits: %v, %v", c, err)
	}
	wantNoLeftovers(t, dir, "keys")
}
