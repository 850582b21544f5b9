package codec

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// DecryptOnly is the word that, written after a key, keeps the key from
// encrypting while it still decrypts. A rotation adds the new key with it
// everywhere first, so that every process can read what the key will
// encrypt before any process writes with it, and then removes it.
const DecryptOnly = "decrypt-only"

// Key is one key of a key ring: an ID, which is stored in clear next to
// every payload it encrypts, KeySize secret bytes, and whether it is marked
// decrypt-only.
type Key struct {
	id          string
	secret      []byte
	decryptOnly bool
}

// String names the key without its secret, so that a key printed by
// mistake gives nothing away.
func (k Key) String() string { return "key " + k.id }

// ID is the key's ID.
func (k Key) ID() string { return k.id }

// DecryptOnly says whether the key is marked decrypt-only: it decrypts
// payloads but never encrypts them.
func (k Key) DecryptOnly() bool { return k.decryptOnly }

// WithDecryptOnly returns the key marked decrypt-only, or unmarked.
func (k Key) WithDecryptOnly(on bool) Key {
	k.decryptOnly = on
	return k
}

// Line is the key as a line of a key file: id=base64key, followed by
// " decrypt-only" when it is marked so.
func (k Key) Line() string {
	line := k.id + "=" + base64.StdEncoding.EncodeToString(k.secret)
	if k.decryptOnly {
		line += " " + DecryptOnly
	}
	return line
}

// keyIDPattern keeps key IDs printable and free of the separators of the
// key ring's text format.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const generateHint = "generate a key with 'worker codec-key'"

func (k Key) validate() error {
	if err := validateID(k.id); err != nil {
		return err
	}
	if len(k.secret) != KeySize {
		return fmt.Errorf("key %q is %d bytes, want %d (AES-256): %s", k.id, len(k.secret), KeySize, generateHint)
	}
	return nil
}

func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("empty key ID: write id=base64key")
	case !keyIDPattern.MatchString(id):
		// Not quoted: what stands before '=' may be key material.
		return errors.New("bad key ID: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// NewKey returns a key of KeySize random bytes. An empty id gets a fresh
// one from NewKeyID.
func NewKey(id string) (Key, error) {
	if id == "" {
		var err error
		if id, err = NewKeyID(time.Now()); err != nil {
			return Key{}, err
		}
	}
	k := Key{id: id, secret: make([]byte, KeySize)}
	if _, err := rand.Read(k.secret); err != nil {
		return Key{}, fmt.Errorf("draw a random key: %w", err)
	}
	return k, k.validate()
}

// NewKeyID returns an ID like k-20260115-3fa9c1: the day the key was made,
// which tells people reading a key file how old each key is, and a random
// suffix so two keys made the same day differ.
func NewKeyID(now time.Time) (string, error) {
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("draw a random key ID: %w", err)
	}
	return "k-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(suffix), nil
}

// Parse reads a key ring from text and returns its codec. source names
// where the text came from, for the errors.
//
// The format: one key per entry, oldest first, written id=base64key
// (standard base64 of KeySize bytes, as 'worker codec-key' prints it),
// optionally followed by a space and "decrypt-only"; entries are separated
// by newlines or commas; blank lines and lines starting with # are
// ignored. Every entry decrypts. The last entry NOT marked decrypt-only
// encrypts new payloads, so a ring without any mark works as it always
// has: its last key encrypts. A key file holds one entry per line; an
// environment variable can hold them on one line separated by commas:
//
//	k-20250101-0a1b2c=<base64>,k-20260115-3fa9c1=<base64> decrypt-only
//
// A key is rotated in without losing an order in two rolls (see
// AddKeyToFile and PromoteKeyInFile, which edit a key file so): first the
// new key goes into every process's ring marked decrypt-only, then, once
// every process runs with it, the mark is removed.
func Parse(source, text string) (*Codec, error) {
	keys, err := parseKeys(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	c, err := New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return c, nil
}

// ParseKeys reads a key ring in Parse's format and returns its keys as
// written, oldest first, after checking that they make a valid ring.
func ParseKeys(source, text string) ([]Key, error) {
	keys, err := parseKeys(text)
	if err == nil {
		_, err = New(keys...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return keys, nil
}

// EncryptingKeyID is the ID of the key of keys that encrypts new payloads:
// the last one not marked decrypt-only. It is empty when every key is
// marked.
func EncryptingKeyID(keys []Key) string {
	for i := len(keys) - 1; i >= 0; i-- {
		if !keys[i].decryptOnly {
			return keys[i].id
		}
	}
	return ""
}

// errAllDecryptOnly refuses a ring in which no key encrypts.
var errAllDecryptOnly = errors.New("every key is marked " + DecryptOnly + ", so none encrypts: remove the mark from the key that should (worker codec-key promote)")

// ReadKeyFile reads a key ring in Parse's format from a file. As ssh does
// with a private key, it refuses a file that users other than its owner
// and its group may read or write (mode & 0o007 != 0), judging a symlink
// by its target: whoever reads the file can decrypt every order. The group
// may read it, as a Kubernetes secret mounted with an fsGroup (0440) is.
func ReadKeyFile(path string) (*Codec, error) {
	text, _, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return Parse("codec key file "+path, text)
}

// ReadKeys reads the keys of a key file as written, oldest first, as
// ParseKeys does.
func ReadKeys(path string) ([]Key, error) {
	text, _, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKeys("codec key file "+path, text)
}

func parseKeys(text string) ([]Key, error) {
	entries, err := parseEntries(strings.Split(text, "\n"))
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	return keys, nil
}

// entry is a key and the index of the line it is written on.
type entry struct {
	line int
	key  Key
}

// parseEntries reads the keys of a key ring's lines, with the line of each.
func parseEntries(lines []string) ([]entry, error) {
	var entries []entry
	for n, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for text := range strings.SplitSeq(line, ",") {
			if text = strings.TrimSpace(text); text == "" {
				continue
			}
			k, err := parseKey(text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			entries = append(entries, entry{line: n, key: k})
		}
	}
	return entries, nil
}

// parseKey reads one "id=base64key" or "id=base64key decrypt-only" entry.
// Its errors quote only a well-formed key ID, never the rest of the entry:
// it may be key material.
func parseKey(text string) (Key, error) {
	id, rest, ok := strings.Cut(text, "=")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 || strings.Trim(fields[0], "=") == "" || fields[0] == DecryptOnly {
		// A bare base64 key, marked or not: its padding looks like the
		// separator, and what stands before it is no ID but key material.
		return Key{}, fmt.Errorf("an entry that is not id=base64key: %s", generateHint)
	}
	id = strings.TrimSpace(id)
	if err := validateID(id); err != nil {
		return Key{}, err
	}
	k := Key{id: id}
	switch marks := fields[1:]; {
	case len(marks) == 1 && marks[0] == DecryptOnly:
		k.decryptOnly = true
	case len(marks) > 0:
		return Key{}, fmt.Errorf("key %q has unexpected text after it: write id=base64key, or id=base64key %s", id, DecryptOnly)
	}
	secret, err := base64.StdEncoding.DecodeString(fields[0])
	if err != nil {
		return Key{}, fmt.Errorf("key %q is not valid base64 (%v): %s", id, err, generateHint)
	}
	k.secret = secret
	return k, k.validate()
}
