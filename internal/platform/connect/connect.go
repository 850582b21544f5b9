// Package connect builds the Temporal client that the worker and the starter
// use, configured the way Temporal's own tools are: a config file profile,
// then TEMPORAL_* environment variables, then command-line flags, each
// overriding the one before.
//
// Environment variables read (through go.temporal.io/sdk/contrib/envconfig):
//
//	TEMPORAL_ADDRESS               host:port of the frontend (default 127.0.0.1:7233)
//	TEMPORAL_NAMESPACE             namespace (default "default")
//	TEMPORAL_API_KEY               API key; turns TLS on. The
//	                               --api-key-file flag, a file holding
//	                               the key, overrides it. There is no
//	                               --api-key flag: a flag's value shows
//	                               in the process list
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
//	                               separated by commas or newlines; the
//	                               last one not marked decrypt-only
//	                               encrypts (see internal/codec)
//
// With neither, payloads go to Temporal unencrypted. With either, the
// worker refuses orders whose input arrives unencrypted unless it runs
// with --require-encryption=false (the values decoded here learn whether
// their payload was encrypted: recordEncryption).
//
// A binary adds its client interceptors (Flags.Interceptors), such as the
// Temporal SDK's tracing interceptor when tracing is on; the workers made
// from the client use them too.
package connect

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
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
	// APIKeyFile is the file holding the API key: unlike a flag's value,
	// a file's content does not show in the process list.
	APIKeyFile string
	Profile    string
	// CodecKeyFile is the file of the payload encryption keys.
	CodecKeyFile string
	// Interceptors are added to the client options: the tracing
	// interceptors, when tracing is on.
	Interceptors []interceptor.ClientInterceptor

	apiKey refusedAPIKey
}

// refusedAPIKey is the --api-key flag that Temporal's CLI has, kept so
// that giving it fails with the way to pass the key instead of "unknown
// flag". It drops the value: the key is then held nowhere.
type refusedAPIKey struct{ given bool }

func (r *refusedAPIKey) Set(string) error { r.given = true; return nil }
func (r *refusedAPIKey) String() string   { return "" }
func (r *refusedAPIKey) Type() string     { return "string" }

// errAPIKeyFlag answers --api-key.
var errAPIKeyFlag = errors.New("--api-key puts the API key in the process list: set TEMPORAL_API_KEY, or write the key in a file only you can read and give --api-key-file FILE")

// Register adds the connection flags to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	// Not --address as in Temporal's CLI: the starter's place has an
	// --address of its own, the shipping address.
	fs.StringVar(&f.Address, "temporal-address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default "+DefaultAddress+")")
	fs.StringVar(&f.Namespace, "namespace", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
	fs.StringVar(&f.APIKeyFile, "api-key-file", "",
		"file holding the API key for a secured Temporal, turns TLS on; mode 600 (env TEMPORAL_API_KEY holds the key itself)")
	fs.Var(&f.apiKey, "api-key", "refused: use TEMPORAL_API_KEY or --api-key-file")
	_ = fs.MarkHidden("api-key") // cannot fail: the flag was just added
	fs.StringVar(&f.Profile, "profile", "", "profile of the Temporal config file (env TEMPORAL_PROFILE)")
	fs.StringVar(&f.CodecKeyFile, "codec-key-file", "",
		"file of the keys that encrypt payloads in Temporal's history (env "+CodecKeyFileEnv+", or the keys themselves in "+CodecKeysEnv+")")
}

// Check refuses what the flags can tell is wrong before anything runs:
// --api-key. Every command checks it, also those that never connect, so
// that the key given on a command line is never silently accepted.
func (f *Flags) Check() error {
	if f.apiKey.given {
		return errAPIKeyFlag
	}
	return nil
}

// Options returns the client options: profile, then environment, then
// flags. logger receives the SDK's own logs. f.Interceptors intercept the
// client's calls, and the tasks of workers made from it.
func (f *Flags) Options(logger *slog.Logger) (client.Options, error) {
	if err := f.Check(); err != nil {
		return client.Options{}, err
	}
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
	if f.APIKeyFile != "" {
		if profile.APIKey, err = ReadSecretFile("--api-key-file", f.APIKeyFile); err != nil {
			return client.Options{}, err
		}
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
	opts.Interceptors = append(opts.Interceptors, f.Interceptors...)
	return opts, nil
}

// ReadSecretFile reads the secret that the file path, given by flag (such
// as --api-key-file), holds, trimmed of white space. Like ssh with a
// private key, it refuses a file that other users may read or write, and
// an empty one.
func ReadSecretFile(flag, path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flag, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flag, err)
	}
	if info.IsDir() {
		return "", fmt.Errorf("%s %s is a directory: give the file that holds the secret", flag, path)
	}
	if perm := info.Mode().Perm(); perm&0o007 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("%s %s is open to other users (mode %04o): run chmod 600 %s", flag, path, perm, path)
	}
	b, err := io.ReadAll(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flag, err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%s %s is empty: write the secret in it, or drop the flag", flag, path)
	}
	return secret, nil
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
// a failure's message can quote an address; reading a failure leaves it
// encrypted (keepFailuresSealed). The values it decodes learn whether their
// payload arrived encrypted (recordEncryption), so that a worker that
// requires encryption can refuse an order sent in clear.
func encryptPayloads(opts *client.Options, c *codec.Codec) {
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	opts.DataConverter = recordEncryption(dc)
	opts.FailureConverter = keepFailuresSealed(temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	}))
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
