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
package connect

import (
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
)

// DefaultAddress is where `make dev` serves Temporal.
const DefaultAddress = "127.0.0.1:7233"

// Flags are the connection flags every command accepts; empty means "as
// configured by the profile and the environment".
type Flags struct {
	Address   string
	Namespace string
	APIKey    string
	Profile   string
}

// Register adds the connection flags to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	// Not --address as in Temporal's CLI: the starter's place has an
	// --address of its own, the shipping address.
	fs.StringVar(&f.Address, "temporal-address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default "+DefaultAddress+")")
	fs.StringVar(&f.Namespace, "namespace", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
	fs.StringVar(&f.APIKey, "api-key", "", "API key for a secured Temporal, turns TLS on (env TEMPORAL_API_KEY)")
	fs.StringVar(&f.Profile, "profile", "", "profile of the Temporal config file (env TEMPORAL_PROFILE)")
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
	return opts, nil
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
	c, err := client.Dial(opts)
	if err != nil {
		return nil, opts, fmt.Errorf("connect to Temporal at %s (namespace %s): %w; is the server running (make dev)?", opts.HostPort, Namespace(opts), err)
	}
	return c, opts, nil
}
