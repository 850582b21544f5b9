package storedb

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// KeyWorkflowID is the workflow ID in an idempotency key. Keys are
// "<workflow ID>/<step>" ("order-42/reserve"); a workflow ID may itself hold
// a '/', a step never does, so the workflow ID is everything before the
// key's last '/'. A key without a '/' is all workflow ID. The stores keep it
// with every record, so that the audit can line up the records of one order
// across the stores.
func KeyWorkflowID(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// KeyID is the public ID of the record that an idempotency key writes:
// prefix and a hash of the key. It is derived, not drawn, so that a retried
// step reports the ID of its first attempt without a lookup table, and the
// same key gives the same ID in every replica. A store's IDs are public and
// must never change.
func KeyID(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:8])
}
