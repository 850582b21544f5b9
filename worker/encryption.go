package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// RequireEncryptionEnv holds --require-encryption's default.
const RequireEncryptionEnv = "ORDERSAGA_REQUIRE_ENCRYPTION"

// encryptionRequirement is --require-encryption. Left unset, it follows the
// key ring: a worker with keys refuses orders whose input arrived
// unencrypted, so that an order a client sent in clear by mistake does not
// run silently; --require-encryption=false accepts them while clients move
// to encryption.
type encryptionRequirement struct {
	set, required bool
	// from names where the setting came from, for errors: the flag or
	// the environment variable.
	from string
	// envErr is a malformed ORDERSAGA_REQUIRE_ENCRYPTION, refused when the
	// worker runs rather than silently ignored.
	envErr error
}

func (r *encryptionRequirement) register(fs *pflag.FlagSet) {
	if v := os.Getenv(RequireEncryptionEnv); v != "" {
		if err := r.Set(v); err != nil {
			r.envErr = fmt.Errorf("%s=%q: %w", RequireEncryptionEnv, v, err)
		}
		r.from = RequireEncryptionEnv + "=" + v
	}
	fs.VarPF(r, "require-encryption", "",
		"refuse orders whose input arrived unencrypted (default: on when a codec key is configured; "+
			"--require-encryption=false accepts them while clients move to encryption) (env "+RequireEncryptionEnv+")").NoOptDefVal = "true"
}

// Set implements pflag.Value.
func (r *encryptionRequirement) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("use true or false")
	}
	r.set, r.required, r.from = true, v, "--require-encryption="+strconv.FormatBool(v)
	return nil
}

// String implements pflag.Value: empty while unset, so that the help shows
// no default beside the one the usage explains.
func (r *encryptionRequirement) String() string {
	if !r.set {
		return ""
	}
	return strconv.FormatBool(r.required)
}

// Type implements pflag.Value: a bool, so that --require-encryption alone
// means true.
func (r *encryptionRequirement) Type() string { return "bool" }

// resolve says whether the worker refuses orders sent in clear, given
// whether it has a key ring: what was asked, or else whether it has one.
// Asking for it without a key ring is refused: the worker could read no
// order but plaintext ones, and would refuse them all.
func (r encryptionRequirement) resolve(haveKeys bool) (bool, error) {
	switch {
	case r.envErr != nil:
		return false, r.envErr
	case !r.set:
		return haveKeys, nil
	case r.required && !haveKeys:
		return false, fmt.Errorf("%s needs the workers' key ring: give --codec-key-file, %s or %s, or drop it",
			r.from, connect.CodecKeyFileEnv, connect.CodecKeysEnv)
	}
	return r.required, nil
}

// requireEncryption resolves --require-encryption against the key ring
// that the connection flags configure.
func requireEncryption(g *globals, r encryptionRequirement) (bool, error) {
	keys, err := g.conn.Codec()
	if err != nil {
		return false, err
	}
	return r.resolve(keys != nil)
}

// plaintextOrders says, for the worker's first log line, what it does with
// an order whose input arrived unencrypted.
func plaintextOrders(required bool) string {
	if required {
		return "refused: orders must arrive encrypted (--require-encryption=false accepts them)"
	}
	return "accepted"
}
