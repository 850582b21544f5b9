// Package apperr sorts a service's errors into the two kinds Temporal needs
// to tell apart: business failures, which no retry can fix and which end the
// order at once (out of stock, card declined), and everything else (a locked
// database, a timeout), which Temporal retries with backoff.
package apperr

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// Kind maps a service's sentinel error to the application error type that
// the workflow and clients see.
type Kind struct {
	Err  error
	Type string
}

// Classify returns err as a non-retryable application error of the first kind
// it wraps, or err unchanged (and so retryable) if it wraps none of them.
func Classify(err error, kinds ...Kind) error {
	for _, k := range kinds {
		if errors.Is(err, k.Err) {
			return temporal.NewNonRetryableApplicationError(businessMessage(err, k.Err), k.Type, nil)
		}
	}
	return err
}

// businessMessage is the message of the innermost error that wraps the
// sentinel, such as "out of stock: LAMP-LIMITED has 3 on hand, order needs
// 5": what a person needs to know, without the call path around it (the
// order's state already says which step failed).
func businessMessage(err, sentinel error) string {
	msg := err.Error()
	for e := err; e != nil && e != sentinel; e = errors.Unwrap(e) {
		if errors.Is(e, sentinel) {
			msg = e.Error()
		}
	}
	return msg
}
