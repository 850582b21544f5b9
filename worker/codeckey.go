package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/codec"
)

// newCodecKeyCommand prints a fresh payload encryption key as a line of a
// key file, for the person who sets up or rotates the key ring.
func newCodecKeyCommand(g *globals) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "codec-key",
		Short: "Print a new random key for encrypting payloads, as a key file line: ID=base64",
		Long: `codec-key prints a new random AES-256 key as one line of a key file, ID=base64.
Append it to the key file (--codec-key-file, ORDERSAGA_CODEC_KEY_FILE) or to
ORDERSAGA_CODEC_KEYS of every worker, starter and codec server. The last key of
the ring encrypts new payloads; every key decrypts, so keep old keys for as long
as histories written with them are kept.`,
		Example: `  worker codec-key >> ordersaga-keys && chmod 600 ordersaga-keys
  export ORDERSAGA_CODEC_KEYS=$(worker codec-key)
  worker codec-key --id 2026-q1`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := codec.NewKey(id)
			if err != nil {
				return fmt.Errorf("make a key: %w", err)
			}
			_, err = fmt.Fprintln(g.stdout, k.Line())
			return err
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the key's ID (default k-<today>-<random>)")
	return cmd
}
