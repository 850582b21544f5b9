package codec

import (
	"bytes"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// testKey is a key with a fixed secret made of one repeated byte, so tests
// can build rings with known, distinct keys.
func testKey(id string, b byte) Key {
	return Key{id: id, secret: bytes.Repeat([]byte{b}, KeySize)}
}

func mustNew(t *testing.T, keys ...Key) *Codec {
	t.Helper()
	c, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encodeOne(t *testing.T, c *Codec, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	out, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestRoundTrip checks that every kind of payload comes back exactly as it
// went in, that the encrypted form is labelled with the encoding and the
// key, and that the plaintext shows nowhere in it.
func TestRoundTrip(t *testing.T) {
	c := mustNew(t, testKey("k1", 1))
	tests := []struct {
		name   string
		in     *commonpb.Payload
		secret string
	}{
		{"JSON of an order", mustPayload(t, map[string]string{"payment_token": "tok_visa", "address": "1 Main St"}), "tok_visa"},
		{"plain string", mustPayload(t, "221B Baker Street"), "221B Baker Street"},
		{"binary", mustPayload(t, []byte("raw card bytes")), "raw card bytes"},
		{"nil value", mustPayload(t, nil), "binary/null"},
		{"empty payload", &commonpb.Payload{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeOne(t, c, tt.in)
			if got := string(enc.Metadata[converter.MetadataEncoding]); got != EncodingEncrypted {
				t.Errorf("encoding %q, want %q", got, EncodingEncrypted)
			}
			if got := string(enc.Metadata[MetadataKeyID]); got != "k1" {
				t.Errorf("key ID %q, want k1", got)
			}
			if len(enc.Metadata) != 2 {
				t.Errorf("encrypted payload has metadata %v, want only the encoding and the key ID", enc.Metadata)
			}
			if tt.secret != "" && bytes.Contains(enc.Data, []byte(tt.secret)) {
				t.Errorf("ciphertext contains the plaintext %q", tt.secret)
			}
			dec, err := c.Decode([]*commonpb.Payload{enc})
			if err != nil {
				t.Fatal(err)
			}
			if !dec[0].Equal(tt.in) {
				t.Errorf("decoded %v, want %v", dec[0], tt.in)
			}
		})
	}
}

// TestEncodeDrawsFreshNonces checks that the same payload encrypted twice
// gives two different ciphertexts: GCM must never reuse a nonce with a key.
func TestEncodeDrawsFreshNonces(t *testing.T) {
	c := mustNew(t, testKey("k1", 1))
	p := mustPayload(t, "tok_visa")
	a, b := encodeOne(t, c, p), encodeOne(t, c, p)
	if bytes.Equal(a.Data, b.Data) {
		t.Fatal("two encryptions of one payload are identical")
	}
}

// TestRotation checks rotation: after a newer key is added, payloads
// written with the older one still decode, new payloads use the newest key,
// and a ring that lacks the newest key says so by name.
func TestRotation(t *testing.T) {
	old, newer := testKey("k-old", 1), testKey("k-new", 2)
	before := mustNew(t, old)
	after := mustNew(t, old, newer)
	if after.NewestKeyID() != "k-new" {
		t.Fatalf("newest key %q, want k-new (the last one)", after.NewestKeyID())
	}
	p := mustPayload(t, "1 Main St")
	tests := []struct {
		name    string
		writer  *Codec
		reader  *Codec
		wantKey string
		wantErr string
	}{
		{"old payload, rotated ring", before, after, "k-old", ""},
		{"new payload, rotated ring", after, after, "k-new", ""},
		{"new payload, ring not yet rotated", after, before, "k-new", `key "k-new", which is not in the key ring (k-old)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeOne(t, tt.writer, p)
			if got := string(enc.Metadata[MetadataKeyID]); got != tt.wantKey {
				t.Errorf("written with key %q, want %q", got, tt.wantKey)
			}
			dec, err := tt.reader.Decode([]*commonpb.Payload{enc})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !dec[0].Equal(p) {
				t.Errorf("decoded %v, want %v", dec[0], p)
			}
		})
	}
}

// TestDecodePassesPlainPayloadsThrough checks that payloads written before
// encryption was configured still read: Decode returns them untouched.
func TestDecodePassesPlainPayloadsThrough(t *testing.T) {
	c := mustNew(t, testKey("k1", 1))
	tests := []struct {
		name string
		in   *commonpb.Payload
	}{
		{"JSON", mustPayload(t, map[string]string{"address": "1 Main St"})},
		{"null", mustPayload(t, nil)},
		{"binary", mustPayload(t, []byte{0, 1, 2})},
		{"no metadata", &commonpb.Payload{Data: []byte("x")}},
		{"nil", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Decode([]*commonpb.Payload{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if out[0] != tt.in {
				t.Errorf("decoded %v, want the same payload back", out[0])
			}
		})
	}
}

// TestDecodeRefusesWhatItCannotTrust checks that altered ciphertext, a
// relabelled key ID, an unknown or missing key ID and truncated data each
// fail with an error that names the key.
func TestDecodeRefusesWhatItCannotTrust(t *testing.T) {
	c := mustNew(t, testKey("k1", 1), testKey("k2", 2))
	tests := []struct {
		name    string
		alter   func(p *commonpb.Payload)
		wantErr string
	}{
		{"a flipped ciphertext bit", func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 },
			`key "k2": authentication failed`},
		{"a flipped nonce bit", func(p *commonpb.Payload) { p.Data[0] ^= 1 },
			`key "k2": authentication failed`},
		{"relabelled with another key of the ring", func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k1") },
			`key "k1": authentication failed`},
		{"an unknown key", func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k9") },
			`key "k9", which is not in the key ring (k1, k2)`},
		{"no key ID", func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) },
			"has no encryption-key-id metadata"},
		{"truncated", func(p *commonpb.Payload) { p.Data = p.Data[:10] },
			`key "k2": 10 bytes is too short`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeOne(t, c, mustPayload(t, "tok_visa"))
			tt.alter(enc)
			out, err := c.Decode([]*commonpb.Payload{enc})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decoded %v, err = %v; want an error saying %q", out, err, tt.wantErr)
			}
		})
	}
}

// TestNewRefusesBadRings checks the rings New refuses.
func TestNewRefusesBadRings(t *testing.T) {
	tests := []struct {
		name    string
		keys    []Key
		wantErr string
	}{
		{"no keys", nil, "no encryption keys"},
		{"duplicate IDs", []Key{testKey("k1", 1), testKey("k1", 2)}, `key ID "k1" appears twice`},
		{"short key", []Key{{id: "k1", secret: []byte("short")}}, `key "k1" is 5 bytes, want 32`},
		{"empty ID", []Key{testKey("", 1)}, "empty key ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.keys...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}
