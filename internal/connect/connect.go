// Package connect builds the Temporal client that the worker and the starter
// use, configured the way Temporal's own tools are: a config file profile,
// then TEMPORAL_* environment variables, then command-line flags, each
// overriding the one before.
//
// Environment variables read (through go.temporal.io/sdk/contrib/envconfig):
//
//	TEMPORAL_ADDRESS               host:port of the frontend (default 127.0.0.1:7233)
//	TEMPORAL_NAMESPACE             namespace (default "default")
//	TEMPORAL_API_KEY               API key; turns TLS on
//	TEMPORAL_TLS                   "true" to use TLS with the system's roots
//	TEMPORAL_TLS_CLIENT_CERT_PATH  mTLS client certificate
//	TEMPORAL_TLS_CLIENT_KEY_PATH   mTLS client key
//	TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, ...
//	TEMPORAL_CONFIG_FILE           TOML file with profiles (default: the
//	                               user config dir's temporalio/temporal.toml)
//	TEMPORAL_PROFILE               profile in that file (default "default")
//
// Payloads (workflow and activity inputs and results, signals, queries,
// summaries, failure messages) are encrypted before they reach Temporal
// when a key ring is configured (see internal/codec for its format):
//
//	ORDERSAGA_CODEC_KEY_FILE       file of the keys; the --codec-key-file
//	                               flag overrides it
//	ORDERSAGA_CODEC_KEYS           the keys themselves, used when no key
//	                               file is set: id=base64key entries
//	                               separated by commas or newlines, the
//	                               last one the newest
//
// With neither, payloads go to Temporal unencrypted.
package connect

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/codec"
)

// DefaultAddress is where `make dev` serves Temporal.
const DefaultAddress = "127.0.0.1:7233"

// Environment variables that configure the payload encryption keys.
const (
	CodecKeyFileEnv = "ORDERSAGA_CODEC_KEY_FILE"
	CodecKeysEnv    = "ORDERSAGA_CODEC_KEYS"
)

// Flags are the connection flags every command accepts; empty means "as
// configured by the profile and the environment".
type Flags struct {
	Address   string
	Namespace string
	APIKey    string
	Profile   string
	// CodecKeyFile is the file of the payload encryption keys.
	CodecKeyFile string
}

// Register adds the connection flags to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	// Not --address as in Temporal's CLI: the starter's place has an
	// --address of its own, the shipping address.
	fs.StringVar(&f.Address, "temporal-address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default "+DefaultAddress+")")
	fs.StringVar(&f.Namespace, "namespace", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
	fs.StringVar(&f.APIKey, "api-key", "", "API key for a secured Temporal, turns TLS on (env TEMPORAL_API_KEY)")
	fs.StringVar(&f.Profile, "profile", "", "profile of the Temporal config file (env TEMPORAL_PROFILE)")
	fs.StringVar(&f.CodecKeyFile, "codec-key-file", "",
		"file of the keys that encrypt payloads in Temporal's history (env "+CodecKeyFileEnv+", or the keys themselves in "+CodecKeysEnv+")")
}

// Options returns the client options: profile, then environment, then
// flags. logger receives the SDK's own logs.
func (f *Flags) Options(logger *slog.Logger) (client.Options, error) {
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{ConfigFileProfile: f.Profile})
	if err != nil {
		return client.Options{}, fmt.Errorf("load Temporal connection settings: %w", err)
	}
	if f.Address != "" {
		profile.Address = f.Address
	}
	if f.Namespace != "" {
		profile.Namespace = f.Namespace
	}
	if f.APIKey != "" {
		profile.APIKey = f.APIKey
	}
	if profile.Address == "" {
		profile.Address = DefaultAddress
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("Temporal connection settings: %w", err)
	}
	if logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(logger)
	}
	c, err := f.Codec()
	if err != nil {
		return client.Options{}, err
	}
	if c != nil {
		encryptPayloads(&opts, c)
	}
	return opts, nil
}

// Codec returns the payload codec of the configured key ring: from the
// --codec-key-file flag, else the file ORDERSAGA_CODEC_KEY_FILE names, else
// the keys in ORDERSAGA_CODEC_KEYS. It returns nil, and no error, when none
// of them is set.
func (f *Flags) Codec() (*codec.Codec, error) {
	if path := cmp.Or(f.CodecKeyFile, os.Getenv(CodecKeyFileEnv)); path != "" {
		return codec.ReadKeyFile(path)
	}
	if keys := os.Getenv(CodecKeysEnv); strings.TrimSpace(keys) != "" {
		return codec.Parse(CodecKeysEnv, keys)
	}
	return nil, nil
}

// encryptPayloads makes the client encrypt every payload it sends and
// decrypt every one it reads, failure messages and stack traces included:
// a failure's message can quote an address.
func encryptPayloads(opts *client.Options, c *codec.Codec) {
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	opts.DataConverter = dc
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// Namespace is the namespace the options will use.
func Namespace(opts client.Options) string {
	if opts.Namespace == "" {
		return client.DefaultNamespace
	}
	return opts.Namespace
}

// Dial connects to Temporal and checks the connection, so that a wrong
// address fails here with a clear message instead of at the first call.
func (f *Flags) Dial(logger *slog.Logger) (client.Client, client.Options, error) {
	opts, err := f.Options(logger)
	if err != nil {
		return nil, opts, err
	}
	c, err := Dial(opts)
	return c, opts, err
}

// Dial connects to Temporal with opts, as Flags.Dial does, for a caller
// that adds to the options (the worker's metrics handler) first.
func Dial(opts client.Options) (client.Client, error) {
	c, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w; is the server running (make dev)?", opts.HostPort, Namespace(opts), err)
	}
	return c, nil
}
