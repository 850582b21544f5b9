package codec

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// EncryptionRecorder is a value that needs to know whether the payload it
// was decoded from arrived encrypted. Decode passes payloads in clear
// through, so that histories written before encryption still read; a
// worker that requires encryption must still refuse an order that a
// client sent in clear, and only the decoded value can carry that fact to
// where the order is judged. The worker's data converter calls
// RecordEncrypted on each value it decoded, after decoding it.
type EncryptionRecorder interface {
	RecordEncrypted(encrypted bool)
}

// IsEncrypted reports whether p is a payload that a Codec encrypted, before
// it is decoded: its encoding is EncodingEncrypted.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == EncodingEncrypted
}
