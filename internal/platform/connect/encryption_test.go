package connect

import (
	"context"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
)

// markedOrder stands for the order workflow's input: a value that records
// whether its payload arrived encrypted.
type markedOrder struct {
	ID string `json:"id"`
	// encrypted is nil until RecordEncrypted is called.
	encrypted *bool
	// decodedBy is the context of the converter that decoded it, when a
	// contextConverter did.
	decodedBy string
}

func (o *markedOrder) RecordEncrypted(encrypted bool) { o.encrypted = &encrypted }

// mark is what o recorded: "encrypted", "clear", or "none".
func (o *markedOrder) mark() string {
	switch {
	case o.encrypted == nil:
		return "none"
	case *o.encrypted:
		return "encrypted"
	}
	return "clear"
}

// payloadsOf encodes each value with its converter: a payload as a client
// with the key ring (sealed) or without one (converter.GetDefaultDataConverter)
// sends it.
func payloadsOf(t *testing.T, encode ...func() (*commonpb.Payload, error)) *commonpb.Payloads {
	t.Helper()
	out := &commonpb.Payloads{}
	for _, e := range encode {
		p, err := e()
		if err != nil {
			t.Fatal(err)
		}
		out.Payloads = append(out.Payloads, p)
	}
	return out
}

// keyedOptions returns the client options with a key ring in the
// environment, as the worker has them.
func keyedOptions(t *testing.T) converter.DataConverter {
	t.Helper()
	cleanEnv(t)
	t.Setenv(CodecKeysEnv, newKeyLine(t, "k1"))
	opts, err := options(t)
	if err != nil {
		t.Fatal(err)
	}
	return opts.DataConverter
}

// TestDataConverterRecordsWhetherInputArrivedEncrypted decodes, with the
// worker's data converter, an order sent by a client with the key ring and
// one sent by a client without: each learns which it was, through
// FromPayloads (as the SDK decodes a workflow's input) and FromPayload,
// and both decode to the order that was sent.
func TestDataConverterRecordsWhetherInputArrivedEncrypted(t *testing.T) {
	dc := keyedOptions(t)
	sealed := func() (*commonpb.Payload, error) { return dc.ToPayload(markedOrder{ID: "sealed"}) }
	inClear := func() (*commonpb.Payload, error) {
		return converter.GetDefaultDataConverter().ToPayload(markedOrder{ID: "clear"})
	}
	tests := []struct {
		name     string
		payloads *commonpb.Payloads
		want     []string // each order's ID and mark
	}{
		{"encrypted", payloadsOf(t, sealed), []string{"sealed encrypted"}},
		{"in clear", payloadsOf(t, inClear), []string{"clear clear"}},
		{"one of each", payloadsOf(t, inClear, sealed), []string{"clear clear", "sealed encrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/FromPayloads", func(t *testing.T) {
			orders := make([]markedOrder, len(tt.payloads.Payloads))
			ptrs := make([]any, len(orders))
			for i := range orders {
				ptrs[i] = &orders[i]
			}
			if err := dc.FromPayloads(tt.payloads, ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, o := range orders {
				if got := o.ID + " " + o.mark(); got != tt.want[i] {
					t.Errorf("value %d decoded as %q, want %q", i, got, tt.want[i])
				}
			}
		})
		t.Run(tt.name+"/FromPayload", func(t *testing.T) {
			for i, p := range tt.payloads.Payloads {
				var o markedOrder
				if err := dc.FromPayload(p, &o); err != nil {
					t.Fatal(err)
				}
				if got := o.ID + " " + o.mark(); got != tt.want[i] {
					t.Errorf("value %d decoded as %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestDataConverterRecordsOnlyWhatItDecoded: a value with no payload, a
// value that failed to decode, and values that do not ask are left alone.
func TestDataConverterRecordsOnlyWhatItDecoded(t *testing.T) {
	dc := keyedOptions(t)
	one := payloadsOf(t, func() (*commonpb.Payload, error) { return dc.ToPayload(markedOrder{ID: "only"}) })

	var decoded, beyond markedOrder
	if err := dc.FromPayloads(one, &decoded, &beyond); err != nil {
		t.Fatal(err)
	}
	if decoded.mark() != "encrypted" || beyond.mark() != "none" {
		t.Errorf("marks %s and %s, want encrypted for the decoded value and none for the one without a payload", decoded.mark(), beyond.mark())
	}

	var nothing markedOrder
	if err := dc.FromPayload(nil, &nothing); err != nil || nothing.mark() != "none" {
		t.Errorf("a nil payload decoded with %v and mark %s, want no error and no mark", err, nothing.mark())
	}

	notJSON := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")}, Data: []byte("{")}
	var broken markedOrder
	if err := dc.FromPayload(notJSON, &broken); err == nil || broken.mark() != "none" {
		t.Errorf("a bad payload decoded with %v and mark %s, want an error and no mark", err, broken.mark())
	}

	var s string
	p, err := dc.ToPayload("221B Baker Street")
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.FromPayload(p, &s); err != nil || s != "221B Baker Street" {
		t.Errorf("a plain string decoded to %q, %v", s, err)
	}
}

// contextConverter is a context-aware converter that tells the orders it
// decodes which context it was made for.
type contextConverter struct {
	converter.DataConverter
	madeFor string
}

type contextKey struct{}

func (c contextConverter) WithContext(ctx context.Context) converter.DataConverter {
	c.madeFor = "context " + ctx.Value(contextKey{}).(string)
	return c
}

func (c contextConverter) WithWorkflowContext(converter.WorkflowContext) converter.DataConverter {
	c.madeFor = "workflow context"
	return c
}

func (c contextConverter) WithSerializationContext(sc converter.SerializationContext) converter.DataConverter {
	c.madeFor = "workflow " + sc.(converter.WorkflowSerializationContext).WorkflowID
	return c
}

func (c contextConverter) FromPayloads(payloads *commonpb.Payloads, valuePtrs ...any) error {
	if err := c.DataConverter.FromPayloads(payloads, valuePtrs...); err != nil {
		return err
	}
	for _, v := range valuePtrs {
		if o, ok := v.(*markedOrder); ok {
			o.decodedBy = c.madeFor
		}
	}
	return nil
}

// TestDataConverterStaysContextAware: for each of the SDK's contexts the
// recorder asks its converter for the converter of that context, and what
// it returns still records. It is checked as the SDK reaches it, through
// the SDK's transfer-aware wrapper, and on its own; over a converter that
// is not context-aware, the recorder stays as it is.
func TestDataConverterStaysContextAware(t *testing.T) {
	c, err := codec.Parse(CodecKeysEnv, newKeyLine(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	sealing := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	sealed, err := sealing.ToPayloads(markedOrder{ID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), contextKey{}, "of the activity")
	sc := converter.WorkflowSerializationContext{Namespace: "default", WorkflowID: "order-42"}
	for _, via := range []struct {
		name string
		wrap func(converter.DataConverter) converter.DataConverter
	}{
		{"as the SDK reaches it", converter.MakeTransferAware},
		{"on its own", func(dc converter.DataConverter) converter.DataConverter { return dc }},
	} {
		dc := via.wrap(recordEncryption(contextConverter{DataConverter: sealing}))
		tests := []struct {
			name    string
			convert func() converter.DataConverter
			want    string // the context the decoding converter was made for
		}{
			{"WithContext", func() converter.DataConverter { return dc.(converter.ContextAware).WithContext(ctx) }, "context of the activity"},
			{"WithWorkflowContext", func() converter.DataConverter { return dc.(converter.ContextAware).WithWorkflowContext(nil) }, "workflow context"},
			{"WithSerializationContext", func() converter.DataConverter { return converter.WithDataConverterSerializationContext(dc, sc) }, "workflow order-42"},
			{"no context", func() converter.DataConverter { return dc }, ""},
		}
		for _, tt := range tests {
			t.Run(via.name+"/"+tt.name, func(t *testing.T) {
				var o markedOrder
				if err := tt.convert().FromPayloads(sealed, &o); err != nil {
					t.Fatal(err)
				}
				if o.ID != "42" || o.mark() != "encrypted" || o.decodedBy != tt.want {
					t.Errorf("decoded %q marked %s by the converter for %q; want 42 marked encrypted by the one for %q", o.ID, o.mark(), o.decodedBy, tt.want)
				}
			})
		}
	}

	plain := recordEncryption(sealing)
	for name, got := range map[string]converter.DataConverter{
		"WithContext":              plain.(converter.ContextAware).WithContext(ctx),
		"WithWorkflowContext":      plain.(converter.ContextAware).WithWorkflowContext(nil),
		"WithSerializationContext": converter.WithDataConverterSerializationContext(plain, sc),
	} {
		if r, ok := got.(*encryptionRecorder); !ok || r.DataConverter != sealing {
			t.Errorf("%s over a converter that is not context-aware returned %#v, want a recorder over the codec's converter", name, got)
		}
	}
}

// TestReadingAFailureLeavesItSealed follows a local activity's failure
// through the SDK: the failure converter encodes the activity's error, the
// SDK keeps that failure to record in the workflow's marker, and reads the
// error back from the same failure for the workflow. What it records must
// still be sealed, while the workflow reads the message.
func TestReadingAFailureLeavesItSealed(t *testing.T) {
	cleanEnv(t)
	t.Setenv(CodecKeysEnv, newKeyLine(t, "k1"))
	opts, err := options(t)
	if err != nil {
		t.Fatal(err)
	}
	fc := opts.FailureConverter
	const secret = "221B Baker Street"
	recorded := fc.ErrorToFailure(temporal.NewNonRetryableApplicationError("the carrier does not deliver to "+secret, "Undeliverable",
		errors.New("cause at "+secret)))
	b, err := recorded.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var before failurepb.Failure
	if err := before.Unmarshal(b); err != nil {
		t.Fatal(err)
	}

	read := fc.FailureToError(recorded)

	if !recorded.Equal(&before) || strings.Contains(recorded.String(), secret) {
		t.Errorf("reading the failure changed it to %v: it must stay sealed", recorded)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(read, &appErr) || appErr.Message() != "the carrier does not deliver to "+secret || !strings.Contains(read.Error(), "cause at "+secret) {
		t.Errorf("read %v, want the message and its cause decrypted", read)
	}
	if again := fc.ErrorToFailure(read); again.GetMessage() != "Encoded failure" || strings.Contains(again.String(), secret) {
		t.Errorf("the error read converts back to %v, want the sealed failure", again)
	}
}
