package codec

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
)

// b64 is the standard base64 of n bytes of value b.
func b64(n int, b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), n)))
}

// TestParse checks the key ring format: entries by line or by comma,
// comments and blank lines skipped, the last entry the newest.
func TestParse(t *testing.T) {
	k1, k2, k3 := "k1="+b64(32, 1), "k2="+b64(32, 2), "k3="+b64(32, 3)
	tests := []struct {
		name       string
		text       string
		wantIDs    []string
		wantNewest string
	}{
		{"one key", k1, []string{"k1"}, "k1"},
		{"a file with comments", "# made 2026-01-15\n\n" + k1 + "\n  # rotated\n" + k2 + "\n", []string{"k1", "k2"}, "k2"},
		{"commas", k1 + "," + k2 + ", " + k3, []string{"k1", "k2", "k3"}, "k3"},
		{"commas and newlines, trailing comma", k1 + ",\n" + k2 + ",", []string{"k1", "k2"}, "k2"},
		{"CRLF and spaces around", " " + k2 + " \r\n" + k1 + "\r\n", []string{"k2", "k1"}, "k1"},
		{"a new key decrypt-only, last", k1 + "\n" + k2 + " decrypt-only\n", []string{"k1", "k2"}, "k1"},
		{"decrypt-only on one line", k1 + "," + k2 + " decrypt-only", []string{"k1", "k2"}, "k1"},
		{"two decrypt-only after the encrypting key", k1 + "," + k2 + " decrypt-only," + k3 + "\tdecrypt-only ", []string{"k1", "k2", "k3"}, "k1"},
		{"an older key marked, the last encrypts", k1 + " decrypt-only\n" + k2 + "\n", []string{"k1", "k2"}, "k2"},
		{"the encrypting key between two marked", k1 + " decrypt-only, " + k2 + ", " + k3 + " decrypt-only", []string{"k1", "k2", "k3"}, "k2"},
		{"CRLF after the mark", k1 + "\r\n" + k2 + " decrypt-only\r\n", []string{"k1", "k2"}, "k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.KeyIDs(), tt.wantIDs) || c.NewestKeyID() != tt.wantNewest {
				t.Errorf("keys %q, newest %q; want %q, %q", c.KeyIDs(), c.NewestKeyID(), tt.wantIDs, tt.wantNewest)
			}
		})
	}
}

// TestParseErrors checks that bad key material is refused in one line that
// says where, what is wrong and what to do, and never quotes the secret.
func TestParseErrors(t *testing.T) {
	good := "k1=" + b64(32, 1)
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"short key", good + "\nk2=" + b64(16, 2), []string{"ORDERSAGA_CODEC_KEYS: line 2", `key "k2" is 16 bytes, want 32`, "worker codec-key"}},
		{"long key", "k2=" + b64(48, 2), []string{"line 1", `key "k2" is 48 bytes`}},
		{"bad base64", "k2=not*base64", []string{`key "k2" is not valid base64`, "worker codec-key"}},
		{"unpadded base64", "k2=" + strings.TrimRight(b64(32, 2), "="), []string{`key "k2" is not valid base64`}},
		{"duplicate IDs", good + "," + good, []string{`key ID "k1" appears twice`}},
		{"empty ID", "=" + b64(32, 2), []string{"line 1", "empty key ID"}},
		{"ID with a space", "my key=" + b64(32, 2), []string{"line 1", "bad key ID"}},
		{"no ID", good + "\n" + b64(32, 2), []string{"line 2", "an entry that is not id=base64key"}},
		{"no ID, unpadded", good + "\n" + strings.TrimRight(b64(32, 2), "="), []string{"line 2", "an entry that is not id=base64key"}},
		{"no key", "k2=", []string{"line 1", "an entry that is not id=base64key"}},
		{"base64 of a key with '+' and '/' as its ID", "+/" + b64(30, 2) + "=" + b64(32, 3), []string{"line 1", "bad key ID"}},
		{"every key decrypt-only", good + " decrypt-only\nk2=" + b64(32, 2) + " decrypt-only", []string{"every key is marked decrypt-only", "worker codec-key promote"}},
		{"one key, decrypt-only", good + " decrypt-only", []string{"every key is marked decrypt-only"}},
		{"a misspelt mark", good + ",k2=" + b64(32, 2) + " decrypt", []string{"line 1", `key "k2" has unexpected text after it`, "id=base64key decrypt-only"}},
		{"the mark twice", good + "\nk2=" + b64(32, 2) + " decrypt-only decrypt-only", []string{"line 2", `key "k2" has unexpected text after it`}},
		{"a key split by a space", "k2=" + b64(30, 2)[:20] + " " + b64(30, 2)[20:], []string{`key "k2" has unexpected text after it`}},
		{"the mark instead of the key", "k2= decrypt-only", []string{"an entry that is not id=base64key"}},
		{"the mark on a bare key with double padding", good + "\n" + b64(16, 2) + " decrypt-only", []string{"line 2", "an entry that is not id=base64key"}},
		{"the mark glued to the key", "k2=" + b64(32, 2) + "decrypt-only", []string{`key "k2" is not valid base64`}},
		{"the mark on a bare key", good + "\n" + b64(32, 2) + " decrypt-only", []string{"line 2", "an entry that is not id=base64key"}},
		{"no keys", "# nothing yet\n\n", []string{"no encryption keys", "worker codec-key"}},
		{"empty", "", []string{"no encryption keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ORDERSAGA_CODEC_KEYS", tt.text)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "ORDERSAGA_CODEC_KEYS: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line naming its source", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, secret := range []string{b64(32, 1), b64(32, 2), b64(16, 2), b64(30, 2), b64(32, 3), b64(30, 2)[:20], b64(30, 2)[20:]} {
				if strings.Contains(msg, strings.TrimRight(secret, "=")) {
					t.Errorf("error %q quotes key material", msg)
				}
			}
		})
	}
}

// TestReadKeyFile reads a ring from a file, and names the file when it
// cannot.
func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := writeKeyFile(t, dir, "keys", "# ordersaga\nk1="+b64(32, 1)+"\nk2="+b64(32, 2)+"\n", 0o600)
	marked := writeKeyFile(t, dir, "marked", "k1="+b64(32, 1)+"\nk2="+b64(32, 2)+" decrypt-only\n", 0o600)
	bad := writeKeyFile(t, dir, "bad", "k1=short\n", 0o600)
	tests := []struct {
		name       string
		path       string
		wantNewest string
		wantErr    []string
	}{
		{"good", good, "k2", nil},
		{"the new key decrypt-only", marked, "k1", nil},
		{"missing", filepath.Join(dir, "none"), "", []string{"read the codec key file", "none"}},
		{"bad key", bad, "", []string{"codec key file " + bad + ": line 1", `key "k1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ReadKeyFile(tt.path)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.NewestKeyID() != tt.wantNewest {
					t.Errorf("newest %q, want %q", c.NewestKeyID(), tt.wantNewest)
				}
				return
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want one saying %q", err, w)
				}
			}
		})
	}
}

// TestReadKeyFilePermissions checks that a key file other users can read
// or write is refused in one line that names the fix, as ssh refuses such
// a private key, while the owner's and the group's access is allowed; a
// symlink is judged by its target, so a private link to an open file is
// refused and a link to a private file is not.
func TestReadKeyFilePermissions(t *testing.T) {
	ring := "k1=" + b64(32, 1) + "\n"
	tests := []struct {
		name    string
		mode    os.FileMode
		symlink bool
		refused bool
	}{
		{"owner only", 0o600, false, false},
		{"owner read-only", 0o400, false, false},
		{"group may read (Kubernetes fsGroup)", 0o440, false, false},
		{"group may read and write", 0o660, false, false},
		{"world-readable", 0o644, false, true},
		{"world-writable", 0o602, false, true},
		{"others may execute", 0o601, false, true},
		{"open to all", 0o666, false, true},
		{"symlink to a private file", 0o600, true, false},
		{"symlink to a world-readable file", 0o644, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			target := writeKeyFile(t, dir, "keys", ring, tt.mode)
			path := target
			if tt.symlink {
				path = filepath.Join(dir, "link")
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadKeyFile(path)
			_, kerr := ReadKeys(path)
			if !tt.refused {
				if err != nil || kerr != nil {
					t.Fatalf("mode %04o refused: %v; %v", tt.mode, err, kerr)
				}
				return
			}
			for _, err := range []error{err, kerr} {
				if err == nil {
					t.Fatalf("mode %04o accepted", tt.mode)
				}
				msg := err.Error()
				want := fmt.Sprintf("codec key file %s is open to other users (mode %04o): run chmod 600 %s", path, tt.mode, path)
				if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line saying %q", msg, want)
				}
			}
		})
	}
}

// writeKeyFile writes a key file with mode perm (whatever the umask) and
// returns its path.
func writeKeyFile(t *testing.T, dir, name, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeyLine checks that a key marked decrypt-only writes itself so and
// reads back so, and that its mark does not change the key.
func TestKeyLine(t *testing.T) {
	old, err := NewKey("old")
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey("new")
	if err != nil {
		t.Fatal(err)
	}
	marked := k.WithDecryptOnly(true)
	if !marked.DecryptOnly() || k.DecryptOnly() || marked.Line() != k.Line()+" decrypt-only" {
		t.Fatalf("marked %q (%v), unmarked %q (%v)", marked.Line(), marked.DecryptOnly(), k.Line(), k.DecryptOnly())
	}
	keys, err := ParseKeys("test", old.Line()+"\n"+marked.Line())
	if err != nil {
		t.Fatal(err)
	}
	if !keys[1].DecryptOnly() || keys[0].DecryptOnly() || EncryptingKeyID(keys) != "old" {
		t.Errorf("read back: %v decrypt-only %v, %v decrypt-only %v, encrypting %q",
			keys[0], keys[0].DecryptOnly(), keys[1], keys[1].DecryptOnly(), EncryptingKeyID(keys))
	}
	// What the marked key will encrypt, a ring holding it decrypts.
	p := mustPayload(t, "tok_visa")
	ring := mustNew(t, old, marked)
	if ring.NewestKeyID() != "old" {
		t.Errorf("a ring with the new key decrypt-only encrypts with %q, want old", ring.NewestKeyID())
	}
	dec, err := ring.Decode([]*commonpb.Payload{encodeOne(t, mustNew(t, old, k), p)})
	if err != nil || !dec[0].Equal(p) {
		t.Errorf("a ring with the key decrypt-only does not decrypt what the key encrypts: %v", err)
	}
}

// TestNewKey checks that a generated key reads back from its line, that
// generated IDs carry the day and differ, and that a bad ID is refused.
func TestNewKey(t *testing.T) {
	a, err := NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == b.ID() || a.Line() == b.Line() {
		t.Errorf("two generated keys are alike: %s, %s", a, b)
	}
	today := time.Now().UTC().Format("20060102")
	if !regexp.MustCompile(`^k-` + today + `-[0-9a-f]{6}$`).MatchString(a.ID()) {
		t.Errorf("generated ID %q, want k-%s-<6 hex digits>", a.ID(), today)
	}
	c, err := Parse("line", a.Line())
	if err != nil {
		t.Fatal(err)
	}
	p := mustPayload(t, "tok_visa")
	dec, err := c.Decode([]*commonpb.Payload{encodeOne(t, mustNew(t, a), p)})
	if err != nil || !dec[0].Equal(p) {
		t.Errorf("the key read back from its line does not decrypt what the key encrypted: %v", err)
	}
	if named, err := NewKey("rotated-2026"); err != nil || named.ID() != "rotated-2026" {
		t.Errorf("NewKey(rotated-2026) = %s, %v", named, err)
	}
	if _, err := NewKey("bad id"); err == nil || !strings.Contains(err.Error(), "bad key ID") {
		t.Errorf("NewKey(bad id): err = %v, want a refusal of the ID", err)
	}
	if s := fmt.Sprint(a); strings.Contains(s, base64.StdEncoding.EncodeToString(a.secret)) || !strings.Contains(s, a.ID()) {
		t.Errorf("a key prints as %q: want its ID and not its secret", s)
	}
}
