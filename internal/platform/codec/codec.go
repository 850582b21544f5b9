// Package codec keeps payment tokens, addresses and every other payload out
// of Temporal's history in clear text: it is a converter.PayloadCodec that
// encrypts each payload with AES-256-GCM before it leaves the process and
// decrypts it when it comes back. The Temporal server, its database and
// anyone reading the history without the keys see only ciphertext.
//
// An encrypted payload carries the metadata
//
//	encoding           binary/encrypted
//	encryption-key-id  the ID of the key it was encrypted with
//
// and its data is a random 12-byte nonce followed by the GCM ciphertext of
// the whole original payload (its metadata and data, marshalled as proto).
// The key ID is the GCM additional data, so relabelling a payload with
// another key's ID makes it fail authentication.
//
// A Codec holds a key ring: new payloads are encrypted with one key of it
// (the newest not marked decrypt-only), and payloads written with any key
// of the ring decrypt, which is how keys are rotated. Payloads that are
// not encrypted pass through Decode unchanged, so histories written before
// encryption was turned on still read. See keys.go for the key ring's text
// format and Parse for how to rotate a key without losing an order.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// Metadata of an encrypted payload.
const (
	// EncodingEncrypted is the value of the payload's "encoding" metadata.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the metadata that holds the key's ID.
	MetadataKeyID = "encryption-key-id"
)

// Codec encrypts payloads with the encrypting key of its ring (see New) and
// decrypts them with whichever key of the ring they name. It is safe for
// concurrent use.
type Codec struct {
	aeads  map[string]cipher.AEAD
	ids    []string // oldest first
	newest string
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over keys, oldest first: the last key not marked
// decrypt-only encrypts, all of them decrypt.
func New(keys ...Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption keys: add a line id=base64key (generate one with 'worker codec-key')")
	}
	c := &Codec{aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if err := c.add(k); err != nil {
			return nil, err
		}
	}
	if c.newest = EncryptingKeyID(keys); c.newest == "" {
		return nil, errAllDecryptOnly
	}
	return c, nil
}

func (c *Codec) add(k Key) error {
	if err := k.validate(); err != nil {
		return err
	}
	if _, dup := c.aeads[k.id]; dup {
		return fmt.Errorf("key ID %q appears twice: give each key its own ID", k.id)
	}
	block, err := aes.NewCipher(k.secret)
	if err != nil {
		return fmt.Errorf("key %q: %w", k.id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("key %q: %w", k.id, err)
	}
	c.aeads[k.id] = aead
	c.ids = append(c.ids, k.id)
	return nil
}

// NewestKeyID is the ID of the key that new payloads are encrypted with:
// the newest key not marked decrypt-only.
func (c *Codec) NewestKeyID() string { return c.newest }

// KeyIDs are the IDs of the ring's keys, oldest first.
func (c *Codec) KeyIDs() []string { return slices.Clone(c.ids) }

// Encode encrypts each payload with the newest key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return convertAll(payloads, c.encrypt)
}

// Decode decrypts each encrypted payload and passes the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return convertAll(payloads, c.decrypt)
}

// convertAll converts each payload into a new slice, in order; a payload
// that fails fails the whole batch, as the SDK expects of a codec.
func convertAll(payloads []*commonpb.Payload, convert func(*commonpb.Payload) (*commonpb.Payload, error)) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		converted, err := convert(p)
		if err != nil {
			return nil, err
		}
		out[i] = converted
	}
	return out, nil
}

func (c *Codec) encrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	if p == nil {
		return nil, nil
	}
	plain, err := p.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encrypt payload: marshal it: %w", err)
	}
	aead := c.aeads[c.newest]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt payload: draw a nonce: %w", err)
	}
	return &commonpb.Payload{
		Metadata: map[string][]byte{
			converter.MetadataEncoding: []byte(EncodingEncrypted),
			MetadataKeyID:              []byte(c.newest),
		},
		Data: aead.Seal(nonce, nonce, plain, []byte(c.newest)),
	}, nil
}

func (c *Codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
		return p, nil
	}
	id := string(p.GetMetadata()[MetadataKeyID])
	if id == "" {
		return nil, fmt.Errorf("decrypt payload: it is %s but has no %s metadata", EncodingEncrypted, MetadataKeyID)
	}
	aead, ok := c.aeads[id]
	if !ok {
		return nil, fmt.Errorf("decrypt payload: it was encrypted with key %q, which is not in the key ring (%s): add that key to the ring",
			id, strings.Join(c.ids, ", "))
	}
	data := p.GetData()
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("decrypt payload with key %q: %d bytes is too short for an encrypted payload", id, len(data))
	}
	nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("decrypt payload with key %q: authentication failed: the payload was altered, or key %q is not the key it was written with", id, id)
	}
	var out commonpb.Payload
	if err := out.Unmarshal(plain); err != nil {
		return nil, fmt.Errorf("decrypt payload with key %q: unmarshal it: %w", id, err)
	}
	return &out, nil
}
