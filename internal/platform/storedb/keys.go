package storedb

import "strings"

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
