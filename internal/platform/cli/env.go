// Package cli is what the worker and the starter share on the command
// line: flag defaults read from the environment, the one-line error each
// prints when it fails, and the -o/--output choice between text for people
// and JSON for scripts.
package cli

import "os"

// EnvOr returns the environment variable name, or def when it is unset or
// empty: an empty variable counts as unset, so that `NAME= cmd` falls back
// to the default rather than to an empty setting.
func EnvOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
