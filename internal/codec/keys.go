package codec

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// Key is one key of a key ring: an ID, which is stored in clear next to
// every payload it encrypts, and KeySize secret bytes.
type Key struct {
	id     string
	secret []byte
}

// String names the key without its secret, so that a key printed by
// mistake gives nothing away.
func (k Key) String() string { return "key " + k.id }

// ID is the key's ID.
func (k Key) ID() string { return k.id }

// Line is the key as a line of a key file: id=base64key.
func (k Key) Line() string {
	return k.id + "=" + base64.StdEncoding.EncodeToString(k.secret)
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
// The format: one key per entry, written id=base64key (standard base64 of
// KeySize bytes, as 'worker codec-key' prints it); entries are separated by
// newlines or commas; blank lines and lines starting with # are ignored.
// The LAST entry is the newest key, the one that encrypts; every entry
// decrypts. A key file holds one entry per line; an environment variable
// can hold them on one line separated by commas.
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

// ReadKeyFile reads a key ring in Parse's format from a file.
func ReadKeyFile(path string) (*Codec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the codec key file: %w", err)
	}
	return Parse("codec key file "+path, string(b))
}

func parseKeys(text string) ([]Key, error) {
	var keys []Key
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			k, err := parseKey(entry)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// parseKey reads one id=base64key entry. Its errors quote only a well-formed
// key ID, never the rest of the entry: it may be key material.
func parseKey(entry string) (Key, error) {
	id, encoded, ok := strings.Cut(entry, "=")
	encoded = strings.TrimSpace(encoded)
	if !ok || strings.Trim(encoded, "=") == "" {
		// A bare base64 key: its padding looks like the separator.
		return Key{}, fmt.Errorf("an entry that is not id=base64key: %s", generateHint)
	}
	id = strings.TrimSpace(id)
	if err := validateID(id); err != nil {
		return Key{}, err
	}
	secret, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return Key{}, fmt.Errorf("key %q is not valid base64 (%v): %s", id, err, generateHint)
	}
	k := Key{id: id, secret: secret}
	return k, k.validate()
}
