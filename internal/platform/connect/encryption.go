package connect

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
)

// recordEncryption wraps dc, a converter that decrypts payloads, so that
// each value it decodes that is a codec.EncryptionRecorder (the order, the
// order workflow's input) learns whether its payload arrived encrypted.
// The codec lets payloads in clear through, for histories written before
// encryption; this is how a worker that requires encryption still tells
// an order that a client sent in clear. Everything else is dc's: the
// wrapper passes the SDK's workflow, activity and serialization contexts
// on to dc and wraps what dc returns for them.
func recordEncryption(dc converter.DataConverter) converter.DataConverter {
	return &encryptionRecorder{DataConverter: dc}
}

type encryptionRecorder struct {
	converter.DataConverter
}

var (
	_ converter.ContextAware                          = (*encryptionRecorder)(nil)
	_ converter.DataConverterWithSerializationContext = (*encryptionRecorder)(nil)
)

// FromPayload decodes payload into valuePtr and tells valuePtr, if it asks,
// whether payload arrived encrypted.
func (r *encryptionRecorder) FromPayload(payload *commonpb.Payload, valuePtr any) error {
	if err := r.DataConverter.FromPayload(payload, valuePtr); err != nil {
		return err
	}
	record(valuePtr, payload)
	return nil
}

// FromPayloads decodes payloads into valuePtrs, one for one, and tells each
// value that asks whether its payload arrived encrypted.
func (r *encryptionRecorder) FromPayloads(payloads *commonpb.Payloads, valuePtrs ...any) error {
	if err := r.DataConverter.FromPayloads(payloads, valuePtrs...); err != nil {
		return err
	}
	for i, p := range payloads.GetPayloads() {
		if i >= len(valuePtrs) {
			break
		}
		record(valuePtrs[i], p)
	}
	return nil
}

// record tells valuePtr whether p, the payload it was decoded from, arrived
// encrypted. A missing payload decodes to nothing and is not recorded.
func record(valuePtr any, p *commonpb.Payload) {
	if r, ok := valuePtr.(codec.EncryptionRecorder); ok && p != nil {
		r.RecordEncrypted(codec.IsEncrypted(p))
	}
}

// WithWorkflowContext implements converter.ContextAware.
func (r *encryptionRecorder) WithWorkflowContext(ctx converter.WorkflowContext) converter.DataConverter {
	if c, ok := r.DataConverter.(converter.ContextAware); ok {
		return r.wrap(c.WithWorkflowContext(ctx))
	}
	return r
}

// WithContext implements converter.ContextAware.
func (r *encryptionRecorder) WithContext(ctx context.Context) converter.DataConverter {
	if c, ok := r.DataConverter.(converter.ContextAware); ok {
		return r.wrap(c.WithContext(ctx))
	}
	return r
}

// WithSerializationContext implements
// converter.DataConverterWithSerializationContext.
func (r *encryptionRecorder) WithSerializationContext(ctx converter.SerializationContext) converter.DataConverter {
	return r.wrap(converter.WithDataConverterSerializationContext(r.DataConverter, ctx))
}

// wrap returns a recorder over dc, what r's converter returned for a
// context.
func (r *encryptionRecorder) wrap(dc converter.DataConverter) converter.DataConverter {
	return &encryptionRecorder{DataConverter: dc}
}

// keepFailuresSealed wraps fc so that reading a failure never changes it.
// The SDK's FailureToError decrypts a failure's message and stack trace
// into the very failure it is given; for a local activity (the order's
// claim) that failure is also the one the SDK records in the workflow's
// history, in the activity's marker, which then held the message in clear
// beside its encrypted copy. Reading a copy keeps what is recorded sealed.
func keepFailuresSealed(fc converter.FailureConverter) converter.FailureConverter {
	return &sealedFailures{FailureConverter: fc}
}

type sealedFailures struct {
	converter.FailureConverter
}

var _ converter.FailureConverterWithSerializationContext = (*sealedFailures)(nil)

// FailureToError reads a copy of failure.
func (s *sealedFailures) FailureToError(failure *failurepb.Failure) error {
	if failure == nil {
		return s.FailureConverter.FailureToError(nil)
	}
	b, err := failure.Marshal()
	if err != nil {
		return fmt.Errorf("read a failure: copy it: %w", err)
	}
	var copied failurepb.Failure
	if err := copied.Unmarshal(b); err != nil {
		return fmt.Errorf("read a failure: copy it: %w", err)
	}
	return s.FailureConverter.FailureToError(&copied)
}

// WithSerializationContext implements
// converter.FailureConverterWithSerializationContext.
func (s *sealedFailures) WithSerializationContext(ctx converter.SerializationContext) converter.FailureConverter {
	return &sealedFailures{FailureConverter: converter.WithFailureConverterSerializationContext(s.FailureConverter, ctx)}
}
